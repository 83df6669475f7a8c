//! Automatic monitoring stations: their HJ 212-2017 code (`MN`), their password (`PW`),
//! which the server chooses and keeps only as a salted hash, and what their list filters
//! on.
//!
//! HJ 212-2017 gives a password six characters. Six characters drawn from 62 hold about
//! 36 bits: too few to stand against an offline search of a leaked hash, enough against
//! guesses sent over the wire, which the ingest listener limits per station. The hash is
//! salted per station, so one search finds one password at most.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{
    filter::{self, Condition, filter},
    secret::hex,
};
use crate::error::Error;

/// A station's code: HJ 212-2017's `MN`, 24 letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StationCode(String);

impl StationCode {
    /// The length of an `MN`.
    pub const LEN: usize = 24;

    /// Reads a code sent in `field`.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `field`.
    pub fn parse(field: &str, mn: &str) -> Result<Self, Error> {
        if mn.len() != Self::LEN || !mn.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::invalid(
                field,
                "must be the station's HJ 212-2017 MN: 24 letters and digits, e.g. \
                 \"420381TAOCHA000000000001\"",
            ));
        }
        Ok(Self(mn.to_owned()))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The characters a password is drawn from.
const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The length of a password, as HJ 212-2017 gives `PW`.
pub const PASSWORD_LEN: usize = 6;

/// A station's new password, with what is stored of it.
pub struct NewPassword {
    /// The password, shown once.
    pub password: String,
    /// The salt, in hex.
    pub salt: String,
    /// SHA-256 of the salt and the password, in hex.
    pub hash: String,
}

impl NewPassword {
    /// A fresh random password and salt.
    ///
    /// # Errors
    /// When the system has no randomness to give.
    pub fn generate() -> Result<Self, Error> {
        let mut password = String::with_capacity(PASSWORD_LEN);
        while password.len() < PASSWORD_LEN {
            let mut byte = [0u8; 1];
            getrandom::fill(&mut byte)
                .map_err(|e| anyhow::anyhow!("no randomness for a password: {e}"))?;
            // 248 = 4 × 62: taking only bytes below it keeps every character equally likely.
            if byte[0] < 248 {
                password.push(char::from(ALPHABET[usize::from(byte[0] % 62)]));
            }
        }
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness for a salt: {e}"))?;
        let salt = hex(&salt);
        let hash = password_hash(&salt, &password);
        Ok(Self {
            password,
            salt,
            hash,
        })
    }
}

/// SHA-256 of `salt` (hex, as stored) and `password`, in hex.
pub fn password_hash(salt: &str, password: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(salt.as_bytes());
    digest.update([0]);
    digest.update(password.as_bytes());
    hex(&digest.finalize())
}

/// Whether `password` is the one whose salted hash is stored, compared in constant time.
pub fn password_matches(salt: &str, hash: &str, password: &str) -> bool {
    password_hash(salt, password)
        .as_bytes()
        .ct_eq(hash.as_bytes())
        .into()
}

filter! {
    /// The typed query of `ListMonitoringStations`.
    pub struct StationFilter of "ListMonitoringStations" {
        /// `section = "monitoringSections/…"`.
        "section" => section_id: i64 = filter::id_in("monitoringSections"),
        /// `monitor = "accessTokens/…"`.
        "monitor" => monitor_token_id: i64 = filter::id_in("accessTokens"),
        /// `mn = "…"`.
        "mn" => mn: StationCode = filter::equals(|c: &Condition| {
            StationCode::parse("filter", &c.value)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mn_is_24_letters_and_digits() {
        assert!(StationCode::parse("mn", "420381TAOCHA000000000001").is_ok());
        assert!(StationCode::parse("mn", "420381TAOCHA00000000001").is_err());
        assert!(StationCode::parse("mn", "420381TAOCHA00000000000-").is_err());
        assert!(StationCode::parse("mn", "").is_err());
    }

    #[test]
    fn a_password_is_six_characters_checked_against_its_salted_hash() {
        let Ok(new) = NewPassword::generate() else {
            panic!("no randomness");
        };
        assert_eq!(new.password.len(), PASSWORD_LEN);
        assert!(new.password.bytes().all(|b| ALPHABET.contains(&b)));
        assert!(password_matches(&new.salt, &new.hash, &new.password));
        assert!(!password_matches(&new.salt, &new.hash, "000000"));
        let Ok(other) = NewPassword::generate() else {
            panic!("no randomness");
        };
        assert_ne!(
            password_hash(&new.salt, "abcdef"),
            password_hash(&other.salt, "abcdef"),
            "the salt makes one password's hashes differ"
        );
    }

    #[test]
    fn the_list_filters_on_section_monitor_and_mn() {
        let parsed = StationFilter::parse(
            "section = \"monitoringSections/3\" AND monitor = \"accessTokens/7\" AND \
             mn = \"420381TAOCHA000000000001\"",
        );
        let Ok(filter) = parsed else {
            panic!("{parsed:?}");
        };
        assert_eq!(filter.section_id, Some(3));
        assert_eq!(filter.monitor_token_id, Some(7));
        assert!(StationFilter::parse("mn = \"short\"").is_err());
    }
}
