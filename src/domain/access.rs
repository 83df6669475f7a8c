//! Who is calling: roles, region scopes, and bearer secrets.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{
    Numbered,
    region::{RegionCode, RegionPath},
};
use crate::error::Error;

/// What a caller may do; the numbers are those stored and sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i16)]
pub enum Role {
    /// Everything, including tokens and regions.
    Admin = 1,
    /// Programs and pairings, and what hangs off them, inside its scope.
    Coordinator = 2,
    /// Fund transactions inside its scope.
    FundOfficer = 3,
    /// Files and rules on supervision entries.
    Supervisor = 4,
    /// Reads everything; changes nothing.
    Auditor = 5,
    /// Records and retracts water samples of the sections inside its scope.
    Monitor = 6,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Coordinator,
        Role::FundOfficer,
        Role::Supervisor,
        Role::Auditor,
        Role::Monitor,
    ];

    /// The role with this number.
    pub fn from_number(n: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.number() == n)
    }

    /// The role by name: `ADMIN`, `ROLE_ADMIN` or `admin`.
    pub fn from_word(word: &str) -> Option<Self> {
        let upper = word.to_ascii_uppercase();
        match upper.strip_prefix("ROLE_").unwrap_or(&upper) {
            "ADMIN" => Some(Self::Admin),
            "COORDINATOR" => Some(Self::Coordinator),
            "FUND_OFFICER" => Some(Self::FundOfficer),
            "SUPERVISOR" => Some(Self::Supervisor),
            "AUDITOR" => Some(Self::Auditor),
            "MONITOR" => Some(Self::Monitor),
            _ => None,
        }
    }

    /// The number stored and sent.
    pub fn number(self) -> i32 {
        self as i32
    }

    /// The name, as in `ROLE_ADMIN` without its prefix.
    pub fn word(self) -> &'static str {
        match self {
            Self::Admin => "ADMIN",
            Self::Coordinator => "COORDINATOR",
            Self::FundOfficer => "FUND_OFFICER",
            Self::Supervisor => "SUPERVISOR",
            Self::Auditor => "AUDITOR",
            Self::Monitor => "MONITOR",
        }
    }
}

impl Role {
    /// Whether a regional scope limits the role. A COORDINATOR, a FUND_OFFICER and a
    /// MONITOR act inside their scope; an ADMIN, a SUPERVISOR and an AUDITOR act on, or
    /// read, every region, so a token of theirs carries no scope: one that named a region
    /// would promise a limit that nothing enforces.
    pub fn takes_scope(self) -> bool {
        matches!(self, Self::Coordinator | Self::FundOfficer | Self::Monitor)
    }
}

/// The most regions one token's scope names.
pub const MAX_SCOPES: usize = 50;

/// Checks the scope of a new token of `role`, sent in `field`: none for a role that takes
/// no scope; else each region once, and at most [`MAX_SCOPES`].
///
/// # Errors
/// INVALID_ARGUMENT naming `field`.
pub fn check_scope(role: Role, field: &str, scopes: &[RegionCode]) -> Result<(), Error> {
    if !scopes.is_empty() && !role.takes_scope() {
        return Err(Error::invalid(
            field,
            format!(
                "must be empty for a {} token: the role acts on every region, so only \
                 COORDINATOR, FUND_OFFICER and MONITOR tokens take a scope",
                role.word()
            ),
        ));
    }
    if scopes.len() > MAX_SCOPES {
        return Err(Error::invalid(
            field,
            format!("must name at most {MAX_SCOPES} regions"),
        ));
    }
    for (i, code) in scopes.iter().enumerate() {
        if scopes[..i].contains(code) {
            return Err(Error::invalid(
                field,
                format!("names {} more than once", code.name()),
            ));
        }
    }
    Ok(())
}

impl Numbered for Role {
    const ALL: &'static [Self] = &Self::ALL;

    fn to_i16(self) -> i16 {
        self as i16
    }
}

/// The regions a caller may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// No limit.
    Everywhere,
    /// These regions and everything inside them.
    Within(Vec<RegionPath>),
}

impl Scope {
    /// True when the region at `path` lies inside the scope.
    pub fn covers(&self, path: &RegionPath) -> bool {
        match self {
            Self::Everywhere => true,
            Self::Within(roots) => roots.iter().any(|root| path.is_within(root)),
        }
    }

    /// True when the scope has no limit.
    pub fn is_everywhere(&self) -> bool {
        matches!(self, Self::Everywhere)
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's id.
    pub token_id: i64,
    /// The token's label.
    pub label: String,
    /// The token's role.
    pub role: Role,
    /// The token's scope.
    pub scope: Scope,
}

/// The error for an object outside the caller's scope, or one the caller cannot be shown.
pub fn outside_scope() -> Error {
    Error::PermissionDenied {
        reason: "OUTSIDE_SCOPE",
        message: "the object lies outside the regions of the caller's token".to_owned(),
    }
}

/// True when the caller may act on every region: an ADMIN, or a token without a scope.
pub fn unrestricted(caller: &Caller) -> bool {
    caller.role == Role::Admin || caller.scope.is_everywhere()
}

/// Checks that every region in `paths` lies inside the caller's scope.
///
/// # Errors
/// PERMISSION_DENIED `OUTSIDE_SCOPE`.
pub fn require_scope(caller: &Caller, paths: &[&RegionPath]) -> Result<(), Error> {
    if unrestricted(caller) || paths.iter().all(|p| caller.scope.covers(p)) {
        Ok(())
    } else {
        Err(outside_scope())
    }
}

/// Checks that the caller has no regional limit, for objects that belong to no region
/// (programs, the national region list).
///
/// # Errors
/// PERMISSION_DENIED `OUTSIDE_SCOPE`.
pub fn require_everywhere(caller: &Caller) -> Result<(), Error> {
    if unrestricted(caller) {
        Ok(())
    } else {
        Err(Error::PermissionDenied {
            reason: "OUTSIDE_SCOPE",
            message: "only a token without a regional scope may do this".to_owned(),
        })
    }
}

/// The prefix of every secret, so that leaked ones are easy to recognise.
const PREFIX: &str = "dk_";

/// A bearer secret as sent: `dk_{token id}_{random part}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    /// The token it claims to be.
    pub token_id: i64,
    random: String,
}

