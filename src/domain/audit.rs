//! Audit events: who changed what, in a canonical byte form that the Merkle tree hashes.

use std::net::IpAddr;

use chrono::{DateTime, SubsecRound, Utc};

use super::access::{Caller, Role};
use crate::error::Error;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The token's id; none for the command line, which works on the database directly.
    pub token_id: Option<i64>,
    /// The token's label, or "command line".
    pub label: String,
    /// The token's role; none for the command line.
    pub role: Option<Role>,
}

impl Actor {
    /// The actor behind an authenticated call.
    pub fn of(caller: &Caller) -> Self {
        Self {
            token_id: Some(caller.token_id),
            label: caller.label.clone(),
            role: Some(caller.role),
        }
    }

    /// A member of the public calling without a token.
    pub fn public() -> Self {
        Self {
            token_id: None,
            label: "public".to_owned(),
            role: None,
        }
    }

    /// The server itself, working on behalf of other calls.
    pub fn server() -> Self {
        Self {
            token_id: None,
            label: "server".to_owned(),
            role: None,
        }
    }

    /// An operator at the command line, working on the database directly.
    pub fn command_line() -> Self {
        Self {
            token_id: None,
            label: "command line".to_owned(),
            role: None,
        }
    }
}

/// One call of a method: who makes it, which method it is, and from which address when it
/// came over a network. Every write runs as one, and its audit events and request ids name
/// the first two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    caller: Option<Caller>,
    actor: Actor,
    method: &'static str,
    peer: Option<IpAddr>,
}

impl Call {
    /// A call of `method` by `caller`, or by the public when there is none.
    pub fn new(caller: Option<Caller>, method: &'static str) -> Self {
        let actor = caller.as_ref().map_or_else(Actor::public, Actor::of);
        Self {
            caller,
            actor,
            method,
            peer: None,
        }
    }

    /// A command an operator runs at the command line, on the database directly.
    pub fn command_line(command: &'static str) -> Self {
        Self {
            caller: None,
            actor: Actor::command_line(),
            method: command,
            peer: None,
        }
    }

    /// Work the server does on behalf of other calls, such as posting a batch of ledger
    /// lines; its transaction records each event in the name of the call it serves.
    pub fn internal(task: &'static str) -> Self {
        Self {
            caller: None,
            actor: Actor::server(),
            method: task,
            peer: None,
        }
    }

    /// The call as made from `peer`, the client's address.
    pub fn from_peer(self, peer: Option<IpAddr>) -> Self {
        Self { peer, ..self }
    }

    /// The client's address, when the call came over a network.
    pub fn peer(&self) -> Option<IpAddr> {
        self.peer
    }

    /// The authenticated caller, if there is one.
    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    /// The authenticated caller.
    ///
    /// # Errors
    /// UNAUTHENTICATED when the call carries no token.
    pub fn authenticated(&self) -> Result<&Caller, Error> {
        self.caller.as_ref().ok_or_else(|| Error::Unauthenticated {
            reason: "TOKEN_MISSING",
            message: "this method needs a token".to_owned(),
        })
    }

    /// Who the audit log names for this call.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The method's full path, e.g. `/duikou.v1.PairingService/CreatePairing`, or the
    /// command.
    pub fn method(&self) -> &'static str {
        self.method
    }
}

/// A resource as the audit log sees it after a change: its name, and the SHA-256 of its
/// published form. The API layer, which owns that form, implements this for each stored
/// resource, so that the use cases can record events without knowing the wire.
pub trait Audited {
    /// The resource's name, e.g. `pairings/7`.
    fn audit_name(&self) -> String;
    /// Lower-case hex SHA-256 of the resource as it stands.
    fn audit_digest(&self) -> String;
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// 1, 2, 3, … without gaps.
    pub seq: i64,
    /// When the change was made, to the microsecond (what both databases keep).
    pub time: DateTime<Utc>,
    /// Who made it.
    pub actor: Actor,
    /// The RPC or command, e.g. `/duikou.v1.PairingService/CreatePairing`.
    pub method: String,
    /// The changed resource's name, e.g. `pairings/7`.
    pub resource: String,
    /// The request id, or empty.
    pub request_id: String,
    /// Hex SHA-256 of the resource as it stood after the change.
    pub resource_sha256: String,
}

impl AuditEvent {
    /// The time as stored: truncated to microseconds.
    pub fn stored_time(time: DateTime<Utc>) -> DateTime<Utc> {
        time.trunc_subsecs(6)
    }

