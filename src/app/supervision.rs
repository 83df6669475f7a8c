//! Supervision entries: filing them (anonymously too, as the public), commenting on them,
//! and taking them through their course. Who may take each step is the rule of
//! `domain::supervision`, checked inside the transaction against the stored entry; every
//! filing, step and comment is one event on the entry's append-only timeline.

use std::net::IpAddr;

use chrono::NaiveDate;

use super::{Create, organization::Link};
use crate::{
    domain::{
        access::{Caller, Role, outside_scope, unrestricted},
        audit::Audited,
        clock::Clock,
        name,
        region::{RegionCode, RegionPath},
        revision::check_etag,
        secret::{Secret, hex},
        supervision::{Category, Evidence, Party, Severity, State, Step, TrackingCode, on_time},
    },
    error::Error,
    store::{
        Hold, by_id, fund,
        pairing::{self as pairings, PairingRow},
        project::{self as projects, ProjectRow},
        region, secret,
        supervision::{
            self as entries, EntryChange, EntryRow, EventRow, NewEntry, NewEvent, Resolution,
        },
        talent::TalentRow,
        tx::{Change, Tx},
        water::SectionRow,
    },
};

/// NOT_FOUND for supervision entry `id`.
pub fn not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "SUPERVISION_ENTRY_NOT_FOUND",
        resource: name::format_id("supervisionEntries", id),
    }
}

/// What a submission says, each field checked.
#[derive(Debug, Clone)]
pub struct Filing {
    /// Who files it.
    pub party: Party,
    /// The subject's name, or empty for an entry about a region alone.
    pub subject: String,
    /// The region sent: required without a subject, else the subject's or none.
    pub region: Option<RegionCode>,
    /// What it is about.
    pub category: Category,
    /// How serious it is.
    pub severity: Severity,
    /// One-line summary.
    pub title: String,
    /// What was found.
    pub description: String,
    /// The evidence filed with it.
    pub evidence: Vec<Evidence>,
    /// The reporter's name: personal data.
    pub reporter_name: String,
    /// The reporter's contact: personal data.
    pub reporter_contact: String,
}

/// A filed entry, with the tracking code of a public report: given once, to the reporter
/// who filed it, and never to a replay.
pub struct Filed {
    /// The entry.
    pub entry: EntryRow,
    /// The tracking code, for a fresh public report.
    pub tracking_code: Option<TrackingCode>,
}

impl Audited for Filed {
    fn audit_name(&self) -> String {
        self.entry.audit_name()
    }

    fn audit_digest(&self) -> String {
        self.entry.audit_digest()
    }
}

/// SubmitSupervisionEntry: a new entry, SUBMITTED, by the caller or by the public. Each
/// public attempt is counted first, apart ([`PublicAttempt`]).
pub struct SubmitEntry {
    /// What the submission says.
    pub filing: Filing,
    /// The time the entry is filed at.
    pub clock: Clock,
}

/// The limit public attempts to file are counted under.
const PUBLIC_REPORTS: &str = "public_reports";

/// The names of the keys client addresses are hashed with, one a day.
const DAY_KEY: &str = "rate_limit:";

/// One attempt of the public (no token) to file an entry, from `address`, counted whether
/// or not the entry is filed: under an HMAC of the address with the key of the day, which
/// is deleted the day after, so that no stored count leads back to an address. Answers the
/// attempts from the address in the last hour, this one included.
pub struct PublicAttempt {
    /// The client's address.
    pub address: Option<IpAddr>,
    /// The time of the attempt.
    pub clock: Clock,
}

impl Change for PublicAttempt {
    type Output = u64;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<u64, Error> {
        let (db, now) = (tx.db(), self.clock.now());
        let today = now.date_naive();
        let yesterday = today.pred_opt().unwrap_or(today);
        let day_key = |day: NaiveDate| format!("{DAY_KEY}{day}");
        let current = secret::get_or_make(db, &day_key(today), now).await?;
        let previous = secret::get(db, &day_key(yesterday)).await?;
        secret::forget_before(db, DAY_KEY, &day_key(yesterday)).await?;
        let counted = counted_address(self.address);
        let keyed = |key: &Secret| hex(&key.mac(&[PUBLIC_REPORTS.as_bytes(), counted.as_bytes()]));
        let key = keyed(&current);
        let keys: Vec<String> = [Some(key.clone()), previous.as_ref().map(keyed)]
            .into_iter()
            .flatten()
            .collect();
        let hour_ago = now - chrono::Duration::hours(1);
        secret::hit(db, PUBLIC_REPORTS, &key, &keys, now, hour_ago).await
    }
}

