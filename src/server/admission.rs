//! Which requests the server takes on: a duikou request is read whole first, within a
//! short timeout and holding nothing, and only then counted against the limits — the
//! server's concurrency limit, the requests in flight from one client address, and the
//! smaller share of callers without a token. A caller that sends headers and never a body
//! ties up one stream of its own connection, never a permit. Health checks and reflection
//! are never shed.

use std::{net::IpAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{Code, Status, body::Body};

use crate::{
    api::status::status,
    config::ServerSettings,
    limits::{Held, Tally},
};

/// The gRPC frame header before each message: a compression flag and a 4-byte length.
const FRAME_HEADER_BYTES: usize = 5;

/// Who a request is counted against besides the server: its client address, and the
/// callers without a token together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Claimant {
    Address(IpAddr),
    Anonymous,
}

/// The limits requests are taken on under.
#[derive(Clone)]
pub struct Admission {
    permits: Arc<Semaphore>,
    claims: Arc<Tally<Claimant>>,
    per_address: usize,
    anonymous: usize,
    body_timeout: Duration,
    max_body: usize,
}

/// A request taken on: its permit and its claims, given back when it is dropped.
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
    _claims: Held<Claimant, 2>,
}

impl Admission {
    /// The limits of `settings`.
    pub fn new(settings: &ServerSettings) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(settings.concurrency_limit)),
            claims: Tally::new(),
            per_address: settings.max_requests_per_address,
            anonymous: settings.anonymous_concurrency,
            body_timeout: Duration::from_millis(settings.request_body_timeout_ms),
            max_body: settings
                .max_message_bytes
                .saturating_add(FRAME_HEADER_BYTES),
        }
    }

    /// Whether requests to `method` are read whole and admitted: duikou's own methods,
    /// every one of which takes one message. Health checks and reflection (a stream both
    /// ways) pass untouched and are never shed.
    pub fn applies_to(method: &str) -> bool {
        method.starts_with("/duikou.")
    }

    /// The request with its body read whole, so that the handler never waits on the
    /// client while it holds a permit.
    ///
    /// # Errors
    /// DEADLINE_EXCEEDED `REQUEST_BODY_TIMEOUT` when the body has not come within the
    /// timeout; OUT_OF_RANGE `MESSAGE_TOO_LARGE` past the message limit, as tonic answers; CANCELLED
    /// when the client broke the body off.
    pub async fn read_whole(
        &self,
        request: http::Request<Body>,
    ) -> Result<http::Request<Body>, Status> {
        let (parts, body) = request.into_parts();
        let read = Limited::new(body, self.max_body).collect();
        let bytes: Bytes = match tokio::time::timeout(self.body_timeout, read).await {
            Err(_) => {
                return Err(status(
                    Code::DeadlineExceeded,
                    "REQUEST_BODY_TIMEOUT",
                    format!(
                        "the request's message did not arrive within {:?} of its headers",
                        self.body_timeout
                    ),
                ));
            }
            Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(status(
                    Code::OutOfRange,
                    "MESSAGE_TOO_LARGE",
                    format!(
                        "the request is larger than the {} bytes a message may be",
                        self.max_body - FRAME_HEADER_BYTES
                    ),
                ));
            }
            Ok(Err(error)) => {
                return Err(status(
                    Code::Cancelled,
                    "REQUEST_BODY_BROKEN",
                    format!("the request's body broke off: {error}"),
                ));
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };
        Ok(http::Request::from_parts(
            parts,
            Body::new(Full::new(bytes)),
        ))
    }

    /// Takes on a request from `address`, `anonymous` when it carries no token.
    ///
    /// # Errors
    /// RESOURCE_EXHAUSTED when the address has its most requests in flight
    /// (`ADDRESS_REQUEST_LIMIT`), callers without a token have their whole share
    /// (`ANONYMOUS_REQUEST_LIMIT`), or the server is at its concurrency limit
    /// (`OVERLOADED`).
    pub fn admit(&self, address: Option<IpAddr>, anonymous: bool) -> Result<Admitted, Status> {
        let keys = [
            address.map(|a| (Claimant::Address(a), self.per_address)),
            anonymous.then_some((Claimant::Anonymous, self.anonymous)),
        ];
        let claims = self.claims.hold(keys).map_err(|full| match full {
            Claimant::Address(_) => status(
                Code::ResourceExhausted,
                "ADDRESS_REQUEST_LIMIT",
                format!(
                    "this address has {} requests in flight, the most one address may; retry \
                     with backoff",
                    self.per_address
                ),
            ),
            Claimant::Anonymous => status(
                Code::ResourceExhausted,
                "ANONYMOUS_REQUEST_LIMIT",
                "requests without a token have taken their whole share of the server; retry \
                 with backoff",
            ),
        })?;
        let permit = Arc::clone(&self.permits).try_acquire_owned().map_err(|_| {
            status(
                Code::ResourceExhausted,
                "OVERLOADED",
                "the server is at its concurrency limit; retry with backoff",
            )
        })?;
        Ok(Admitted {
            _permit: permit,
            _claims: claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::config::Settings;

    fn admission(change: impl FnOnce(&mut ServerSettings)) -> Result<Admission, anyhow::Error> {
        let mut settings = Settings::load(None, &Default::default())?.server;
        change(&mut settings);
        Ok(Admission::new(&settings))
    }

    fn reason(status: &Status) -> String {
        use tonic_types::StatusExt;
        status
            .get_error_details()
            .error_info()
            .map(|info| info.reason.clone())
            .unwrap_or_default()
    }

    const A: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));

    #[test]
    fn anonymous_callers_get_their_share_and_no_more() -> anyhow::Result<()> {
        let admission = admission(|s| {
            s.concurrency_limit = 10;
            s.anonymous_concurrency = 2;
            s.max_requests_per_address = 0;
        })?;
        let held = [admission.admit(A, true), admission.admit(B, true)];
        assert!(held.iter().all(Result::is_ok));
        let refused = admission.admit(A, true).err();
        assert_eq!(
            refused.as_ref().map(reason).as_deref(),
            Some("ANONYMOUS_REQUEST_LIMIT")
        );
        // Callers with a token still get in, from the same address.
        let with_token: Vec<_> = (0..8).map(|_| admission.admit(A, false)).collect();
        assert!(with_token.iter().all(Result::is_ok));
        // And the server's own limit holds for everyone.
        let over = admission.admit(B, false).err();
        assert_eq!(over.as_ref().map(reason).as_deref(), Some("OVERLOADED"));
        drop(held);
        drop(with_token);
        assert!(admission.admit(A, true).is_ok());
        Ok(())
    }

    #[test]
    fn one_address_cannot_take_every_permit() -> anyhow::Result<()> {
        let admission = admission(|s| {
            s.concurrency_limit = 10;
            s.max_requests_per_address = 3;
        })?;
        let from_a: Vec<_> = (0..3).map(|_| admission.admit(A, false)).collect();
        assert!(from_a.iter().all(Result::is_ok));
        let refused = admission.admit(A, false).err();
        assert_eq!(
            refused.as_ref().map(reason).as_deref(),
            Some("ADDRESS_REQUEST_LIMIT")
        );
        assert!(admission.admit(B, false).is_ok());
        Ok(())
    }

    #[test]
    fn a_refused_request_holds_nothing() -> anyhow::Result<()> {
        let admission = admission(|s| {
            s.concurrency_limit = 1;
            s.max_requests_per_address = 5;
        })?;
        let first = admission.admit(A, false);
        assert!(first.is_ok());
        // Refused by the server's limit: its address claim is given back.
        for _ in 0..10 {
            assert!(admission.admit(A, false).is_err());
        }
        drop(first);
        assert!(admission.admit(A, false).is_ok());
        Ok(())
    }

    #[test]
    fn only_duikou_methods_are_admitted() {
        assert!(Admission::applies_to("/duikou.v1.RegionService/GetRegion"));
        assert!(!Admission::applies_to("/grpc.health.v1.Health/Check"));
        assert!(!Admission::applies_to(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
    }
}
