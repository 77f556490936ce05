//! The auditor bundle: `beweis export --bundle FILE.tar.zst`.
//!
//! A zstd-compressed tar archive, written atomically, holding what an auditor needs to check the
//! published statuses against the evidence without access to the host:
//!
//! - `feed/`: the newest published `status.json`, the newest signed `checkpoint`, `proof.json`
//!   for them and `signing.pub`, so `beweis verify-feed feed --key feed/signing.pub` works;
//! - `evidence/observations.jsonl`: the evidence records of the period, one JSON object per line
//!   (facts, custody, log position, payload SHA-256);
//! - `log/leaf_hashes.txt`: every leaf hash up to the checkpoint, to recompute its root and each
//!   record's leaf;
//! - `log/checkpoints.jsonl`: every checkpoint signed in the period, each checkable against a
//!   prefix of the leaf hashes;
//! - `feed.salt.hex`: the salt of the public digests (confidential: it lets the holder match
//!   public digests with evidence);
//! - `README.md`: how to verify all of it.
//!
//! Read-only on the store. Unlike the public feed, the bundle contains evidence in full.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;

use super::proofs::{checkpoint_text, proofs};
use super::schema::StatusDocument;
use super::{files, FeedError};
use crate::store::{ObservationFilter, StatusReceipt, Store};

/// The most evidence records a bundle holds.
const MAX_RECORDS: u32 = 1_000_000;

/// What goes into a bundle.
pub(crate) struct BundleOptions<'a> {
    pub(crate) path: &'a Path,
    /// Evidence records collected at or after this time.
    pub(crate) since: DateTime<Utc>,
    pub(crate) salt: &'a [u8],
    pub(crate) public_key: &'a VerifyingKey,
}

/// What a bundle holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BundleSummary {
    pub(crate) path: PathBuf,
    pub(crate) records: usize,
    pub(crate) tree_size: u64,
    pub(crate) with_status: bool,
}

/// Writes the bundle (see the module documentation).
pub(crate) async fn export_bundle(
    store: &Store,
    options: &BundleOptions<'_>,
) -> Result<BundleSummary, FeedError> {
    let checkpoint = store.latest_checkpoint().await?.ok_or_else(|| {
        FeedError::Evaluate("the evidence log is empty: nothing to bundle".into())
    })?;
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let public = format!("{}\n", hex::encode(options.public_key.as_bytes()));
    entries.push((format!("feed/{}", files::PUBLIC_KEY), public.into_bytes()));
    entries.push((format!("feed/{}", files::CHECKPOINT), checkpoint_text(&checkpoint).into()));
    let status = store.latest_status().await?;
    let with_status = status.is_some();
    if let Some((seq, document)) = status {
        let evidence_size = serde_json::from_slice::<StatusDocument>(&document)
            .ok()
            .and_then(|d| d.evidence_log)
            .map_or(0, |head| head.tree_size);
        let document_sha256 = crate::evidence::payload_sha256(&document);
        let receipt = StatusReceipt { seq, document_sha256, checkpoint: checkpoint.clone() };
        let proof = proofs(store, &receipt, evidence_size).await?.file;
        entries.push((format!("feed/{}", files::PROOF), json_bytes(&proof, "proof file")?));
        entries.push((format!("feed/{}", files::STATUS), document));
    }
    let records = evidence_lines(store, options.since).await?;
    let count = records.iter().filter(|b| **b == b'\n').count();
    entries.push(("evidence/observations.jsonl".into(), records));
    let checkpoints = store.checkpoints_since(options.since, MAX_RECORDS).await?;
    let lines: String = checkpoints.iter().map(checkpoint_line).collect();
    entries.push(("log/checkpoints.jsonl".into(), lines.into_bytes()));
    let leaves = store.leaf_hashes(checkpoint.tree_size).await?;
    let hashes: String = leaves.iter().map(|h| hex::encode(h) + "\n").collect();
    entries.push(("log/leaf_hashes.txt".into(), hashes.into_bytes()));
    entries.push(("feed.salt.hex".into(), format!("{}\n", hex::encode(options.salt)).into()));
    entries.push(("README.md".into(), README.as_bytes().to_vec()));
    write_archive(options.path, &entries)?;
    Ok(BundleSummary {
        path: options.path.to_path_buf(),
        records: count,
        tree_size: checkpoint.tree_size,
        with_status,
    })
}

