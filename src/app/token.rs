//! Access tokens: issuing them, with a secret that is handed back once and stored only as
//! a hash, and revoking them. The API and the command line (`duikou token …`) both run
//! these, each in the name of its own call.

use chrono::{DateTime, Utc};

use crate::{
    domain::{
        access::{self, Role},
        region::{RegionCode, RegionPath},
        text,
    },
    error::Error,
    store::{
        region,
        token::{self, NewToken, TokenRow},
        tx::{Change, Tx},
    },
};

/// A token just issued, with its secret: the only time the secret is seen, since the
/// store keeps its hash alone.
pub struct IssuedToken {
    /// The stored token.
    pub row: TokenRow,
    /// Its bearer secret, `dk_{id}_…`.
    pub secret: String,
}

/// CreateAccessToken and `duikou token create`: a new token with a one-line label, and a
/// scope only for a role that takes one, whose regions exist.
pub struct CreateToken {
    /// Its role.
    pub role: Role,
    /// Who holds it.
    pub label: String,
    /// The regions it covers; none for everywhere.
    pub scopes: Vec<RegionCode>,
    /// The fields or flags that sent the label and the scopes, for errors.
    pub fields: TokenFields,
    /// When it stops working.
    pub expire_time: Option<DateTime<Utc>>,
}

/// Where a token's label and scopes were sent, so that an error names the caller's words.
pub struct TokenFields {
    /// The label's field or flag.
    pub label: &'static str,
    /// The scopes' field or flag.
    pub scopes: &'static str,
}

impl TokenFields {
    /// The fields of CreateAccessToken.
    pub const API: Self = Self {
        label: "access_token.label",
        scopes: "access_token.scopes",
    };
    /// The flags of `duikou token create`.
    pub const COMMAND_LINE: Self = Self {
        label: "--label",
        scopes: "--scope",
    };
}

impl Change for CreateToken {
    type Output = IssuedToken;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<IssuedToken, Error> {
        let fields = &self.fields;
        Error::collect([
            text::check_line(fields.label, &self.label, 200, false),
            access::check_scope(self.role, fields.scopes, &self.scopes),
        ])?;
        let scopes = scope_paths(tx, fields.scopes, &self.scopes).await?;
        let (row, secret) = token::create(
            tx.db(),
            &NewToken {
                role: self.role,
                label: &self.label,
                scopes: &scopes,
                expire_time: self.expire_time,
            },
        )
        .await?;
        tx.record(None, &row);
        Ok(IssuedToken { row, secret })
    }
}

/// RevokeAccessToken and `duikou token revoke`: revoking twice keeps the first time, and
/// records the second call too.
pub struct RevokeToken {
    /// The token's id.
    pub id: i64,
}

impl Change for RevokeToken {
    type Output = TokenRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<TokenRow, Error> {
        let row = token::revoke(tx.db(), self.id).await?;
        tx.record(None, &row);
        Ok(row)
    }
}

/// The paths of the scope regions, in the order sent.
///
/// # Errors
/// INVALID_ARGUMENT naming `field` for the first region that does not exist.
async fn scope_paths(
    tx: &Tx<'_>,
    field: &str,
    codes: &[RegionCode],
) -> Result<Vec<RegionPath>, Error> {
    let mut paths = Vec::with_capacity(codes.len());
    for code in codes {
        let row = region::get(tx.db(), code)
            .await?
            .ok_or_else(|| Error::invalid(field, format!("{} does not exist", code.name())))?;
        paths.push(RegionPath::from_stored(row.path));
    }
    Ok(paths)
}
