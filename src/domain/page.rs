//! Keyset pagination: page sizes and opaque page tokens bound to their query.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::error::Error;

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

const VERSION: &str = "1";

/// A short digest of everything that shapes a query except the page itself, so that a
/// token is refused when reused with another filter.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl PageToken {
    /// A token continuing `query` after the row with key `after`.
    pub fn new(query: &str, after: String) -> Self {
        Self {
            query: query.to_owned(),
            after,
        }
    }

    /// The token as sent to clients.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{VERSION}|{}|{}", self.query, self.after))
    }

    /// Reads a token sent back for the query with fingerprint `query`; an empty token
    /// means the first page.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `page_token` when it is malformed or was made for another query.
    pub fn decode(token: &str, query: &str) -> Result<Option<Self>, Error> {
        if token.is_empty() {
            return Ok(None);
        }
        let malformed = || Error::invalid("page_token", "is not a token this server issued");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| malformed())?;
        let text = String::from_utf8(bytes).map_err(|_| malformed())?;
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
}

impl Page {
    /// Reads `page_size` and `page_token` for the query described by `query_parts`
    /// (everything that shapes the result but the page).
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `page_size` or `page_token`.
    pub fn open(page_size: i32, page_token: &str, query_parts: &[&str]) -> Result<Self, Error> {
        let query = fingerprint(query_parts);
        match (
            self::page_size(page_size),
            PageToken::decode(page_token, &query),
        ) {
            (Ok(size), Ok(token)) => Ok(Self {
                size,
                after: token.map(|t| t.after),
                query,
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
                .map(|last| PageToken::new(&self.query, key(last)).encode())
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
        let q = fingerprint(&["pairings", "state = ACTIVE"]);
        let token = PageToken::new(&q, "42".into()).encode();
        assert_eq!(PageToken::decode(&token, &q).unwrap().unwrap().after, "42");
        let other = fingerprint(&["pairings", "state = ENDED"]);
        assert!(PageToken::decode(&token, &other).is_err());
        assert!(PageToken::decode("not a token", &q).is_err());
        assert_eq!(PageToken::decode("", &q).unwrap(), None);
    }

    #[test]
    fn fingerprints_do_not_run_parts_together() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
    }
}