/// One signed checkpoint as a JSON line: tree size, root (hex), time, key id and the base64
/// signature over the body of the `checkpoint` file format.
fn checkpoint_line(checkpoint: &crate::evidence::Checkpoint) -> String {
    let text = checkpoint_text(checkpoint);
    let signature = text.lines().nth(6).unwrap_or_default();
    let line = serde_json::json!({
        "tree_size": checkpoint.tree_size,
        "root": hex::encode(checkpoint.root),
        "created_at": checkpoint.created_at_text(),
        "key_id": checkpoint.key_id,
        "signature": signature,
    });
    format!("{line}\n")
}

/// The evidence records since `since`, oldest first, one JSON object per line.
async fn evidence_lines(store: &Store, since: DateTime<Utc>) -> Result<Vec<u8>, FeedError> {
    let filter = ObservationFilter { instance: None, since: Some(since), limit: MAX_RECORDS };
    let rows = store.observations(&filter).await?;
    let mut out = Vec::new();
    for row in rows.iter().rev() {
        if let Some(detail) = store.observation(row.id).await? {
            out.extend(json_line(&detail)?);
        }
    }
    Ok(out)
}

fn json_line<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, FeedError> {
    let mut line = serde_json::to_vec(value)
        .map_err(|source| FeedError::Serialize { what: "evidence record", source })?;
    line.push(b'\n');
    Ok(line)
}

