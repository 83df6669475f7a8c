//! `duikou.v1.AccessService`: bearer tokens, for ADMIN only (see [`super::authz`]).

use chrono::{DateTime, Utc};

use super::{audited, authz, page_of, service, timestamp};
use crate::{
    app::token::{CreateToken, IssuedToken, RevokeToken, TokenFields},
    domain::audit::Call,
    domain::{access::Role, name, page::Page, region::RegionCode},
    error::Error,
    proto::v1::{
        AccessToken, CreateAccessTokenRequest, ListAccessTokensRequest, ListAccessTokensResponse,
        RevokeAccessTokenRequest, access_service_server::AccessService,
    },
    store::{
        Store,
        token::{self, TokenRow},
    },
};

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
        role: row.role.number(),
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

audited!(TokenRow: |t| name::format_id("accessTokens", t.id), to_proto(t.clone()));

service! {
    AccessService for Access {
        create_access_token(CreateAccessTokenRequest) -> AccessToken;
        list_access_tokens(ListAccessTokensRequest) -> ListAccessTokensResponse;
        revoke_access_token(RevokeAccessTokenRequest) -> AccessToken;
    }
}

async fn create_access_token(
    service: &Access,
    call: Call,
    req: CreateAccessTokenRequest,
) -> Result<AccessToken, Error> {
    call.authenticated()?;
    let t = req.access_token.unwrap_or_default();
    let role = Role::from_number(t.role)
        .ok_or_else(|| Error::invalid("access_token.role", "is required: name a role"));
    let expire_time = t
        .expire_time
        .map(|ts| {
            DateTime::<Utc>::from_timestamp(ts.seconds, ts.nanos.max(0) as u32)
                .filter(|time| *time > Utc::now())
                .ok_or_else(|| Error::invalid("access_token.expire_time", "must lie in the future"))
        })
        .transpose();
    Error::collect([Error::of(&role), Error::of(&expire_time)])?;
    let (role, expire_time) = (role?, expire_time?);
    let scopes = t
        .scopes
        .iter()
        .map(|scope| RegionCode::from_name("access_token.scopes", scope))
        .collect::<Result<_, _>>()?;
    let change = CreateToken {
        role,
        label: t.label,
        scopes,
        fields: TokenFields::API,
        expire_time,
    };
    let IssuedToken { row, secret } = service.store.write(call, change).await?;
    Ok(AccessToken {
        secret,
        ..to_proto(row)
    })
}

async fn list_access_tokens(
    service: &Access,
    _: Call,
    req: ListAccessTokensRequest,
) -> Result<ListAccessTokensResponse, Error> {
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["accessTokens"],
    )?;
    let rows = token::list(service.store.db(), page.after_id()?, page.fetch()).await?;
    Ok(page_of(&page, rows, |r| r.id.to_string(), to_proto))
}

async fn revoke_access_token(
    service: &Access,
    call: Call,
    req: RevokeAccessTokenRequest,
) -> Result<AccessToken, Error> {
    call.authenticated()?;
    let id = name::parse_id("name", "accessTokens", &req.name)?;
    let row = service.store.write(call, RevokeToken { id }).await?;
    service.tokens.forget(id);
    Ok(to_proto(row))
}
