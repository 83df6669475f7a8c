//! The gRPC services: each turns requests into domain values, authorizes them, runs the
//! use case of `app` (or a read of the store), and maps the result back. No SQL here.

pub mod access;
pub mod audit;
pub mod authz;
pub mod fund;
pub mod pairing;
pub mod program;
pub mod project;
pub mod region;
pub mod status;
pub mod supervision;
pub mod supervision_feed;
pub mod talent;

use chrono::{DateTime, Utc};
use prost::Message;
use prost_types::{FieldMask, Timestamp};
use sha2::{Digest, Sha256};

use crate::{
    app::Edit,
    domain::{
        audit::Call,
        page::Page,
        request_id::{RequestId, RequestKey},
    },
    error::Error,
    proto::v1 as proto,
    store::Hold,
};

/// A protobuf timestamp of a stored time.
pub(crate) fn timestamp(time: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    }
}

/// Takes a create's `request_id` out of `request` (found by `field`) and makes it the key
/// of the call's caller's requests to its method, with the SHA-256 of the rest of the
/// request: two requests with the same fingerprint asked for the same thing.
///
/// # Errors
/// INVALID_ARGUMENT on `request_id` when it is malformed.
pub(crate) fn request_key<M: Message>(
    call: &Call,
    request: &mut M,
    field: impl FnOnce(&mut M) -> &mut String,
) -> Result<Option<RequestKey>, Error> {
    let sent = std::mem::take(field(request));
    Ok(RequestId::parse(&sent)?
        .map(|id| RequestKey::new(call.caller(), call.method(), id, digest(request))))
}

/// A required text field's value.
///
/// # Errors
/// INVALID_ARGUMENT naming `field` when it is empty.
pub(crate) fn required<'a>(value: &'a str, field: &str) -> Result<&'a str, Error> {
    if value.is_empty() {
        Err(Error::invalid(field, "is required"))
    } else {
        Ok(value)
    }
}

/// Implements a service's generated trait from a table of its methods. Each method takes
/// the call that the authorization layer let through and the request's message, and runs
/// either the function of the same name in the invoking module
/// (`fn(&Server, Call, Request) -> Result<Response, Error>`) or, after `=`, a shared one
/// given further arguments (`= step(Step::Approve)` runs `step(server, call, request,
/// Step::Approve)`); it answers the value, or the error as a status. Methods that need more
/// of the transport (a stream, the peer's address) follow the table as plain trait items.
macro_rules! service {
    (
        $service:ident for $server:ty {
            $(
                $method:ident($request:ty) -> $response:ty
                $(= $handler:ident($($arg:expr),* $(,)?))?;
            )*
        }
        $($more:tt)*
    ) => {
        #[tonic::async_trait]
        impl $service for $server {
            $(
                async fn $method(
                    &self,
                    mut request: tonic::Request<$request>,
                ) -> Result<tonic::Response<$response>, tonic::Status> {
                    let call = $crate::api::authz::take_call(&mut request)?;
                    let request = request.into_inner();
                    let reply = $crate::api::service!(
                        @run self, call, request, $method $(, $handler($($arg),*))?
                    )
                    .await?;
                    Ok(tonic::Response::new(reply))
                }
            )*
            $($more)*
        }
    };
    (@run $server:expr, $call:expr, $request:expr, $method:ident) => {
        $method($server, $call, $request)
    };
    (
        @run $server:expr, $call:expr, $request:expr, $method:ident,
        $handler:ident($($arg:expr),*)
    ) => {
        $handler($server, $call, $request, $($arg),*)
    };
}
pub(crate) use service;

/// A list response: one page of items and the token of the page after it.
pub(crate) trait Listing {
    /// What the list holds.
    type Item;
    /// The response holding `items`, followed by the page of `next_page_token` (empty at
    /// the end).
    fn listing(items: Vec<Self::Item>, next_page_token: String) -> Self;
}

/// Implements [`Listing`] for list responses, each with the field its items are in.
macro_rules! listing {
    ($($response:ident.$items:ident: $item:ident),+ $(,)?) => {$(
        impl Listing for proto::$response {
            type Item = proto::$item;
            fn listing(items: Vec<proto::$item>, next_page_token: String) -> Self {
                Self { $items: items, next_page_token }
            }
        }
    )+};
}

