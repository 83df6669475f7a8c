//! Supervision (多元监督): entries filed by overseers, the course each runs to closure, who
//! may take each step, when an entry is overdue, and the tracking codes of public reports.
//!
//! The course: SUBMITTED → ACCEPTED (a responsible unit and a due date) or REJECTED (final);
//! ACCEPTED → RECTIFYING (a plan) → RESOLVED (a resolution and evidence) → CLOSED (a review
//! note); a RESOLVED or CLOSED entry may be reopened to RECTIFYING. Comments may be added in
//! any state and change nothing.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    access::{Caller, Role},
    list,
    region::RegionPath,
    text,
};
use crate::error::Error;

numbered!(
    /// Who oversees.
    Party, "SUPERVISION_PARTY_", {
        /// 政府部门.
        GovernmentAgency = 1, "GOVERNMENT_AGENCY";
        /// 审计机关.
        AuditOffice = 2, "AUDIT_OFFICE";
        /// 人大代表、政协委员.
        Legislature = 3, "LEGISLATURE";
        /// 新闻媒体.
        Media = 4, "MEDIA";
        /// 社会公众: the only party an anonymous caller may file as.
        Public = 5, "PUBLIC";
        /// 第三方评估机构.
        ThirdPartyEvaluator = 6, "THIRD_PARTY_EVALUATOR";
    }
);

numbered!(
    /// What an entry is about.
    Category, "SUPERVISION_CATEGORY_", {
        /// Water quality.
        WaterQuality = 1, "WATER_QUALITY";
        /// Pollution.
        Pollution = 2, "POLLUTION";
        /// Funds used against their purpose.
        FundMisuse = 3, "FUND_MISUSE";
        /// Work behind schedule.
        ProgressDelay = 4, "PROGRESS_DELAY";
        /// Poor construction.
        ConstructionQuality = 5, "CONSTRUCTION_QUALITY";
        /// Integrity of officials.
        Integrity = 6, "INTEGRITY";
        /// Anything else.
        Other = 7, "OTHER";
    }
);

numbered!(
    /// How serious an entry is.
    Severity, "SUPERVISION_SEVERITY_", {
        /// Low.
        Low = 1, "LOW";
        /// Medium.
        Medium = 2, "MEDIUM";
        /// High.
        High = 3, "HIGH";
        /// Critical.
        Critical = 4, "CRITICAL";
    }
);

numbered!(
    /// Where an entry stands.
    State, "SUPERVISION_STATE_", {
        /// Filed, not yet looked at.
        Submitted = 1, "SUBMITTED";
        /// Taken up, with a responsible unit and a due date.
        Accepted = 2, "ACCEPTED";
        /// Turned down; final.
        Rejected = 3, "REJECTED";
        /// Being put right (整改).
        Rectifying = 4, "RECTIFYING";
        /// Put right (办结), awaiting review.
        Resolved = 5, "RESOLVED";
        /// Reviewed and closed.
        Closed = 6, "CLOSED";
    }
);

numbered!(
    /// One event on an entry's timeline.
    Step, "SUPERVISION_STEP_", {
        /// Filing → SUBMITTED.
        Submit = 1, "SUBMIT";
        /// SUBMITTED → ACCEPTED.
        Accept = 2, "ACCEPT";
        /// SUBMITTED → REJECTED.
        Reject = 3, "REJECT";
        /// ACCEPTED → RECTIFYING.
        StartRectification = 4, "START_RECTIFICATION";
        /// RECTIFYING → RESOLVED.
        Resolve = 5, "RESOLVE";
        /// RESOLVED → CLOSED.
        Close = 6, "CLOSE";
        /// RESOLVED or CLOSED → RECTIFYING.
        Reopen = 7, "REOPEN";
        /// A note; the state stays.
        Comment = 8, "COMMENT";
        /// A water sample on the entry's section while it is open; the state stays.
        WaterSample = 9, "WATER_SAMPLE";
    }
);

impl State {
    /// Whether the matter is settled: resolved or closed (and so never overdue).
    pub fn is_settled(self) -> bool {
        matches!(self, State::Resolved | State::Closed)
    }

    /// Whether the matter is still open: neither settled nor rejected. A section's
    /// exceedances add to its open automatic entry rather than file another.
    pub fn is_open(self) -> bool {
        !self.is_settled() && self != State::Rejected
    }
}