    /// The bytes the Merkle leaf hashes: each field in this order, as a 4-byte big-endian
    /// length and then its UTF-8 text — seq (decimal), time (RFC 3339, UTC, microseconds,
    /// `Z`), actor token id (decimal, or empty), actor label, actor role (number, or
    /// empty), method, resource, request id, resource SHA-256 (lower-case hex).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let fields = [
            self.seq.to_string(),
            self.time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            self.actor
                .token_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            self.actor.label.clone(),
            self.actor
                .role
                .map(|r| r.number().to_string())
                .unwrap_or_default(),
            self.method.clone(),
            self.resource.clone(),
            self.request_id.clone(),
            self.resource_sha256.clone(),
        ];
        let mut bytes = Vec::with_capacity(fields.iter().map(|f| f.len() + 4).sum());
        for field in fields {
            bytes.extend_from_slice(&(field.len() as u32).to_be_bytes());
            bytes.extend_from_slice(field.as_bytes());
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> AuditEvent {
        AuditEvent {
            seq: 1,
            time: DateTime::parse_from_rfc3339("2026-11-30T05:00:00.123456789Z")
                .unwrap()
                .with_timezone(&Utc),
            actor: Actor::command_line(),
            method: "token create".into(),
            resource: "accessTokens/1".into(),
            request_id: String::new(),
            resource_sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn the_canonical_form_is_length_prefixed_and_microsecond_precise() {
        let bytes = event().canonical_bytes();
        assert_eq!(&bytes[..5], &[0, 0, 0, 1, b'1']);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("2026-11-30T05:00:00.123456Z"), "{text}");
    }

    #[test]
    fn any_field_change_changes_the_bytes() {
        let base = event().canonical_bytes();
        let mut moved = event();
        moved.resource = "accessTokens/2".into();
        let mut shifted = event();
        shifted.actor.label = "command lin".into();
        shifted.method = "etoken create".into();
        assert_ne!(moved.canonical_bytes(), base);
        assert_ne!(shifted.canonical_bytes(), base);
    }
}

/// The typed query of `ListAuditEvents`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// `resource = "pairings/7"`.
    pub resource: Option<String>,
    /// `actor = "accessTokens/3"`.
    pub actor_token_id: Option<i64>,
    /// `method = "/duikou.v1.PairingService/CreatePairing"`.
    pub method: Option<String>,
    /// `time >= …` or `time > …`: events from this time on (the bound as given).
    pub from: Option<(DateTime<Utc>, bool)>,
    /// `time < …` or `time <= …`: events before this time (the bound as given).
    pub until: Option<(DateTime<Utc>, bool)>,
}

impl AuditFilter {
    /// Parses the `filter` of a `ListAuditEvents` request.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `filter` naming the condition at fault.
    pub fn parse(text: &str) -> Result<Self, crate::error::Error> {
        use super::filter::{self, Operator};
        let conditions = filter::parse(text)?;
        let mut query = Self::default();
        for c in &conditions {
            match c.field.as_str() {
                "resource" => {
                    c.equals_only()?;
                    query.resource = Some(c.value.clone());
                }
                "method" => {
                    c.equals_only()?;
                    query.method = Some(c.value.clone());
                }
                "actor" => {
                    c.equals_only()?;
                    query.actor_token_id = Some(
                        super::name::parse_id("filter", "accessTokens", &c.value)
                            .map_err(|_| c.error("expects a name like \"accessTokens/3\""))?,
                    );
                }
                "time" => {
                    let time = DateTime::parse_from_rfc3339(&c.value)
                        .map_err(|_| {
                            c.error("expects an RFC 3339 time like \"2026-01-01T00:00:00Z\"")
                        })?
                        .with_timezone(&Utc);
                    let (slot, inclusive) = match c.operator {
                        Operator::AtLeast => (&mut query.from, true),
                        Operator::Greater => (&mut query.from, false),
                        Operator::Less => (&mut query.until, false),
                        Operator::AtMost => (&mut query.until, true),
                        _ => return Err(c.error("supports '<', '<=', '>' and '>='")),
                    };
                    if slot.replace((time, inclusive)).is_some() {
                        return Err(c.error("bounds time twice on the same side"));
                    }
                }
                _ => {
                    return Err(
                        c.error("is not a filter field; use resource, actor, method or time")
                    );
                }
            }
        }
        Ok(query)
    }
}