listing! {
    ListAccessTokensResponse.access_tokens: AccessToken,
    ListAuditEventsResponse.audit_events: AuditEvent,
    ListFundTransactionsResponse.fund_transactions: FundTransaction,
    ListPairingsResponse.pairings: Pairing,
    ListProgramsResponse.programs: Program,
    ListProjectsResponse.projects: Project,
    ListRegionsResponse.regions: Region,
    ListSupervisionEntriesResponse.supervision_entries: SupervisionEntry,
    ListSupervisionEventsResponse.supervision_events: SupervisionEvent,
    ListTalentExchangesResponse.talent_exchanges: TalentExchange,
}

/// One page of a list as its response: `rows`, fetched for `page`, cut to it and each put
/// in the API's form by `to_proto`, with the token of the next page; `key` is a row's
/// place in the list's order.
pub(crate) fn page_of<R, L: Listing>(
    page: &Page,
    rows: Vec<R>,
    key: impl Fn(&R) -> String,
    to_proto: impl FnMut(R) -> L::Item,
) -> L {
    let (rows, next_page_token) = page.close(rows, key);
    let items = rows.into_iter().map(to_proto).collect();
    L::listing(items, next_page_token)
}

/// Checks what a summary request sends besides its scope's name: a scope, and a year in
/// `year_field` that is one, or 0 for all years.
///
/// # Errors
/// INVALID_ARGUMENT on `scope` when it is empty, else on `year_field`.
pub(crate) fn check_summary(scope: &str, year_field: &str, year: i32) -> Result<(), Error> {
    if scope.is_empty() {
        return Err(Error::invalid("scope", "is required"));
    }
    if !(0..=9999).contains(&year) {
        return Err(Error::invalid(
            year_field,
            "must be a year, or 0 for all years",
        ));
    }
    Ok(())
}

/// What a summary counts, checked to exist.
pub(crate) enum SummaryScope {
    /// One pairing.
    Pairing(i64),
    /// One project, with its budget.
    Project {
        /// The project's id.
        id: i64,
        /// Its budget, in fen.
        budget_fen: i64,
    },
    /// The pairings of one program.
    Program(i64),
    /// A region's subtree: the region's stored path.
    Region(String),
}

/// Reads a summary's `scope`: the name of a resource of one of the `allowed` collections
/// ("pairings", "projects", "programs", "regions"), which must exist.
///
/// # Errors
/// INVALID_ARGUMENT on `scope` for a name of another collection or a malformed one;
/// NOT_FOUND when it does not exist; the database's failures.
pub(crate) async fn summary_scope(
    store: &crate::store::Store,
    scope: &str,
    allowed: &[&str],
) -> Result<SummaryScope, Error> {
    use crate::{
        domain::{name, region::RegionCode},
        store::{by_id, pairing::PairingRow, program::ProgramRow, project::ProjectRow, region},
    };
    let missing = |reason| Error::NotFound {
        reason,
        resource: scope.to_owned(),
    };
    let wrong = || {
        let nouns: Vec<&str> = allowed
            .iter()
            .map(|c| c.strip_suffix('s').unwrap_or(c))
            .collect();
        let listed = match nouns.split_last() {
            Some((last, [])) => format!("a {last}"),
            Some((last, rest)) => format!("a {} or {last}", rest.join(", ")),
            None => "nothing".to_owned(),
        };
        Error::invalid(
            "scope",
            format!(
                "must name {listed}, e.g. \"{}/1\"",
                allowed.first().unwrap_or(&"")
            ),
        )
    };
    let collection = scope
        .split_once('/')
        .map(|(c, _)| c)
        .filter(|c| allowed.contains(c))
        .ok_or_else(wrong)?;
    let db = store.db();
    let id_in = |collection| name::parse_id("scope", collection, scope);
    match collection {
        "pairings" => {
            let id = id_in("pairings")?;
            let row = by_id::<PairingRow>(db, id, Hold::Nothing).await?;
            row.ok_or_else(|| missing("PAIRING_NOT_FOUND"))?;
            Ok(SummaryScope::Pairing(id))
        }
        "projects" => {
            let id = id_in("projects")?;
            let row = by_id::<ProjectRow>(db, id, Hold::Nothing).await?;
            let budget_fen = row.ok_or_else(|| missing("PROJECT_NOT_FOUND"))?.budget_fen;
            Ok(SummaryScope::Project { id, budget_fen })
        }
        "programs" => {
            let id = id_in("programs")?;
            let row = by_id::<ProgramRow>(db, id, Hold::Nothing).await?;
            row.ok_or_else(|| missing("PROGRAM_NOT_FOUND"))?;
            Ok(SummaryScope::Program(id))
        }
        "regions" => {
            let row = region::get(db, &RegionCode::from_name("scope", scope)?).await?;
            let path = row.ok_or_else(|| missing("REGION_NOT_FOUND"))?.path;
            Ok(SummaryScope::Region(path))
        }
        _ => Err(wrong()),
    }
}