/// The address an attempt is counted under: an IPv4 address as it is, an IPv6 address by
/// its /64, the block one subscriber is given.
fn counted_address(address: Option<IpAddr>) -> String {
    match address {
        None => "unknown".to_owned(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let block = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", std::net::Ipv6Addr::from(block))
        }
    }
}

/// The refusal of a public attempt past `limit` in the hour.
pub fn over_public_limit(attempts: u64, limit: u32) -> Option<Error> {
    (limit > 0 && attempts > u64::from(limit)).then(|| Error::ResourceExhausted {
        reason: "PUBLIC_REPORT_LIMIT",
        message: format!(
            "this address has tried to file {attempts} reports in the last hour, more than \
             the {limit} allowed; try again later"
        ),
    })
}

impl Create for SubmitEntry {
    type Made = Filed;

    async fn make(&self, tx: &mut Tx<'_>) -> Result<Filed, Error> {
        let (filing, now) = (&self.filing, self.clock.now());
        let place = filing_place(tx, filing).await?;
        let caller = tx.call().caller();
        let tracking = match caller {
            None => Some(TrackingCode::generate()?),
            Some(_) => None,
        };
        let new = NewEntry {
            party: filing.party,
            subject: &filing.subject,
            region_code: place.code,
            region_path: place.path,
            pairing_id: place.pairing_id,
            project_id: place.project_id,
            category: filing.category,
            severity: filing.severity,
            title: &filing.title,
            description: &filing.description,
            evidence: &filing.evidence,
            reporter_name: &filing.reporter_name,
            reporter_contact: &filing.reporter_contact,
            tracking_hash: tracking.as_ref().map(TrackingCode::hash),
            responsible_unit: "",
            responsible_organization_id: None,
            water_section_id: None,
        };
        let row = entries::insert(tx.db(), &new, now).await?;
        let event = NewEvent {
            evidence: filing.evidence.clone(),
            ..event_by(caller, Step::Submit, None, State::Submitted)
        };
        // The timeline's count is not part of the reply: no need to read it back.
        entries::append(tx.db(), &row, event, now).await?;
        Ok(Filed {
            entry: row,
            tracking_code: tracking,
        })
    }

    /// The key is the caller's (or, for the public, the report's own); the API shows the
    /// reporter only as the caller's role allows.
    async fn replay(&self, tx: &mut Tx<'_>, earlier: &str) -> Result<Filed, Error> {
        let id = name::parse_id("request_id", "supervisionEntries", earlier)?;
        let row = by_id::<EntryRow>(tx.db(), id, Hold::Nothing)
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok(Filed {
            entry: row,
            tracking_code: None,
        })
    }
}

/// AddSupervisionComment: a note on an entry's timeline, in any state, by a caller in the
/// entry's course; it changes nothing, and is internal unless marked public.
pub struct AddComment {
    /// The entry's id.
    pub entry_id: i64,
    /// The comment.
    pub text: String,
    /// Whether the public view shows it.
    pub public: bool,
    /// The time the comment is added at.
    pub clock: Clock,
}

impl Create for AddComment {
    type Made = EventRow;

    async fn make(&self, tx: &mut Tx<'_>) -> Result<EventRow, Error> {
        let (id, now) = (self.entry_id, self.clock.now());
        let caller = tx.caller()?;
        let current = in_reach(tx, caller, id, Step::Comment).await?;
        let state = stored_state(&current)?;
        let event = NewEvent {
            note: self.text.clone(),
            public: self.public,
            ..event_by(Some(caller), Step::Comment, Some(state), state)
        };
        entries::append(tx.db(), &current, event, now).await
    }

    async fn replay(&self, tx: &mut Tx<'_>, earlier: &str) -> Result<EventRow, Error> {
        let seq = earlier
            .rsplit('/')
            .next()
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or_else(|| anyhow::anyhow!("a stored event name is damaged"))?;
        entries::events(tx.db(), self.entry_id, Some(seq - 1), 1)
            .await?
            .pop()
            .ok_or_else(|| not_found(self.entry_id))
    }
}

/// What a step writes besides the state: the event's note, and what it sets on the entry.
#[derive(Debug, Clone, Default)]
pub struct StepInput {
    /// The event's text: the reason, plan, resolution or review note.
    pub note: String,
    /// On acceptance, the responsible unit, in words; empty to take the organisation's
    /// name.
    pub responsible_unit: Option<String>,
    /// On acceptance, the registered organisation that must fix it, if one is named.
    pub responsible_organization_id: Option<i64>,
    /// On acceptance or reopening, a new due date.
    pub due_date: Option<NaiveDate>,
    /// On resolution, the evidence of it, added to the entry's.
    pub evidence: Vec<Evidence>,
}

