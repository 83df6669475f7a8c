//! `duikou.v1.AccessService`: bearer tokens, for ADMIN only (see [`super::authz`]).

use chrono::{DateTime, Utc};
use tonic::{Request, Response, Status};

use super::{authz, digest, timestamp};
use crate::{
    domain::{
        access::Role,
        audit::Actor,
        name,
        page::Page,
        region::{RegionCode, RegionPath},
        text,
    },
    error::Error,
    proto::v1::{
        AccessToken, CreateAccessTokenRequest, ListAccessTokensRequest, ListAccessTokensResponse,
        RevokeAccessTokenRequest, access_service_server::AccessService,
    },
    store::{
        Store, audit, region,
        token::{self, NewToken, TokenRow},
    },
};

const CREATE_TOKEN: &str = "/duikou.v1.AccessService/CreateAccessToken";
const REVOKE_TOKEN: &str = "/duikou.v1.AccessService/RevokeAccessToken";

/// Serves token management from the store.
#[derive(Clone)]
pub struct Access {
    store: Store,
    tokens: authz::TokenCache,
}

impl Access {
    /// A service over `store`; revocations also clear `tokens`.
    pub fn new(store: Store, tokens: authz::TokenCache) -> Self {
        Self { store, tokens }
    }
}

/// The API form of a stored token; the secret is never stored, so it is empty here.
pub fn to_proto(row: TokenRow) -> AccessToken {
    AccessToken {
        name: name::format_id("accessTokens", row.id),
        role: i32::from(row.role),
        label: row.label,
        scopes: row
            .scopes
            .split(',')
            .filter_map(|path| path.trim_end_matches('/').rsplit('/').next())
            .filter(|code| !code.is_empty())
            .map(|code| format!("regions/{code}"))
            .collect(),
        expire_time: row.expire_time.map(timestamp),
        revoke_time: row.revoke_time.map(timestamp),
        create_time: Some(timestamp(row.create_time)),
        secret: String::new(),
    }
}

/// Resolves scope names into region paths, inside `db`.
///
/// # Errors
/// INVALID_ARGUMENT naming `field` for a malformed or missing region.
pub async fn scope_paths(
    db: &impl sea_orm::ConnectionTrait,
    field: &str,
    names: &[String],
) -> Result<Vec<RegionPath>, Error> {
    let mut paths = Vec::with_capacity(names.len());
    for name in names {
        let code = RegionCode::from_name(field, name)?;
        let row = region::get(db, &code)
            .await?
            .ok_or_else(|| Error::invalid(field, format!("{name} does not exist")))?;
        paths.push(RegionPath::from_stored(row.path));
    }
    Ok(paths)
}

/// A token to make, as a caller asked for it.
pub struct TokenRequest<'a> {
    /// Its role.
    pub role: Role,
    /// Who holds it.
    pub label: &'a str,
    /// Region names it covers, e.g. `regions/420300`.
    pub scopes: &'a [String],
    /// The field or flag that named the scopes, for errors.
    pub scope_field: &'a str,
    /// When it stops working.
    pub expire_time: Option<DateTime<Utc>>,
}

/// Creates a token inside `tx` and appends its audit event; the command line and the API
/// both make tokens this way. Returns the token and its secret.
///
/// # Errors
/// INVALID_ARGUMENT naming the scope field for a bad scope; the database's failures.
pub async fn create_recorded(
    tx: &impl sea_orm::ConnectionTrait,
    actor: &Actor,
    method: &str,
    request: &TokenRequest<'_>,
) -> Result<(TokenRow, String), Error> {
    let paths = scope_paths(tx, request.scope_field, request.scopes).await?;
    let (row, secret) = token::create(
        tx,
        &NewToken {
            role: request.role,
            label: request.label,
            scopes: &paths,
            expire_time: request.expire_time,
        },
    )
    .await?;
    let after = to_proto(row.clone());
    record_token(actor, method, &after)?;
    Ok((row, secret))
}