impl Step {
    /// The state after taking this step from `from` (`None` before the entry exists).
    ///
    /// # Errors
    /// FAILED_PRECONDITION `ILLEGAL_STATE_TRANSITION` for a step the state does not allow.
    pub fn apply(self, from: Option<State>) -> Result<State, Error> {
        use State as S;
        let to = match (self, from) {
            (Step::Submit, None) => Some(S::Submitted),
            (Step::Accept, Some(S::Submitted)) => Some(S::Accepted),
            (Step::Reject, Some(S::Submitted)) => Some(S::Rejected),
            (Step::StartRectification, Some(S::Accepted)) => Some(S::Rectifying),
            (Step::Resolve, Some(S::Rectifying)) => Some(S::Resolved),
            (Step::Close, Some(S::Resolved)) => Some(S::Closed),
            (Step::Reopen, Some(S::Resolved | S::Closed)) => Some(S::Rectifying),
            (Step::Comment, Some(state)) => Some(state),
            (Step::WaterSample, Some(state)) if state.is_open() => Some(state),
            _ => None,
        };
        to.ok_or_else(|| {
            let from_word = from.map_or("none", State::word);
            Error::FailedPrecondition {
                reason: "ILLEGAL_STATE_TRANSITION",
                message: format!(
                    "{} is not allowed from state {from_word}",
                    self.word().to_lowercase().replace('_', " ")
                ),
                metadata: vec![("state", from_word.to_owned())],
            }
        })
    }

    /// Checks that `caller` (`None`: anonymous) may take this step on an entry in
    /// `region` filed by `party`. Comments are for those in the entry's course: ADMIN, a
    /// SUPERVISOR, and a COORDINATOR whose scope covers the region.
    ///
    /// # Errors
    /// UNAUTHENTICATED for an anonymous caller where a token is needed; PERMISSION_DENIED
    /// `ROLE_NOT_ALLOWED` for a role the step is not for, `OUTSIDE_SCOPE` for a
    /// COORDINATOR whose scope does not cover the region, `PARTY_NOT_ALLOWED` for an
    /// anonymous filing as anything but the public.
    pub fn allowed(
        self,
        caller: Option<&Caller>,
        party: Party,
        region: &RegionPath,
    ) -> Result<(), Error> {
        let Some(caller) = caller else {
            return match (self, party) {
                (Step::Submit, Party::Public) => Ok(()),
                (Step::Submit, _) => Err(Error::PermissionDenied {
                    reason: "PARTY_NOT_ALLOWED",
                    message: "an anonymous report is filed as the public (PUBLIC) only".to_owned(),
                }),
                _ => Err(Error::Unauthenticated {
                    reason: "TOKEN_MISSING",
                    message: "this step needs a token: send \"authorization: Bearer dk_…\""
                        .to_owned(),
                }),
            };
        };
        let roles: &[Role] = match self {
            Step::Submit | Step::Accept | Step::Reject | Step::Close | Step::Reopen => {
                &[Role::Admin, Role::Supervisor]
            }
            Step::StartRectification | Step::Resolve => &[Role::Admin, Role::Coordinator],
            Step::Comment => &[Role::Admin, Role::Supervisor, Role::Coordinator],
            Step::WaterSample => &[Role::Admin, Role::Monitor],
        };
        if !roles.contains(&caller.role) {
            return Err(Error::PermissionDenied {
                reason: "ROLE_NOT_ALLOWED",
                message: format!(
                    "the role {} may not {}",
                    caller.role.word(),
                    self.word().to_lowercase().replace('_', " ")
                ),
            });
        }
        let scoped = matches!(
            self,
            Step::StartRectification | Step::Resolve | Step::Comment
        ) && caller.role == Role::Coordinator;
        if scoped && !caller.scope.covers(region) {
            return Err(Error::PermissionDenied {
                reason: "OUTSIDE_SCOPE",
                message: "the entry's region lies outside the regions of the caller's token"
                    .to_owned(),
            });
        }
        Ok(())
    }
}

/// The most evidence items one step carries.
pub const MAX_EVIDENCE: usize = 20;

/// One item of evidence: where it is kept, its hash, what it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// An absolute URI.
    pub uri: String,
    /// Lower-case hex SHA-256 of the content, or empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// What it shows.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

