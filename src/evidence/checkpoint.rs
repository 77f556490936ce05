//! Signed checkpoints: a tree size and root hash of the evidence log, signed with Ed25519.
//!
//! This module owns the checkpoint's signed text and the key id: [`Checkpoint::sign`] builds
//! and signs one, [`Checkpoint::verify`] checks it against a public key. It does not load keys
//! (`keys` does), store checkpoints (`store` does) or decide when to make one (the store makes
//! one per recorded run). No I/O and no clock: the caller passes the creation time.
//!
//! The signed body, version 1, is five lines, each ending in `\n`:
//!
//! ```text
//! beweis-checkpoint v1
//! <key id: first 16 hex characters of SHA-256 of the 32-byte public key>
//! <tree size, decimal>
//! <root hash, 64 lowercase hex characters>
//! <created at, RFC 3339 in UTC with whole seconds, e.g. 2024-05-01T12:00:00Z>
//! ```

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// The first line of every checkpoint body.
pub(crate) const HEADER: &str = "beweis-checkpoint v1";

/// A signed statement of the log's size and root hash at a point in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    pub(crate) tree_size: u64,
    pub(crate) root: Hash,
    /// Whole seconds, UTC: the body carries no fractions.
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) key_id: String,
    pub(crate) signature: [u8; 64],
}

/// Why a checkpoint does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CheckpointError {
    /// The checkpoint names a key other than the one it is checked against.
    #[error(
        "checkpoint at tree size {tree_size} is signed by key {found}, expected key {expected}"
    )]
    UnknownKey { tree_size: u64, found: String, expected: String },
    /// The signature does not match the body.
    #[error("checkpoint at tree size {tree_size} has an invalid signature")]
    BadSignature { tree_size: u64 },
}

/// The key id of a public key: the first 16 hex characters of SHA-256 of its 32 bytes.
pub(crate) fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..8])
}

impl Checkpoint {
    /// Signs the tree head (`tree_size`, `root`) at `created_at`, truncated to whole seconds.
    pub(crate) fn sign(
        tree_size: u64,
        root: Hash,
        created_at: DateTime<Utc>,
        key: &SigningKey,
    ) -> Checkpoint {
        let mut checkpoint = Checkpoint {
            tree_size,
            root,
            created_at: created_at.trunc_subsecs(0),
            key_id: key_id(&key.verifying_key()),
            signature: [0; 64],
        };
        checkpoint.signature = key.sign(checkpoint.body().as_bytes()).to_bytes();
        checkpoint
    }

    /// The signed text (see the module documentation).
    pub(crate) fn body(&self) -> String {
        format!(
            "{HEADER}\n{}\n{}\n{}\n{}\n",
            self.key_id,
            self.tree_size,
            hex::encode(self.root),
            self.created_at_text()
        )
    }

    /// The creation time as written in the body.
    pub(crate) fn created_at_text(&self) -> String {
        self.created_at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// Checks that `key` signed this checkpoint.
    pub(crate) fn verify(&self, key: &VerifyingKey) -> Result<(), CheckpointError> {
        let expected = key_id(key);
        if self.key_id != expected {
            return Err(CheckpointError::UnknownKey {
                tree_size: self.tree_size,
                found: self.key_id.clone(),
                expected,
            });
        }
        let signature = Signature::from_bytes(&self.signature);
        key.verify_strict(self.body().as_bytes(), &signature)
            .map_err(|_| CheckpointError::BadSignature { tree_size: self.tree_size })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn signed() -> Checkpoint {
        let at = Utc.timestamp_opt(1_700_000_000, 987_654_321).single().expect("valid time");
        Checkpoint::sign(42, [7; 32], at, &key(1))
    }

    #[test]
    fn body_has_the_documented_lines() {
        let checkpoint = signed();
        let expected = format!(
            "beweis-checkpoint v1\n{}\n42\n{}\n2023-11-14T22:13:20Z\n",
            key_id(&key(1).verifying_key()),
            "07".repeat(32)
        );
        assert_eq!(checkpoint.body(), expected);
        assert_eq!(checkpoint.created_at.timestamp_subsec_nanos(), 0);
    }

    #[test]
    fn key_id_is_16_hex_chars_of_the_key_digest() {
        let public = key(1).verifying_key();
        let id = key_id(&public);
        assert_eq!(id.len(), 16);
        assert_eq!(id, hex::encode(Sha256::digest(public.as_bytes()))[..16]);
        assert_ne!(id, key_id(&key(2).verifying_key()));
    }

    #[test]
    fn a_signed_checkpoint_verifies() {
        assert_eq!(signed().verify(&key(1).verifying_key()), Ok(()));
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let public = key(1).verifying_key();
        let bad = Err(CheckpointError::BadSignature { tree_size: 42 });
        let mut changed = signed();
        changed.root[31] ^= 1;
        assert_eq!(changed.verify(&public), bad);
        let mut changed = signed();
        changed.created_at += chrono::Duration::seconds(1);
        assert_eq!(changed.verify(&public), bad);
        let mut changed = signed();
        changed.signature[0] ^= 1;
        assert_eq!(changed.verify(&public), bad);
        let mut changed = signed();
        changed.tree_size = 43;
        assert_eq!(changed.verify(&public), Err(CheckpointError::BadSignature { tree_size: 43 }));
    }

    #[test]
    fn another_key_is_refused_by_id_then_by_signature() {
        let other = key(2).verifying_key();
        assert!(matches!(signed().verify(&other), Err(CheckpointError::UnknownKey { .. })));
        let mut forged = signed();
        forged.key_id = key_id(&other);
        assert_eq!(forged.verify(&other), Err(CheckpointError::BadSignature { tree_size: 42 }));
    }
}