/// AcceptSupervisionEntry, RejectSupervisionEntry, StartRectification,
/// ResolveSupervisionEntry, CloseSupervisionEntry and ReopenSupervisionEntry: one step of
/// an entry's course, by a caller the step is for.
pub struct StepEntry {
    /// The entry's id.
    pub id: i64,
    /// The etag the caller read, or empty.
    pub etag: String,
    /// The step.
    pub step: Step,
    /// What it writes.
    pub input: StepInput,
    /// The time the step is taken at.
    pub clock: Clock,
}

impl Change for StepEntry {
    type Output = EntryRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<EntryRow, Error> {
        let (step, input, now) = (self.step, &self.input, self.clock.now());
        let caller = tx.caller()?;
        let current = in_reach(tx, caller, self.id, step).await?;
        check_etag(&self.etag, current.revision)?;
        let from = stored_state(&current)?;
        let to = step.apply(Some(from))?;
        let responsible_unit = match &input.responsible_unit {
            Some(unit) => {
                let link = Link {
                    prefix: "",
                    fields: ("responsible_organization", "responsible_unit"),
                    id: input.responsible_organization_id,
                    words: unit,
                };
                Some(link.words(tx, &[]).await?)
            }
            None => None,
        };
        let mut change = EntryChange {
            state: Some(to),
            responsible_unit: responsible_unit.clone(),
            responsible_organization_id: input
                .responsible_unit
                .is_some()
                .then_some(input.responsible_organization_id),
            due_date: input.due_date,
            ..Default::default()
        };
        if !input.evidence.is_empty() {
            let mut all = Evidence::load_list(&current.evidence)?;
            all.extend(input.evidence.iter().cloned());
            change.evidence = Some(all);
        }
        if step == Step::Resolve {
            change.resolution = Some(Resolution {
                time: now,
                seconds: (now - current.create_time).num_seconds(),
                on_time: current.due_date.map(|due| on_time(now, due)),
            });
        }
        let event = NewEvent {
            note: input.note.clone(),
            responsible_unit: responsible_unit.unwrap_or_default(),
            due_date: input.due_date,
            evidence: input.evidence.clone(),
            ..event_by(Some(caller), step, Some(from), to)
        };
        let row = entries::save(tx.db(), &current, change, now).await?;
        entries::append(tx.db(), &row, event, now).await?;
        tx.record(None, &row);
        Ok(row)
    }
}

/// The event a step leaves, by `caller` (`None`: the public), with no note, unit, due
/// date or evidence.
pub fn event_by(caller: Option<&Caller>, step: Step, from: Option<State>, to: State) -> NewEvent {
    NewEvent {
        actor_role: caller.map(|c| c.role),
        actor_label: caller.map(|c| c.label.clone()).unwrap_or_default(),
        anonymous: caller.is_none(),
        step,
        from_state: from,
        to_state: to,
        note: String::new(),
        responsible_unit: String::new(),
        due_date: None,
        evidence: Vec::new(),
        public: true,
    }
}

/// The state of a stored entry.
///
/// # Errors
/// INTERNAL for a state number the domain does not know.
fn stored_state(row: &EntryRow) -> Result<State, Error> {
    Ok(row.state)
}

/// The entry `id`, locked for change, if `caller` may take `step` on it. Permission comes
/// before existence for a scoped coordinator.
async fn in_reach(tx: &Tx<'_>, caller: &Caller, id: i64, step: Step) -> Result<EntryRow, Error> {
    let Some(row) = by_id::<EntryRow>(tx.db(), id, Hold::Update).await? else {
        return Err(
            if unrestricted(caller) || caller.role != Role::Coordinator {
                not_found(id)
            } else {
                outside_scope()
            },
        );
    };
    step.allowed(
        Some(caller),
        row.party,
        &RegionPath::from_stored(row.region_path.clone()),
    )?;
    Ok(row)
}

/// Where an entry stands: its region, and the pairing and project its subject belongs to.
struct Place {
    code: String,
    path: String,
    pairing_id: Option<i64>,
    project_id: Option<i64>,
}