impl Evidence {
    /// Checks a list of (uri, sha256, description) under `field`. A link is `https://`, or
    /// `http://` when `http` allows it: never a local file or another scheme that would send
    /// whoever follows it somewhere the record cannot vouch for.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming every bad item, as `{field}[i].uri` and so on.
    pub fn parse_list(
        field: &str,
        items: &[(&str, &str, &str)],
        http: bool,
    ) -> Result<Vec<Self>, Error> {
        list::read(
            field,
            items,
            MAX_EVIDENCE,
            "items",
            |at, (uri, sha256, description)| {
                let mut checks = Vec::new();
                let uri_field = format!("{at}.uri");
                checks.push(
                    text::check_line(&uri_field, uri, 2000, true).and_then(|()| {
                        let rest = uri
                            .strip_prefix("https://")
                            .or_else(|| uri.strip_prefix("http://").filter(|_| http));
                        match rest {
                            Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
                            _ if http => Err(Error::invalid(
                                &uri_field,
                                "must be an https:// or http:// link, e.g. https://…",
                            )),
                            _ => Err(Error::invalid(
                                &uri_field,
                                "must be an https:// link, e.g. https://…",
                            )),
                        }
                    }),
                );
                let hex = sha256.len() == 64
                    && sha256
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !sha256.is_empty() && !hex {
                    checks.push(Err(Error::invalid(
                        format!("{at}.sha256"),
                        "must be 64 lower-case hex digits",
                    )));
                }
                checks.push(text::check(
                    &format!("{at}.description"),
                    description,
                    1000,
                    false,
                ));
                Error::collect(checks)?;
                Ok(Self {
                    uri: (*uri).to_owned(),
                    sha256: (*sha256).to_owned(),
                    description: (*description).to_owned(),
                })
            },
        )
    }

    /// The stored form of a list.
    pub fn store_list(items: &[Self]) -> String {
        list::store(items)
    }

    /// A stored list.
    ///
    /// # Errors
    /// INTERNAL for stored text that is not an evidence list.
    pub fn load_list(stored: &str) -> Result<Vec<Self>, Error> {
        list::load(stored, "stored evidence does not read back")
    }
}

/// China Standard Time, in which civil dates are read.
fn china() -> FixedOffset {
    const EIGHT_HOURS: i32 = 8 * 3600;
    // Within the ±24 h chrono accepts, so the fallback is never taken.
    FixedOffset::east_opt(EIGHT_HOURS).unwrap_or(FixedOffset::east_opt(0).expect("UTC"))
}

/// The civil date in China at `now`.
pub fn today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&china()).date_naive()
}

/// Whether an entry is overdue at `now`: its due date has passed (in China) and it is
/// neither resolved nor closed. A rejected entry, or one without a due date, never is.
pub fn is_overdue(state: State, due: Option<NaiveDate>, now: DateTime<Utc>) -> bool {
    match due {
        Some(due) => state != State::Rejected && !state.is_settled() && due < today(now),
        None => false,
    }
}

/// Whether a resolution at `resolved` met the due date `due`: it came no later than the
/// end of that day in China.
pub fn on_time(resolved: DateTime<Utc>, due: NaiveDate) -> bool {
    today(resolved) <= due
}

/// The instants a calendar year in China runs between: from its first midnight (UTC+8),
/// up to but not including the next year's.
pub fn year_bounds(year: i32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = |y: i32| {
        NaiveDate::from_ymd_opt(y, 1, 1)?
            .and_hms_opt(0, 0, 0)?
            .and_local_timezone(china())
            .single()
            .map(|t| t.with_timezone(&Utc))
    };
    Some((start(year)?, start(year + 1)?))
}

/// The median of `values` sorted ascending: the middle one, or the mean of the middle two;
/// `None` for none.
pub fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Crockford's base-32 alphabet: no I, L, O or U, so codes read aloud survive.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A tracking code of a public report: 100 random bits, written as four groups of five
/// base-32 characters, e.g. `7KQ2M-X9D4T-PH3RW-C8VNB`. Only its hash is stored.
pub struct TrackingCode(String);

