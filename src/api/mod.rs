//! The gRPC services: each turns requests into domain values, authorizes them, runs the
//! use case of `app` (or a read of the store), and maps the result back. No SQL here.

pub mod access;
pub mod audit;
pub mod authz;
pub mod fund;
pub mod organization;
pub mod pairing;
pub mod plan;
pub mod program;
pub mod project;
pub mod region;
pub mod status;
pub mod supervision;
pub mod supervision_feed;
pub mod talent;
pub mod water;

use chrono::{DateTime, Utc};
use prost::Message;
use prost_types::{FieldMask, Timestamp};
use sha2::{Digest, Sha256};

use crate::{
    app::Edit,
    domain::{
        audit::Call,
        page::Page,
        patch::Patch,
        request_id::{RequestId, RequestKey},
    },
    error::Error,
    proto::v1 as proto,
    store::{Hold, Store, tx::Change},
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
/// Step::Approve)`), or a method of a value over the server's store (`= PAIRING.write(…)`
/// runs `PAIRING.write(&server.store, call, request, …)`); it answers the value, or the
/// error as a status. The call carries the client's address (`Call::peer`); what else a
/// trait needs (a stream's type) follows the table as plain trait items.
macro_rules! service {
    (
        $service:ident for $server:ty {
            $(
                $method:ident($request:ty) -> $response:ty
                $(= $handler:ident $(.$on:ident)? ($($arg:expr),* $(,)?))?;
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
                        @run self, call, request, $method $(, $handler $(.$on)? ($($arg),*))?
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
    (
        @run $server:expr, $call:expr, $request:expr, $method:ident,
        $value:ident.$handler:ident($($arg:expr),*)
    ) => {
        $value.$handler(&$server.store, $call, $request, $($arg),*)
    };
}
pub(crate) use service;

/// A resource that methods name as `{collection}/{id}`: where its names lie, and how a
/// stored one is answered. A method that only names the resource and asks one change of it
/// is a row of [`service!`] that calls [`Named::write`].
pub(crate) struct Named<R, P> {
    /// The collection its names lie in, e.g. "pairings".
    pub collection: &'static str,
    /// The API form of a stored one.
    pub reply: fn(R) -> P,
}

impl<R, P> Named<R, P> {
    /// Writes the change `make` builds, from the id and the etag the caller read, for the
    /// resource a request names (`sent` reads the name and the etag from `req`), and
    /// answers the resource as the change leaves it.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `name` when it is malformed; then what the change returns.
    pub async fn write<T, C: Change<Output = R>>(
        &self,
        store: &Store,
        call: Call,
        req: T,
        sent: impl FnOnce(T) -> (String, String),
        make: impl FnOnce(i64, String) -> C,
    ) -> Result<P, Error> {
        let (name, etag) = sent(req);
        let id = crate::domain::name::parse_id("name", self.collection, &name)?;
        let row = store.write(call, make(id, etag)).await?;
        Ok((self.reply)(row))
    }

    /// Writes the update a request asks for (`sent` reads the resource and the mask from
    /// `req`) as `what` makes it of the resource sent and the fields `mask` names, and
    /// answers the resource as the update leaves it.
    ///
    /// # Errors
    /// What [`MaskRules::edit`] returns; then what the change returns.
    pub async fn update<T, W>(
        &self,
        store: &Store,
        call: Call,
        req: T,
        mask: &MaskRules,
        sent: impl FnOnce(T) -> (Option<P>, Option<FieldMask>),
        what: impl FnOnce(P, &[&'static str]) -> Result<W, Error>,
    ) -> Result<P, Error>
    where
        P: Sent,
        Edit<W>: Change<Output = R>,
    {
        let (resource, fields) = sent(req);
        let row = store
            .write(call, mask.edit(resource, fields, what)?)
            .await?;
        Ok((self.reply)(row))
    }
}

/// Implements [`Audited`](crate::domain::audit::Audited) for stored values: with `it` the
/// value, its name, and the API form the audit log digests — the whole, personal data
/// included, whoever made the change:
/// `audited!(PairingRow: |p| name::format_id("pairings", p.id), pairing_to_proto(p.clone()));`
macro_rules! audited {
    ($row:ty: |$it:ident| $name:expr, $published:expr $(;)?) => {
        impl $crate::domain::audit::Audited for $row {
            fn audit_name(&self) -> String {
                let $it = self;
                $name
            }

            fn audit_digest(&self) -> String {
                let $it = self;
                $crate::api::digest(&$published)
            }
        }
    };
}
pub(crate) use audited;

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
    ListMonitoringSectionsResponse.monitoring_sections: MonitoringSection,
    ListMonitoringStationsResponse.monitoring_stations: MonitoringStation,
    ListOrganizationsResponse.organizations: Organization,
    ListWorkPlansResponse.work_plans: WorkPlan,
    ListPlanTasksResponse.tasks: PlanTask,
    ListWaterSamplesResponse.water_samples: WaterSample,
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
    store: &Store,
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
    store: &Store,
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

/// A resource as an Update request sends it: its name and the etag the caller read.
pub(crate) trait Sent: Default {
    /// The resource's name.
    fn name(&self) -> &str;
    /// The etag the caller read, or empty.
    fn etag(&self) -> &str;
}

/// Implements [`Sent`] for API resources, each with a `name` and an `etag`.
macro_rules! sent {
    ($($resource:ident),+ $(,)?) => {$(
        impl Sent for proto::$resource {
            fn name(&self) -> &str {
                &self.name
            }

            fn etag(&self) -> &str {
                &self.etag
            }
        }
    )+};
}

sent!(
    MonitoringSection,
    Organization,
    Pairing,
    Program,
    Project,
    TalentExchange,
    WorkPlan
);

/// What makes an update by fields of a resource `R` as sent: `fields` reads its writable
/// fields, and the patch takes those the mask names over the stored ones.
pub(crate) fn patch<R, F>(
    fields: impl FnOnce(&R) -> F,
) -> impl FnOnce(R, &[&'static str]) -> Result<Patch<F>, Error> {
    move |resource, paths| {
        Ok(Patch {
            sent: fields(&resource),
            paths: paths.to_vec(),
        })
    }
}

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
    /// the id its name gives and the etag it carries, with what `what` makes of it and the
    /// fields `mask` names ([`patch`] for an update by fields).
    ///
    /// # Errors
    /// What [`MaskRules::target`] returns, then what `what` returns.
    pub fn edit<R: Sent, W>(
        &self,
        resource: Option<R>,
        mask: Option<FieldMask>,
        what: impl FnOnce(R, &[&'static str]) -> Result<W, Error>,
    ) -> Result<Edit<W>, Error> {
        let resource = resource.unwrap_or_default();
        let (id, paths) = self.target(resource.name(), mask)?;
        let etag = resource.etag().to_owned();
        Ok(Edit {
            id,
            etag,
            what: what(resource, &paths)?,
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
    crate::domain::secret::hex(&Sha256::digest(resource.encode_to_vec()))
}
