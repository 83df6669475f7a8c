//! Signed checkpoints of the audit log: the tree's size and root at a time, signed with
//! Ed25519 so that anyone holding the public key can check them.

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, SubsecRound, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use super::merkle::Hash;

/// The first line of every signed checkpoint text.
const HEADER: &str = "duikou audit checkpoint v1";

/// The size and root of the log at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Number of events.
    pub tree_size: u64,
    /// The Merkle tree head.
    pub root: Hash,
    /// When it was signed, to the second.
    pub time: DateTime<Utc>,
}

impl Checkpoint {
    /// A checkpoint of `tree_size` events with `root`, made now.
    pub fn now(tree_size: u64, root: Hash) -> Self {
        Self {
            tree_size,
            root,
            time: Utc::now().trunc_subsecs(0),
        }
    }

    /// The text that is signed: a header line, the size, the root in hex and the time,
    /// each on its own line.
    pub fn text(&self) -> String {
        let root = crate::domain::secret::hex(&self.root);
        format!(
            "{HEADER}\n{}\n{root}\n{}\n",
            self.tree_size,
            self.time.format("%Y-%m-%dT%H:%M:%SZ")
        )
    }

    /// Reads a signed text back.
    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = text.strip_suffix('\n')?.split('\n');
        if lines.next()? != HEADER {
            return None;
        }
        let tree_size = lines.next()?.parse().ok()?;
        let hex = lines.next()?;
        let time = DateTime::parse_from_rfc3339(lines.next()?)
            .ok()?
            .with_timezone(&Utc);
        if lines.next().is_some() || hex.len() != 64 {
            return None;
        }
        let mut root = [0u8; 32];
        for (i, byte) in root.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self {
            tree_size,
            root,
            time,
        })
    }
}

/// The key that signs checkpoints.
#[derive(Clone)]
pub struct AuditKey(SigningKey);

impl AuditKey {
    /// The key with this 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// The seed, for keeping the key in a file.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key, base64, as `duikou audit public-key` prints it.
    pub fn public_key(&self) -> String {
        STANDARD.encode(self.0.verifying_key().as_bytes())
    }

    /// Signs a checkpoint's text.
    pub fn sign(&self, checkpoint: &Checkpoint) -> Vec<u8> {
        self.0
            .sign(checkpoint.text().as_bytes())
            .to_bytes()
            .to_vec()
    }
}

/// Checks a signed checkpoint text with a base64 public key; returns the checkpoint when
/// the signature holds.
pub fn verify_signed(public_key: &str, text: &str, signature: &[u8]) -> Option<Checkpoint> {
    let key: [u8; 32] = STANDARD.decode(public_key.trim()).ok()?.try_into().ok()?;
    let key = VerifyingKey::from_bytes(&key).ok()?;
    let signature = Signature::from_slice(signature).ok()?;
    key.verify(text.as_bytes(), &signature).ok()?;
    Checkpoint::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_checkpoint_verifies_and_reads_back() {
        let key = AuditKey::from_seed([7; 32]);
        let checkpoint = Checkpoint::now(42, [9; 32]);

        let signature = key.sign(&checkpoint);

        assert_eq!(
            verify_signed(&key.public_key(), &checkpoint.text(), &signature),
            Some(checkpoint)
        );
    }

    #[test]
    fn a_changed_text_or_another_key_fails() {
        let key = AuditKey::from_seed([7; 32]);
        let checkpoint = Checkpoint::now(42, [9; 32]);
        let signature = key.sign(&checkpoint);
        let forged = Checkpoint::now(43, [9; 32]);
        let other = AuditKey::from_seed([8; 32]);

        assert_eq!(
            verify_signed(&key.public_key(), &forged.text(), &signature),
            None
        );
        assert_eq!(
            verify_signed(&other.public_key(), &checkpoint.text(), &signature),
            None
        );
        assert_eq!(
            verify_signed("not base64", &checkpoint.text(), &signature),
            None
        );
    }
}
