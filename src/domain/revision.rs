//! Revisions and etags (AIP-154): every stored resource counts its changes, and a change
//! that names the revision it read is refused once another came first.

use crate::error::Error;

/// The etag of a stored revision.
pub fn etag(revision: i64) -> String {
    format!("\"{revision}\"")
}

/// Refuses a stale etag; an empty one skips the check.
///
/// # Errors
/// ABORTED `ETAG_MISMATCH`.
pub fn check_etag(sent: &str, revision: i64) -> Result<(), Error> {
    if sent.is_empty() || sent == etag(revision) {
        Ok(())
    } else {
        Err(Error::Aborted {
            reason: "ETAG_MISMATCH",
            message: "the resource changed since it was read: read it again and retry".to_owned(),
        })
    }
}