/// Records the audit event of a change to a token.
fn record_token(actor: &Actor, method: &str, after: &AccessToken) -> Result<(), Error> {
    audit::append(audit::PendingEvent {
        actor: actor.clone(),
        method: method.to_owned(),
        resource: after.name.clone(),
        request_id: String::new(),
        resource_sha256: digest(after),
    })
}

/// Revokes a token inside `tx` and appends its audit event.
///
/// # Errors
/// NOT_FOUND for an unknown token; the database's failures.
pub async fn revoke_recorded(
    tx: &impl sea_orm::ConnectionTrait,
    actor: &Actor,
    method: &str,
    id: i64,
) -> Result<TokenRow, Error> {
    let row = token::revoke(tx, id).await?;
    let after = to_proto(row.clone());
    record_token(actor, method, &after)?;
    Ok(row)
}

#[tonic::async_trait]
impl AccessService for Access {
    async fn create_access_token(
        &self,
        request: Request<CreateAccessTokenRequest>,
    ) -> Result<Response<AccessToken>, Status> {
        let caller = authz::caller(&request)?;
        let t = request.into_inner().access_token.unwrap_or_default();
        let role = Role::from_number(t.role)
            .ok_or_else(|| Error::invalid("access_token.role", "is required: name a role"));
        let expire_time = t
            .expire_time
            .map(|ts| {
                DateTime::<Utc>::from_timestamp(ts.seconds, ts.nanos.max(0) as u32)
                    .filter(|time| *time > Utc::now())
                    .ok_or_else(|| {
                        Error::invalid("access_token.expire_time", "must lie in the future")
                    })
            })
            .transpose();
        Error::collect([
            Error::of(&role),
            text::check("access_token.label", &t.label, 200, false),
            Error::of(&expire_time),
        ])?;
        let (role, expire_time) = (role?, expire_time?);
        let (row, secret) = self
            .store
            .write_legacy(move |tx| {
                let (label, scopes, caller) = (t.label.clone(), t.scopes.clone(), caller.clone());
                Box::pin(async move {
                    create_recorded(
                        tx,
                        &Actor::of(&caller),
                        CREATE_TOKEN,
                        &TokenRequest {
                            role,
                            label: &label,
                            scopes: &scopes,
                            scope_field: "access_token.scopes",
                            expire_time,
                        },
                    )
                    .await
                })
            })
            .await?;
        tracing::info!(token = row.id, role = role.word(), "access token created");
        Ok(Response::new(AccessToken {
            secret,
            ..to_proto(row)
        }))
    }

    async fn list_access_tokens(
        &self,
        request: Request<ListAccessTokensRequest>,
    ) -> Result<Response<ListAccessTokensResponse>, Status> {
        let req = request.into_inner();
        let page = Page::open(req.page_size, &req.page_token, &["accessTokens"])?;
        let rows = token::list(self.store.db(), page.after_id()?, page.fetch()).await?;
        let (rows, next_page_token) = page.close(rows, |r| r.id.to_string());
        Ok(Response::new(ListAccessTokensResponse {
            access_tokens: rows.into_iter().map(to_proto).collect(),
            next_page_token,
        }))
    }

    async fn revoke_access_token(
        &self,
        request: Request<RevokeAccessTokenRequest>,
    ) -> Result<Response<AccessToken>, Status> {
        let caller = authz::caller(&request)?;
        let id = name::parse_id("name", "accessTokens", &request.get_ref().name)?;
        let row = self
            .store
            .write_legacy(move |tx| {
                let caller = caller.clone();
                Box::pin(
                    async move { revoke_recorded(tx, &Actor::of(&caller), REVOKE_TOKEN, id).await },
                )
            })
            .await?;
        self.tokens.forget(id);
        tracing::info!(token = id, "access token revoked");
        Ok(Response::new(to_proto(row)))
    }
}