fn json_bytes<T: serde::Serialize>(value: &T, what: &'static str) -> Result<Vec<u8>, FeedError> {
    let mut bytes =
        serde_json::to_vec_pretty(value).map_err(|source| FeedError::Serialize { what, source })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes `entries` as a zstd-compressed tar to `path`, through a temporary file and a rename.
fn write_archive(path: &Path, entries: &[(String, Vec<u8>)]) -> Result<(), FeedError> {
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FeedError::Write { path, source }
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.tmp"));
    let file = std::fs::File::create(&temp).map_err(failed(&temp))?;
    let encoder = zstd::stream::write::Encoder::new(file, 10).map_err(failed(&temp))?;
    let mut archive = tar::Builder::new(encoder);
    let mtime = Utc::now().timestamp().max(0) as u64;
    for (entry, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        archive.append_data(&mut header, entry, bytes.as_slice()).map_err(failed(&temp))?;
    }
    let encoder = archive.into_inner().map_err(failed(&temp))?;
    let mut file = encoder.finish().map_err(failed(&temp))?;
    file.flush().map_err(failed(&temp))?;
    file.sync_all().map_err(failed(&temp))?;
    std::fs::rename(&temp, path).map_err(failed(path))
}

const README: &str = "\
# beweis auditor bundle

This archive lets you check a beweis host's published statuses against its evidence.

- `feed/`: the newest published status document, the newest signed checkpoint, the proof
  tying them together and the host's public key. Compare the key's fingerprint (the first 16
  hex characters of SHA-256 over the 32 key bytes) with one you obtained from the operator,
  then run `beweis verify-feed feed --key feed/signing.pub --max-age-hours 100000` (the
  bundle may be older than a day).
- `log/leaf_hashes.txt`: the RFC 6962 leaf hashes of the evidence log, in order, up to the
  checkpoint. Their Merkle tree hash (RFC 6962 section 2.1) must equal the checkpoint's root.
- `log/checkpoints.jsonl`: every checkpoint the host signed in the exported period. For each,
  the Merkle tree hash of the first `tree_size` leaf hashes must equal `root`, and `signature`
  must verify with the public key over the first five lines of the `checkpoint` file format
  (`beweis-checkpoint v1`, key id, tree size, root, time).
- `evidence/observations.jsonl`: the evidence records of the exported period. For each record,
  SHA-256 of the canonical `facts` (compact JSON, keys sorted) must equal `row.payload_sha256`,
  and
  the canonical observation leaf (see beweis's `src/evidence`) hashed as
  SHA-256(0x00 || leaf) must equal line `row.seq + 1` of `log/leaf_hashes.txt`.
- `feed.salt.hex`: the salt of the public `salted_digest` values: SHA-256(salt || digest) for
  the evidence digest of a control. Keep it confidential.
";

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;
    use crate::feed::tests::Host;

    #[tokio::test]
    async fn the_bundle_holds_a_verifiable_feed_and_the_evidence() {
        let host = Host::rich(60).await;
        host.collect().await;
        host.publish().await;
        host.collect().await;
        let path = host.dir.path().join("bundle.tar.zst");
        let since = Utc::now() - chrono::Duration::days(1);
        let public = host.public();
        let options = BundleOptions { path: &path, since, salt: b"test salt", public_key: &public };
        let summary = export_bundle(&host.store, &options).await.expect("bundle");
        assert_eq!(summary.records, 4);
        assert!(summary.with_status);
        let file = std::fs::File::open(&path).expect("open bundle");
        let mut archive = tar::Archive::new(zstd::stream::read::Decoder::new(file).expect("zstd"));
        let out = host.dir.path().join("unpacked");
        let mut names = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let name = entry.path().expect("path").display().to_string();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).expect("read");
            let target = out.join(&name);
            std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
            std::fs::write(target, bytes).expect("write");
            names.push(name);
        }
        let expected = [
            "feed/signing.pub",
            "feed/checkpoint",
            "feed/proof.json",
            "feed/status.json",
            "evidence/observations.jsonl",
            "log/checkpoints.jsonl",
            "log/leaf_hashes.txt",
            "feed.salt.hex",
            "README.md",
        ];
        assert_eq!(names, expected);
        let leaves = std::fs::read_to_string(out.join("log/leaf_hashes.txt")).expect("leaves");
        assert_eq!(leaves.lines().count() as u64, summary.tree_size);
        let hashes: Vec<crate::evidence::merkle::Hash> = leaves
            .lines()
            .map(|l| crate::feed::proofs::parse_hash(l).expect("a leaf hash"))
            .collect();
        let checkpoints = std::fs::read_to_string(out.join("log/checkpoints.jsonl")).expect("x");
        let mut sizes = Vec::new();
        for line in checkpoints.lines() {
            let c: serde_json::Value = serde_json::from_str(line).expect("json");
            let size = c["tree_size"].as_u64().expect("size");
            let root = crate::evidence::merkle::root(&hashes[..size as usize]);
            assert_eq!(c["root"], hex::encode(root), "checkpoint {size} matches the leaves");
            let text = format!(
                "beweis-checkpoint v1\n{}\n{size}\n{}\n{}\n\n{}\n",
                c["key_id"].as_str().expect("key id"),
                c["root"].as_str().expect("root"),
                c["created_at"].as_str().expect("time"),
                c["signature"].as_str().expect("signature")
            );
            let parsed = crate::feed::proofs::parse_checkpoint(&text).expect("checkpoint form");
            parsed.verify(&public).expect("signed by the host");
            sizes.push(size);
        }
        assert!(sizes.len() >= 4, "two collections and a publication: {sizes:?}");
        assert_eq!(sizes.last(), Some(&summary.tree_size));
        let state = host.dir.path().join("auditor-state.json");
        let options = crate::feed::verify_feed::VerifyFeedOptions {
            dir: &out.join("feed"),
            key: &public,
            state: Some(&state),
            max_age: chrono::Duration::hours(1),
            now: Utc::now(),
        };
        let report = crate::feed::verify_feed::verify_feed(&options).expect("runs");
        let report = report.expect("the bundled feed verifies against the newest checkpoint");
        assert_eq!(report.tree_size, summary.tree_size);
        let records = std::fs::read_to_string(out.join("evidence/observations.jsonl")).expect("x");
        let first: serde_json::Value =
            serde_json::from_str(records.lines().next().expect("a record")).expect("json");
        assert!(first["facts"].is_object(), "{first}");
        let facts = crate::evidence::payload_bytes(&first["facts"]);
        let sha = crate::evidence::payload_sha256(&facts);
        assert_eq!(first["row"]["payload_sha256"], sha.as_str(), "payload digest recomputes");
    }
}
