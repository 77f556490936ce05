//! The feed's proofs: the checkpoint file and `proof.json`.
//!
//! The `checkpoint` file is the signed body of `evidence::checkpoint` (five lines), an empty line,
//! and the Ed25519 signature in standard base64 on the seventh line. `proof.json` ([`ProofFile`])
//! ties `status.json` to it and to the checkpoint published before; the chain links ([`ChainLink`],
//! `chain/<size>.json`) tie every published checkpoint to the next, so that a visitor can prove
//! consistency from any checkpoint it saw. Proofs are computed by `evidence::merkle` over the leaf
//! hashes the store returns; this module only chooses which proofs to publish and how they are
//! spelled (lowercase hex).

use base64::Engine as _;
use chrono::DateTime;

use super::schema::{ChainLink, ConsistencyProof, ProofFile, PROOF_VERSION};
use super::FeedError;
use crate::evidence::checkpoint::{Checkpoint, HEADER};
use crate::evidence::merkle::{Extension, Hash};
use crate::store::{StatusReceipt, Store};

/// The text of the `checkpoint` file.
pub(crate) fn checkpoint_text(checkpoint: &Checkpoint) -> String {
    let signature = base64::engine::general_purpose::STANDARD.encode(checkpoint.signature);
    format!("{}\n{signature}\n", checkpoint.body())
}

/// Parses a `checkpoint` file; the signature is not checked here.
pub(crate) fn parse_checkpoint(text: &str) -> Result<Checkpoint, String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let [header, key_id, size, root, created, blank, signature, end] = lines.as_slice() else {
        return Err(format!("expected 7 lines, found {}", lines.len().saturating_sub(1)));
    };
    if *header != HEADER || !blank.is_empty() || !end.is_empty() {
        return Err(format!("not a {HEADER} checkpoint"));
    }
    let tree_size = size.parse().map_err(|_| format!("bad tree size {size:?}"))?;
    let root = parse_hash(root).ok_or_else(|| format!("bad root hash {root:?}"))?;
    let created_at = DateTime::parse_from_rfc3339(created)
        .map_err(|_| format!("bad creation time {created:?}"))?
        .to_utc();
    let signature: [u8; 64] = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("bad signature encoding")?;
    let checkpoint =
        Checkpoint { tree_size, root, created_at, key_id: (*key_id).to_owned(), signature };
    if checkpoint.body().lines().nth(4) != Some(*created) {
        return Err(format!("creation time {created:?} is not in canonical form"));
    }
    Ok(checkpoint)
}

/// A 64-character lowercase hex hash.
pub(crate) fn parse_hash(text: &str) -> Option<Hash> {
    if text.len() != 64 || text.chars().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    hex::decode(text).ok()?.try_into().ok()
}

/// Hex-encodes a list of hashes.
pub(crate) fn hex_list(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

/// Decodes a list of hex hashes.
pub(crate) fn parse_hash_list(list: &[String]) -> Option<Vec<Hash>> {
    list.iter().map(|h| parse_hash(h)).collect()
}

/// What one publication proves: `proof.json`, and the chain link from the checkpoint published
/// before (none on the first publication).
pub(crate) struct Proofs {
    pub(crate) file: ProofFile,
    pub(crate) link: Option<ChainLink>,
}

/// Computes the proofs for a status leaf under `receipt.checkpoint`; `evidence_size` is the
/// tree size of the evidence head the document was evaluated over.
///
/// Only the leaves after the previous publication (or after the evidence head) are read: the
/// older part of the tree is known by the compact range stored with its checkpoint, so a
/// publication costs O(leaves since the last one + log n), not O(n).
pub(crate) async fn proofs(
    store: &Store,
    receipt: &StatusReceipt,
    evidence_size: u64,
) -> Result<Proofs, FeedError> {
    let size = receipt.checkpoint.tree_size;
    let previous = store.published_heads(size, 1).await?.into_iter().next();
    let base_size = previous.as_ref().map_or(evidence_size, |p| p.tree_size.min(evidence_size));
    let base = store.range_at(base_size).await?;
    let appended = store.leaf_hashes_between(base_size, size).await?;
    let tree = Extension::new(&base, &appended);
    let inclusion = tree.inclusion_proof(receipt.seq)?;
    let evidence_consistency = tree.consistency_proof(evidence_size)?;
    let mut consistency = Vec::new();
    let mut link = None;
    if let Some(earlier) = previous {
        let proof = hex_list(&tree.consistency_proof(earlier.tree_size)?);
        let from_root = hex::encode(earlier.root);
        link = Some(ChainLink {
            version: PROOF_VERSION,
            from_tree_size: earlier.tree_size,
            from_root: from_root.clone(),
            checkpoint: checkpoint_text(&receipt.checkpoint),
            proof: proof.clone(),
        });
        consistency.push(ConsistencyProof { from_tree_size: earlier.tree_size, from_root, proof });
    }
    let file = ProofFile {
        version: PROOF_VERSION,
        document_sha256: receipt.document_sha256.clone(),
        leaf_index: receipt.seq,
        tree_size: size,
        inclusion: hex_list(&inclusion),
        evidence_consistency: hex_list(&evidence_consistency),
        consistency,
    };
    Ok(Proofs { file, link })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use ed25519_dalek::SigningKey;

    use super::*;

    fn checkpoint() -> Checkpoint {
        let at = chrono::Utc.timestamp_opt(1_700_000_000, 0).single().expect("valid time");
        Checkpoint::sign(12, [3; 32], at, &SigningKey::from_bytes(&[5; 32]))
    }

    #[test]
    fn checkpoint_text_round_trips() {
        let text = checkpoint_text(&checkpoint());
        assert_eq!(text.lines().count(), 7);
        assert!(text.starts_with("beweis-checkpoint v1\n"));
        assert_eq!(parse_checkpoint(&text), Ok(checkpoint()));
    }

    #[test]
    fn malformed_checkpoints_are_refused() {
        let text = checkpoint_text(&checkpoint());
        assert!(parse_checkpoint(&text[..text.len() - 1]).is_err());
        assert!(parse_checkpoint(&text.replace("\n12\n", "\n12x\n")).is_err());
        assert!(parse_checkpoint(&text.replace("v1", "v2")).is_err());
        let upper = text.replace(&"03".repeat(32), &"0A".repeat(32));
        assert!(parse_checkpoint(&upper).is_err());
        let spelled = text.replace("2023-11-14T22:13:20Z", "2023-11-14T23:13:20+01:00");
        assert!(parse_checkpoint(&spelled).is_err());
        assert!(parse_checkpoint("").is_err());
    }

    #[test]
    fn hashes_are_64_lowercase_hex() {
        assert_eq!(parse_hash(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(parse_hash(&"AB".repeat(32)), None);
        assert_eq!(parse_hash(&"ab".repeat(31)), None);
        assert_eq!(parse_hash_list(&hex_list(&[[1; 32], [2; 32]])), Some(vec![[1; 32], [2; 32]]));
    }
}
