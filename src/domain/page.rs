//! Keyset pagination: page sizes and opaque page tokens bound to their query and signed
//! with the server's key (an HMAC, shared by every server of the database), so that a
//! caller can neither forge one nor change the key it continues after.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::{
    domain::secret::{Secret, hex, hex_bytes},
    error::Error,
};

/// The page size when a request gives none.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// The largest page; larger requests are lowered to it.
pub const MAX_PAGE_SIZE: u64 = 1000;

/// Turns a requested page size into the number of rows to return.
///
/// # Errors
/// INVALID_ARGUMENT on `page_size` when it is negative.
pub fn page_size(requested: i32) -> Result<u64, Error> {
    match requested {
        n if n < 0 => Err(Error::invalid("page_size", "must not be negative")),
        0 => Ok(DEFAULT_PAGE_SIZE),
        n => Ok((n as u64).min(MAX_PAGE_SIZE)),
    }
}

/// What a page token carries: the query it belongs to and the key of the last row sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken {
    query: String,
    /// The sort key of the last row of the previous page.
    pub after: String,
}

const VERSION: &str = "2";

/// The bytes of a token's signature: half an HMAC-SHA256, as many as a forger must guess.
const TAG_BYTES: usize = 16;

/// A short digest of everything that shapes a query except the page itself, so that a
/// token is refused when reused with another filter.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hex(&hash.finalize()[..12])
}

impl PageToken {
    /// A token continuing `query` after the row with key `after`.
    pub fn new(query: &str, after: String) -> Self {
        Self {
            query: query.to_owned(),
            after,
        }
    }

    /// The token as sent to clients, signed with `key`.
    pub fn encode(&self, key: &Secret) -> String {
        let payload = format!("{VERSION}|{}|{}", self.query, self.after);
        let tag = key.mac(&[b"page_token", payload.as_bytes()]);
        URL_SAFE_NO_PAD.encode(format!("{payload}|{}", hex(&tag[..TAG_BYTES])))
    }

    /// Reads a token sent back for the query with fingerprint `query`, signed with `key`;
    /// an empty token means the first page.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `page_token` when it is malformed, not signed with `key`, or was
    /// made for another query.
    pub fn decode(token: &str, query: &str, key: &Secret) -> Result<Option<Self>, Error> {
        if token.is_empty() {
            return Ok(None);
        }
        let malformed = || Error::invalid("page_token", "is not a token this server issued");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| malformed())?;
        let signed = String::from_utf8(bytes).map_err(|_| malformed())?;
        let (text, tag) = signed.rsplit_once('|').ok_or_else(malformed)?;
        let tag: [u8; TAG_BYTES] = hex_bytes(tag).ok_or_else(malformed)?;
        if !key.verify(&[b"page_token", text.as_bytes()], &tag) {
            return Err(malformed());
        }
        let mut parts = text.splitn(3, '|');
        let (Some(VERSION), Some(made_for), Some(after)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        if made_for != query {
            return Err(Error::invalid(
                "page_token",
                "belongs to a different query: send the same filter, order_by and \
                 show_deleted as the request that returned it",
            ));
        }
        Ok(Some(Self::new(query, after.to_owned())))
    }
}

/// One page of a list request: how many rows, and after which key.
#[derive(Debug, Clone)]
pub struct Page {
    /// Rows on this page.
    pub size: u64,
    /// The key after which this page starts.
    pub after: Option<String>,
    query: String,
    key: Secret,
}

impl Page {
    /// Reads `page_size` and `page_token` (signed with `key`) for the query described by
    /// `query_parts` (everything that shapes the result but the page).
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `page_size` or `page_token`.
    pub fn open(
        key: &Secret,
        page_size: i32,
        page_token: &str,
        query_parts: &[&str],
    ) -> Result<Self, Error> {
        let query = fingerprint(query_parts);
        match (
            self::page_size(page_size),
            PageToken::decode(page_token, &query, key),
        ) {
            (Ok(size), Ok(token)) => Ok(Self {
                size,
                after: token.map(|t| t.after),
                query,
                key: key.clone(),
            }),
            (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
            (Err(a), Err(b)) => Err(a.merge(b)),
        }
    }

    /// The key after which this page starts, for lists keyed by a numeric id.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `page_token` when the key is not a number.
    pub fn after_id(&self) -> Result<Option<i64>, Error> {
        self.after
            .as_deref()
            .map(str::parse::<i64>)
            .transpose()
            .map_err(|_| Error::invalid("page_token", "is not a token this server issued"))
    }

    /// The key after which this page starts, for lists keyed by two numbers joined by `_`
    /// (a time in microseconds and an id).
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `page_token` when the key is not two numbers.
    pub fn after_pair(&self) -> Result<Option<(i64, i64)>, Error> {
        self.after
            .as_deref()
            .map(|key| {
                let (a, b) = key.split_once('_')?;
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .map(|pair| {
                pair.ok_or_else(|| {
                    Error::invalid("page_token", "is not a token this server issued")
                })
            })
            .transpose()
    }

    /// How many rows to fetch: one more than the page, to learn whether another follows.
    pub fn fetch(&self) -> u64 {
        self.size + 1
    }

    /// Cuts the fetched rows to the page and makes the token of the next page, empty on
    /// the last.
    pub fn close<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> String) -> (Vec<T>, String) {
        if rows.len() as u64 > self.size {
            rows.truncate(self.size as usize);
            let next = rows
                .last()
                .map(|last| PageToken::new(&self.query, key(last)).encode(&self.key))
                .unwrap_or_default();
            (rows, next)
        } else {
            (rows, String::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_and_cap() {
        assert_eq!(page_size(0).unwrap(), 50);
        assert_eq!(page_size(7).unwrap(), 7);
        assert_eq!(page_size(5000).unwrap(), 1000);
        assert!(page_size(-1).is_err());
    }

    #[test]
    fn tokens_round_trip_for_their_query_only() {
        let key = Secret::generate().unwrap();
        let q = fingerprint(&["pairings", "state = ACTIVE"]);
        let token = PageToken::new(&q, "42".into()).encode(&key);
        assert_eq!(
            PageToken::decode(&token, &q, &key).unwrap().unwrap().after,
            "42"
        );
        let other = fingerprint(&["pairings", "state = ENDED"]);
        assert!(PageToken::decode(&token, &other, &key).is_err());
        assert!(PageToken::decode("not a token", &q, &key).is_err());
        assert_eq!(PageToken::decode("", &q, &key).unwrap(), None);
    }

    #[test]
    fn a_forged_or_foreign_token_is_refused() {
        let (key, other_key) = (Secret::generate().unwrap(), Secret::generate().unwrap());
        let q = fingerprint(&["pairings", ""]);
        // The unsigned form of the first version, with a key the caller chose.
        let unsigned = URL_SAFE_NO_PAD.encode(format!("1|{q}|1000000"));
        assert!(PageToken::decode(&unsigned, &q, &key).is_err());
        // A token of another database's servers.
        let foreign = PageToken::new(&q, "7".into()).encode(&other_key);
        assert!(PageToken::decode(&foreign, &q, &key).is_err());
        // A real token whose key is changed, its signature kept.
        let real = PageToken::new(&q, "7".into()).encode(&key);
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(&real).unwrap()).unwrap();
        let changed = URL_SAFE_NO_PAD.encode(text.replacen("|7|", "|8|", 1));
        assert!(PageToken::decode(&changed, &q, &key).is_err());
        assert!(PageToken::decode(&real, &q, &key).is_ok());
    }

    #[test]
    fn fingerprints_do_not_run_parts_together() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
    }
}