impl TrackingCode {
    /// A fresh random code.
    ///
    /// # Errors
    /// INTERNAL when the system has no randomness to give.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = [0u8; 20];
        getrandom::fill(&mut bytes)
            .map_err(|e| anyhow::anyhow!("no randomness for a tracking code: {e}"))?;
        // Twenty characters of five bits each: the low five bits of twenty random bytes.
        let chars: Vec<char> = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
            .collect();
        let groups: Vec<String> = chars.chunks(5).map(|c| c.iter().collect()).collect();
        Ok(Self(groups.join("-")))
    }

    /// The code as the reporter gets it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stored hash of a code as typed: case and hyphens do not matter, and the letters
    /// Crockford reads as digits (O, I, L) count as those digits.
    pub fn hash_of(typed: &str) -> String {
        let canonical: String = typed
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            })
            .collect();
        crate::domain::secret::hex(&Sha256::digest(canonical.as_bytes()))
    }

    /// The stored hash of this code.
    pub fn hash(&self) -> String {
        Self::hash_of(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::access::Scope;

    fn caller(role: Role, scope: &[&str]) -> Caller {
        Caller {
            token_id: 1,
            label: "test".to_owned(),
            role,
            scope: if scope.is_empty() {
                Scope::Everywhere
            } else {
                Scope::Within(
                    scope
                        .iter()
                        .map(|p| RegionPath::from_stored((*p).to_owned()))
                        .collect(),
                )
            },
        }
    }

    const DANJIANGKOU: &str = "/420000/420300/420381/";

    fn reason(e: Error) -> &'static str {
        match e {
            Error::PermissionDenied { reason, .. }
            | Error::Unauthenticated { reason, .. }
            | Error::FailedPrecondition { reason, .. } => reason,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn each_state_allows_exactly_its_steps() {
        use State as S;
        let states = [None]
            .into_iter()
            .chain(S::ALL.iter().copied().map(Some))
            .collect::<Vec<_>>();
        let allowed = [
            (Step::Submit, None, S::Submitted),
            (Step::Accept, Some(S::Submitted), S::Accepted),
            (Step::Reject, Some(S::Submitted), S::Rejected),
            (Step::StartRectification, Some(S::Accepted), S::Rectifying),
            (Step::Resolve, Some(S::Rectifying), S::Resolved),
            (Step::Close, Some(S::Resolved), S::Closed),
            (Step::Reopen, Some(S::Resolved), S::Rectifying),
            (Step::Reopen, Some(S::Closed), S::Rectifying),
        ];
        for &step in Step::ALL {
            for &from in &states {
                let expected = if step == Step::Comment {
                    from
                } else if step == Step::WaterSample {
                    // Only an open entry takes a sample's note.
                    from.filter(|s| !matches!(s, S::Resolved | S::Closed | S::Rejected))
                } else {
                    allowed
                        .iter()
                        .find(|(s, f, _)| *s == step && *f == from)
                        .map(|(_, _, to)| *to)
                };
                match (step.apply(from), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{step:?} from {from:?}"),
                    (Err(e), None) => assert_eq!(reason(e), "ILLEGAL_STATE_TRANSITION"),
                    (got, want) => panic!("{step:?} from {from:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn each_step_is_for_its_roles_and_rectification_for_the_region_s_coordinator() {
        let region = RegionPath::from_stored(DANJIANGKOU.to_owned());
        let inside = caller(Role::Coordinator, &["/420000/420300/"]);
        let outside = caller(Role::Coordinator, &["/110000/"]);
        for &step in Step::ALL {
            for &role in &Role::ALL {
                let who = caller(role, &[]);
                let outcome = step.allowed(Some(&who), Party::Media, &region);
                let expected = match step {
                    Step::Submit | Step::Accept | Step::Reject | Step::Close | Step::Reopen => {
                        matches!(role, Role::Admin | Role::Supervisor)
                    }
                    Step::StartRectification | Step::Resolve => {
                        matches!(role, Role::Admin | Role::Coordinator)
                    }
                    Step::Comment => {
                        matches!(role, Role::Admin | Role::Supervisor | Role::Coordinator)
                    }
                    Step::WaterSample => matches!(role, Role::Admin | Role::Monitor),
                };
                assert_eq!(outcome.is_ok(), expected, "{step:?} by {role:?}");
                if let Err(e) = outcome {
                    assert_eq!(reason(e), "ROLE_NOT_ALLOWED");
                }
            }
        }
        for step in [Step::StartRectification, Step::Resolve, Step::Comment] {
            step.allowed(Some(&inside), Party::Media, &region).unwrap();
            let refused = step.allowed(Some(&outside), Party::Media, &region);
            assert_eq!(reason(refused.unwrap_err()), "OUTSIDE_SCOPE");
        }
    }

    #[test]
    fn anonymous_callers_only_file_as_the_public() {
        let region = RegionPath::from_stored(DANJIANGKOU.to_owned());
        Step::Submit.allowed(None, Party::Public, &region).unwrap();
        let as_media = Step::Submit.allowed(None, Party::Media, &region);
        assert_eq!(reason(as_media.unwrap_err()), "PARTY_NOT_ALLOWED");
        for &step in &Step::ALL[1..] {
            let refused = step.allowed(None, Party::Public, &region);
            assert_eq!(reason(refused.unwrap_err()), "TOKEN_MISSING", "{step:?}");
        }
    }

    #[test]
    fn an_entry_is_overdue_from_the_day_after_its_due_date_in_china_until_settled() {
        let due = NaiveDate::from_ymd_opt(2025, 6, 30);
        // 2025-06-30 23:59 in Beijing is 15:59 UTC; midnight in Beijing is 16:00 UTC.
        let last_minute = Utc.with_ymd_and_hms(2025, 6, 30, 15, 59, 0).unwrap();
        let next_day = Utc.with_ymd_and_hms(2025, 6, 30, 16, 0, 0).unwrap();
        assert!(!is_overdue(State::Accepted, due, last_minute));
        assert!(is_overdue(State::Accepted, due, next_day));
        assert!(is_overdue(State::Rectifying, due, next_day));
        for settled in [State::Resolved, State::Closed, State::Rejected] {
            assert!(!is_overdue(settled, due, next_day), "{settled:?}");
        }
        assert!(!is_overdue(State::Submitted, None, next_day));
    }

    #[test]
    fn on_time_means_by_the_end_of_the_due_day_in_china_and_years_run_from_beijing_midnight() {
        let due = NaiveDate::from_ymd_opt(2025, 6, 30).unwrap();
        assert!(on_time(
            Utc.with_ymd_and_hms(2025, 6, 30, 15, 59, 59).unwrap(),
            due
        ));
        assert!(!on_time(
            Utc.with_ymd_and_hms(2025, 6, 30, 16, 0, 0).unwrap(),
            due
        ));
        let (from, to) = year_bounds(2025).unwrap();
        assert_eq!(from, Utc.with_ymd_and_hms(2024, 12, 31, 16, 0, 0).unwrap());
        assert_eq!(to, Utc.with_ymd_and_hms(2025, 12, 31, 16, 0, 0).unwrap());
    }

    #[test]
    fn medians_take_the_middle_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[1.0, 2.0, 10.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 4.0, 10.0]), Some(3.0));
    }

    #[test]
    fn evidence_is_checked_item_by_item() {
        let hash = "a".repeat(64);
        let ok = Evidence::parse_list(
            "e",
            &[("https://example.org/photo.jpg", &hash, "排污口照片")],
            false,
        )
        .unwrap();
        assert_eq!(Evidence::load_list(&Evidence::store_list(&ok)).unwrap(), ok);
        let err = Evidence::parse_list(
            "e",
            &[
                ("photo.jpg", "ABC", ""),
                ("https://x", "", &"长".repeat(1001)),
            ],
            false,
        )
        .unwrap_err();
        let Error::InvalidArgument { violations, .. } = err else {
            panic!("expected INVALID_ARGUMENT");
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["e[0].uri", "e[0].sha256", "e[1].description"]);
    }

    #[test]
    fn evidence_links_are_https_or_where_allowed_http() {
        let one = |uri: &str, http: bool| Evidence::parse_list("e", &[(uri, "", "")], http);
        for uri in [
            "file:///etc/passwd",
            "ftp://example.org/a.jpg",
            "javascript://x",
            "https://",
            "https:///etc/passwd",
            "HTTPS://example.org",
        ] {
            assert!(one(uri, true).is_err(), "{uri}");
        }
        assert!(one("http://example.org/a.jpg", false).is_err());
        assert!(one("http://example.org/a.jpg", true).is_ok());
        assert!(one("https://example.org/a.jpg", false).is_ok());
    }

    #[test]
    fn tracking_codes_are_random_readable_and_found_however_typed() {
        let a = TrackingCode::generate().unwrap();
        let b = TrackingCode::generate().unwrap();
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.as_str().len(), 23);
        assert_eq!(a.as_str().matches('-').count(), 3);
        assert!(
            a.as_str()
                .chars()
                .all(|c| c == '-' || ALPHABET.contains(&(c as u8)))
        );
        let typed = a.as_str().to_lowercase().replace('-', " ");
        assert_eq!(TrackingCode::hash_of(&typed), a.hash());
        assert_eq!(
            TrackingCode::hash_of("0O1IL-00000-00000-00000"),
            TrackingCode::hash_of("00111-00000-00000-00000")
        );
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.hash().len(), 64);
    }
}