/// The stored path of the region a list filter names, for a subtree match.
///
/// # Errors
/// INVALID_ARGUMENT on `filter` when the region does not exist; the database's failures.
pub(crate) async fn filter_region_path(
    store: &crate::store::Store,
    code: Option<&crate::domain::region::RegionCode>,
) -> Result<Option<String>, Error> {
    let Some(code) = code else {
        return Ok(None);
    };
    let row = crate::store::region::get(store.db(), code)
        .await?
        .ok_or_else(|| Error::invalid("filter", format!("{} does not exist", code.name())))?;
    Ok(Some(row.path))
}

pub(crate) use crate::domain::revision::etag;

/// The fields of a resource as an update mask sees them, and where an update names the
/// resource it changes.
pub(crate) struct MaskRules {
    /// The request field that holds the resource's name, e.g. "pairing.name".
    pub name_field: &'static str,
    /// The collection the name lies in, e.g. "pairings".
    pub collection: &'static str,
    /// Fields an update may change.
    pub updatable: &'static [&'static str],
    /// Fields fixed at creation.
    pub immutable: &'static [&'static str],
    /// Fields only the server sets.
    pub output_only: &'static [&'static str],
}

impl MaskRules {
    /// The id of the resource an update names in `name` and the fields its `mask` names,
    /// each checked, the errors of both reported together.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on the name field when `name` is malformed, and on `update_mask`
    /// as [`MaskRules::paths`] says.
    pub fn target(
        &self,
        name: &str,
        mask: Option<FieldMask>,
    ) -> Result<(i64, Vec<&'static str>), Error> {
        let id = crate::domain::name::parse_id(self.name_field, self.collection, name);
        let paths = self.paths(mask);
        Error::collect([Error::of(&id), Error::of(&paths)])?;
        Ok((id?, paths?))
    }

    /// The edit an Update request asks for: of `resource` as sent (empty when it is not),
    /// whose name and etag `sent` reads, the id its name gives, with what `patch` makes of
    /// it and the fields `mask` names.
    ///
    /// # Errors
    /// What [`MaskRules::target`] returns, then what `patch` returns.
    pub fn edit<R: Default, W>(
        &self,
        resource: Option<R>,
        mask: Option<FieldMask>,
        sent: impl Fn(&R) -> (&str, &str),
        patch: impl FnOnce(R, &[&'static str]) -> Result<W, Error>,
    ) -> Result<Edit<W>, Error> {
        let resource = resource.unwrap_or_default();
        let (name, etag) = sent(&resource);
        let (id, paths) = self.target(name, mask)?;
        let etag = etag.to_owned();
        Ok(Edit {
            id,
            etag,
            what: patch(resource, &paths)?,
        })
    }

    /// The fields an update mask names; `*` names every updatable field.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `update_mask` when it is missing or names a field that cannot
    /// be updated.
    pub fn paths(&self, mask: Option<FieldMask>) -> Result<Vec<&'static str>, Error> {
        let mask = mask.unwrap_or_default();
        if mask.paths.is_empty() {
            return Err(Error::invalid(
                "update_mask",
                format!(
                    "is required: name the fields to change ({}) or \"*\"",
                    self.updatable.join(", ")
                ),
            ));
        }
        let mut paths = Vec::new();
        for path in &mask.paths {
            if path == "*" {
                return Ok(self.updatable.to_vec());
            }
            let Some(&known) = self.updatable.iter().find(|f| *f == path) else {
                let why = if self.output_only.contains(&path.as_str()) {
                    "is output only"
                } else if self.immutable.contains(&path.as_str()) {
                    "cannot change after creation"
                } else {
                    "is not a field that can be updated"
                };
                return Err(Error::invalid("update_mask", format!("{path} {why}")));
            };
            if !paths.contains(&known) {
                paths.push(known);
            }
        }
        Ok(paths)
    }
}

/// Lower-case hex SHA-256 of a resource's protobuf encoding, as audit events record it.
pub fn digest(resource: &impl Message) -> String {
    Sha256::digest(resource.encode_to_vec())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
