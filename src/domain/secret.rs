//! Server secrets: random keys kept in the database, so that every server of one database
//! shares them, and the keyed hashes made with them. Page tokens are signed with one; the
//! rate limit of public reports keys client addresses with one that changes every day and
//! is forgotten the day after, so that a stored key cannot be traced back to an address.

use hmac::{Hmac, Mac, digest::KeyInit};
use sha2::Sha256;

use crate::error::Error;

/// The bytes of a key: SHA-256's block size, the length HMAC-SHA256 takes a key as is.
const KEY_BYTES: usize = 64;

/// A 512-bit key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret([u8; KEY_BYTES]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// A fresh random key.
    ///
    /// # Errors
    /// When the system has no randomness to give.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = [0u8; KEY_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
        Ok(Self(bytes))
    }

    /// The key of its stored hex form.
    ///
    /// # Errors
    /// When the stored text is not 128 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        let bytes = hex_bytes(text).ok_or_else(|| anyhow::anyhow!("a stored secret is damaged"))?;
        Ok(Self(bytes))
    }

    /// The key as stored: 128 hex digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// The HMAC-SHA256 of `parts` under this key, each part length-prefixed so that no two
    /// different lists of parts give the same input.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&self.0.into());
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` is the first `tag.len()` bytes of the MAC of `parts`, compared in
    /// constant time.
    pub fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let full = self.mac(parts);
        tag.len() >= 16
            && tag.len() <= full.len()
            && full[..tag.len()]
                .iter()
                .zip(tag)
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

/// Lower-case hex of `bytes`: how keys, digests and hashes are written everywhere.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * bytes.len());
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    text
}

/// The bytes of a hex text of exactly `N` bytes.
pub fn hex_bytes<const N: usize>(text: &str) -> Option<[u8; N]> {
    hex_to_bytes(text)?.try_into().ok()
}

/// The bytes of a hex text of any length, of either case.
pub fn hex_to_bytes(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_survives_its_stored_form_and_signs_alike() -> Result<(), Error> {
        let key = Secret::generate()?;
        let again = Secret::from_hex(&key.to_hex())?;
        assert_eq!(key.mac(&[b"a", b"b"]), again.mac(&[b"a", b"b"]));
        Ok(())
    }

    #[test]
    fn parts_are_kept_apart_and_keys_differ() -> Result<(), Error> {
        let (one, two) = (Secret::generate()?, Secret::generate()?);
        assert_ne!(one.mac(&[b"ab", b"c"]), one.mac(&[b"a", b"bc"]));
        assert_ne!(one.mac(&[b"x"]), two.mac(&[b"x"]));
        Ok(())
    }

    #[test]
    fn verify_takes_a_prefix_of_sixteen_bytes_or_more_and_nothing_else() -> Result<(), Error> {
        let key = Secret::generate()?;
        let tag = key.mac(&[b"page"]);
        assert!(key.verify(&[b"page"], &tag[..16]));
        assert!(key.verify(&[b"page"], &tag));
        assert!(!key.verify(&[b"page"], &tag[..8]));
        assert!(!key.verify(&[b"pages"], &tag[..16]));
        let mut forged = tag;
        forged[3] ^= 1;
        assert!(!key.verify(&[b"page"], &forged[..16]));
        Ok(())
    }

    #[test]
    fn hex_is_lower_case_two_digits_a_byte_and_reads_back() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex_bytes::<4>("000fa0ff"), Some([0x00, 0x0f, 0xa0, 0xff]));
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn damaged_stored_keys_are_refused() {
        assert!(Secret::from_hex("zz").is_err());
        assert!(Secret::from_hex(&"0".repeat(127)).is_err());
        assert!(Secret::from_hex(&"é".repeat(64)).is_err());
    }
}