/// The place of a filing: its subject's, which the region sent (if any) must match, or,
/// without a subject, the region sent.
async fn filing_place(tx: &Tx<'_>, filing: &Filing) -> Result<Place, Error> {
    if filing.subject.is_empty() {
        let code = filing
            .region
            .clone()
            .ok_or_else(|| Error::invalid("supervision_entry.region", "is required"))?;
        let row = region::get(tx.db(), &code).await?.ok_or_else(|| {
            Error::invalid(
                "supervision_entry.region",
                format!("{} does not exist", code.name()),
            )
        })?;
        return Ok(Place {
            code: row.code,
            path: row.path,
            pairing_id: None,
            project_id: None,
        });
    }
    let found = async {
        let place = place_of_subject(tx, &filing.subject).await?;
        if let Some(sent) = &filing.region {
            if sent.as_str() != place.code {
                return Err(Error::invalid(
                    "supervision_entry.region",
                    format!("must be empty or regions/{}, the subject's", place.code),
                ));
            }
        }
        Ok(place)
    };
    if tx.call().caller().is_some() {
        return found.await;
    }
    // The public learns nothing of records it may not read: whether the subject exists,
    // is deleted, or lies elsewhere, the answer is the same.
    found.await.map_err(|e| match e {
        Error::InvalidArgument { .. } => Error::invalid(
            "supervision_entry.subject",
            "names no record a public report can be filed on in the region sent; leave \
             supervision_entry.region empty to file on the subject where it lies, or leave \
             the subject empty to report on a region",
        ),
        other => other,
    })
}

/// The place of an entry about `subject`: a pairing's or talent exchange's supported
/// region, a project's location, a ledger line's project's location (or, for a
/// commitment, its pairing's supported region), a monitoring section's responsible
/// region.
async fn place_of_subject(tx: &Tx<'_>, subject: &str) -> Result<Place, Error> {
    const FIELD: &str = "supervision_entry.subject";
    let db = tx.db();
    let missing = || Error::invalid(FIELD, format!("{subject} does not exist"));
    let deleted = || Error::invalid(FIELD, format!("{subject} is deleted"));
    let (collection, _) = subject
        .split_once('/')
        .ok_or_else(|| Error::invalid(FIELD, SUBJECTS))?;
    let pairing_place = |row: pairings::PairingRow| -> Result<Place, Error> {
        if row.delete_time.is_some() {
            return Err(deleted());
        }
        Ok(Place {
            pairing_id: Some(row.id),
            project_id: None,
            code: row.supported_code,
            path: row.supported_path,
        })
    };
    let project_place = |p: projects::ProjectRow| Place {
        pairing_id: Some(p.pairing_id),
        project_id: Some(p.id),
        code: p.location_code,
        path: p.location_path,
    };
    match collection {
        "pairings" => {
            let id = name::parse_id(FIELD, "pairings", subject)?;
            pairing_place(
                by_id::<PairingRow>(db, id, Hold::Nothing)
                    .await?
                    .ok_or_else(missing)?,
            )
        }
        "projects" => {
            let id = name::parse_id(FIELD, "projects", subject)?;
            Ok(project_place(
                by_id::<ProjectRow>(db, id, Hold::Nothing)
                    .await?
                    .ok_or_else(missing)?,
            ))
        }
        "fundTransactions" => {
            let id = name::parse_id(FIELD, "fundTransactions", subject)?;
            let line = fund::get_many(db, &[id]).await?.pop().ok_or_else(missing)?;
            match line.project_id {
                Some(project) => Ok(project_place(
                    by_id::<ProjectRow>(db, project, Hold::Nothing)
                        .await?
                        .ok_or_else(missing)?,
                )),
                None => {
                    let row = by_id::<PairingRow>(db, line.pairing_id, Hold::Nothing)
                        .await?
                        .ok_or_else(missing)?;
                    Ok(Place {
                        pairing_id: Some(row.id),
                        project_id: None,
                        code: row.supported_code,
                        path: row.supported_path,
                    })
                }
            }
        }
        "talentExchanges" => {
            let id = name::parse_id(FIELD, "talentExchanges", subject)?;
            let t = by_id::<TalentRow>(db, id, Hold::Nothing)
                .await?
                .ok_or_else(missing)?;
            if t.delete_time.is_some() {
                return Err(deleted());
            }
            pairing_place(
                by_id::<PairingRow>(db, t.pairing_id, Hold::Nothing)
                    .await?
                    .ok_or_else(missing)?,
            )
        }
        "monitoringSections" => {
            let id = name::parse_id(FIELD, "monitoringSections", subject)?;
            let s = by_id::<SectionRow>(db, id, Hold::Nothing)
                .await?
                .ok_or_else(missing)?;
            Ok(Place {
                pairing_id: None,
                project_id: None,
                code: s.responsible_code,
                path: s.responsible_path,
            })
        }
        _ => Err(Error::invalid(FIELD, SUBJECTS)),
    }
}

/// What a subject may name.
const SUBJECTS: &str =
    "must name a pairing, project, fund transaction, talent exchange or monitoring section";
