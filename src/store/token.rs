//! Access-token queries, and authentication of a bearer secret.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, IntoActiveModel, QuerySelect,
};

use super::{Store, entities::access_token, rows, sqlite::point_read};
use crate::{
    domain::{
        access::{self, Bearer, Caller, Role, Scope},
        region::RegionPath,
    },
    error::Error,
};

pub use access_token::Model as TokenRow;

/// A token to create.
pub struct NewToken<'a> {
    /// Its role.
    pub role: Role,
    /// Who holds it.
    pub label: &'a str,
    /// The paths of the regions it covers; empty for everywhere.
    pub scopes: &'a [RegionPath],
    /// When it stops working.
    pub expire_time: Option<DateTime<Utc>>,
}

/// Creates a token and returns it with its secret, which is not stored.
///
/// # Errors
/// Only the database's, or a lack of randomness.
pub async fn create(
    db: &impl ConnectionTrait,
    new: &NewToken<'_>,
) -> Result<(TokenRow, String), Error> {
    let (random, hash) = access::new_random()?;
    let row = access_token::ActiveModel {
        role: Set(new.role),
        label: Set(new.label.to_owned()),
        scopes: Set(new
            .scopes
            .iter()
            .map(RegionPath::as_str)
            .collect::<Vec<_>>()
            .join(",")),
        secret_hash: Set(hash),
        create_time: Set(Utc::now()),
        expire_time: Set(new.expire_time),
        revoke_time: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let secret = access::secret(row.id, &random);
    Ok((row, secret))
}

/// A page of tokens in id order.
pub async fn list(
    db: &impl ConnectionTrait,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<TokenRow>, Error> {
    let select = access_token::Entity::find();
    rows::page_after(db, select, access_token::Column::Id, after, limit).await
}

/// Revokes a token; revoking twice keeps the first time.
///
/// # Errors
/// NOT_FOUND when there is no such token.
pub async fn revoke(db: &impl ConnectionTrait, id: i64) -> Result<TokenRow, Error> {
    let row = access_token::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound {
            reason: "ACCESS_TOKEN_NOT_FOUND",
            resource: format!("accessTokens/{id}"),
        })?;
    if row.revoke_time.is_some() {
        return Ok(row);
    }
    let mut change = row.into_active_model();
    change.revoke_time = Set(Some(Utc::now()));
    Ok(change.update(db).await?)
}

/// Why a bearer secret was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such token, or the secret does not match.
    Unknown,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
    /// Issued with a scope to a role that takes none, before such tokens were refused:
    /// it promised a limit that was never enforced, so it serves nobody until reissued.
    ScopeNotAllowed,
}

/// The caller that a bearer secret stands for, judged against the token's row (`None`
/// when there is no such token). A row whose role is unknown was refused when read.
///
/// # Errors
/// The refusal when the secret is not accepted.
pub fn authenticate(row: Option<&TokenRow>, bearer: &Bearer) -> Result<Caller, Refusal> {
    let Some(row) = row else {
        return Err(Refusal::Unknown);
    };
    if !bearer.matches(&row.secret_hash) {
        return Err(Refusal::Unknown);
    }
    caller_of(row)
}

/// The caller a stored token stands for while it serves: not revoked, not expired, and
/// not a scoped token of a role that takes none. A station records as its token through
/// this, its own password standing for the bearer secret.
///
/// # Errors
/// The refusal when the token no longer serves.
pub fn caller_of(row: &TokenRow) -> Result<Caller, Refusal> {
    if row.revoke_time.is_some() {
        return Err(Refusal::Revoked);
    }
    if row.expire_time.is_some_and(|t| t <= Utc::now()) {
        return Err(Refusal::Expired);
    }
    if !row.scopes.is_empty() && !row.role.takes_scope() {
        return Err(Refusal::ScopeNotAllowed);
    }
    Ok(Caller {
        token_id: row.id,
        label: row.label.clone(),
        role: row.role,
        scope: scope_of(&row.scopes),
    })
}

/// The scope stored as comma-joined paths.
pub fn scope_of(stored: &str) -> Scope {
    if stored.is_empty() {
        Scope::Everywhere
    } else {
        Scope::Within(
            stored
                .split(',')
                .map(|p| RegionPath::from_stored(p.to_owned()))
                .collect(),
        )
    }
}

/// The inline point read of [`find`]: its columns must be the entity's, as a test in
/// [`super::sqlite::point_read`] checks.
pub(crate) const TOKEN_BY_ID: &str = "SELECT id, role, label, scopes, secret_hash, create_time, expire_time, revoke_time \
     FROM access_tokens WHERE id = ?1";

/// One token by id, for authentication: inline on a SQLite file, through the pool
/// elsewhere.
pub async fn find(store: &Store, id: i64) -> Result<Option<TokenRow>, Error> {
    point_read::read_one(
        store,
        TOKEN_BY_ID,
        [id],
        |row| {
            Ok(TokenRow {
                id: row.get("id")?,
                role: point_read::numbered(row, "role")?,
                label: row.get("label")?,
                scopes: row.get("scopes")?,
                secret_hash: row.get("secret_hash")?,
                create_time: point_read::timestamp(row, "create_time")?,
                expire_time: point_read::optional_timestamp(row, "expire_time")?,
                revoke_time: point_read::optional_timestamp(row, "revoke_time")?,
            })
        },
        || async { Ok(access_token::Entity::find_by_id(id).one(store.db()).await?) },
    )
    .await
}