impl Bearer {
    /// Reads an `authorization` header value, `Bearer dk_…`.
    ///
    /// # Errors
    /// UNAUTHENTICATED-worthy: `None` when the value is not of that shape.
    pub fn parse(header: &str) -> Option<Self> {
        let secret = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))?
            .trim();
        let rest = secret.strip_prefix(PREFIX)?;
        let (id, random) = rest.split_once('_')?;
        let token_id = id.parse().ok().filter(|id: &i64| *id > 0)?;
        (random.len() == 43
            && random
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| Self {
            token_id,
            random: random.to_owned(),
        })
    }

    /// True when this secret is the one whose hash is `stored`; takes the same time
    /// whatever the secrets are.
    pub fn matches(&self, stored: &str) -> bool {
        hash_random(&self.random)
            .as_bytes()
            .ct_eq(stored.as_bytes())
            .into()
    }
}

/// A fresh random part of a secret and its stored hash.
///
/// # Errors
/// INTERNAL when the system has no randomness to give.
pub fn new_random() -> Result<(String, String), Error> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for a token secret: {e}"))?;
    let random = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_random(&random);
    Ok((random, hash))
}

/// The secret handed to the holder of token `token_id`.
pub fn secret(token_id: i64, random: &str) -> String {
    format!("{PREFIX}{token_id}_{random}")
}

fn hash_random(random: &str) -> String {
    crate::domain::secret::hex(&Sha256::digest(random.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_coordinators_and_fund_officers_take_a_scope() {
        let shiyan = RegionCode::parse("s", "420300").unwrap();
        let tianjin = RegionCode::parse("s", "120000").unwrap();
        for role in Role::ALL {
            let scoped = check_scope(role, "access_token.scopes", std::slice::from_ref(&shiyan));
            assert_eq!(scoped.is_ok(), role.takes_scope(), "{role:?}");
            assert!(
                check_scope(role, "access_token.scopes", &[]).is_ok(),
                "{role:?}"
            );
        }
        assert!(!Role::Admin.takes_scope() && !Role::Supervisor.takes_scope());
        assert!(!Role::Auditor.takes_scope());
        let twice = [shiyan.clone(), tianjin, shiyan.clone()];
        let err = check_scope(Role::Coordinator, "--scope", &twice).unwrap_err();
        assert!(format!("{err}").contains("more than once"), "{err}");
        let many: Vec<RegionCode> = (0..=MAX_SCOPES)
            .map(|i| RegionCode::parse("s", &format!("{:06}", 110_000 + i)).unwrap())
            .collect();
        assert!(check_scope(Role::FundOfficer, "--scope", &many).is_err());
        assert!(check_scope(Role::FundOfficer, "--scope", &many[..MAX_SCOPES]).is_ok());
    }

    #[test]
    fn a_new_secret_matches_only_its_own_hash() {
        let (random, hash) = new_random().unwrap();
        let bearer = Bearer::parse(&format!("Bearer {}", secret(7, &random))).unwrap();
        let (_, other_hash) = new_random().unwrap();

        assert_eq!(bearer.token_id, 7);
        assert!(bearer.matches(&hash));
        assert!(!bearer.matches(&other_hash));
    }

    #[test]
    fn malformed_headers_are_not_bearers() {
        for bad in [
            "",
            "Bearer",
            "Basic dk_1_x",
            "Bearer dk_x_y",
            "Bearer dk_0_aaaa",
            "Bearer abc",
        ] {
            assert_eq!(Bearer::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_scope_covers_its_subtrees() {
        let hubei = RegionPath::child_of(None, &RegionCode::from_stored("420000".into()));
        let shiyan = RegionPath::child_of(Some(&hubei), &RegionCode::from_stored("420300".into()));
        let beijing = RegionPath::child_of(None, &RegionCode::from_stored("110000".into()));
        let scope = Scope::Within(vec![shiyan.clone()]);

        assert!(scope.covers(&shiyan));
        assert!(!scope.covers(&hubei));
        assert!(!scope.covers(&beijing));
        assert!(Scope::Everywhere.covers(&beijing));
    }

    #[test]
    fn roles_read_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::from_word(role.word()), Some(role));
            assert_eq!(Role::from_number(role.number()), Some(role));
        }
        assert_eq!(Role::from_word("role_auditor"), Some(Role::Auditor));
        assert_eq!(Role::from_word("ROOT"), None);
    }
}
