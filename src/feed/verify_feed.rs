//! `beweis verify-feed`: the visitor's and auditor's check of a published feed directory.
//!
//! Given the feed files and a public key obtained out of band, it checks, in this order: the
//! checkpoint's key and signature; that `status.json` is the document whose hash the proof names;
//! the inclusion of the status leaf in the signed tree; that the evidence head the document was
//! evaluated over is a prefix of the signed tree; consistency with the checkpoint seen last (kept
//! in a state file), through `proof.json` or the chain links of every publication since; and
//! freshness. The set is read from the generation directory of the checkpoint read first, so a
//! publication in progress is never mixed in. Each failure is a distinct [`FeedProblem`]. The state
//! file is updated only after everything passed, so a rejected feed never becomes the new
//! reference. Pure apart from reading the files and writing the state.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::proofs::{parse_checkpoint, parse_hash, parse_hash_list};
use super::schema::{
    ChainLink, ConsistencyProof, ProofFile, StatusDocument, PROOF_VERSION, SCHEMA_NAME,
    SCHEMA_VERSION,
};
use super::{files, write_atomically};
use crate::evidence::checkpoint::{Checkpoint, CheckpointError};
use crate::evidence::{merkle, status_leaf};

/// How far in the future a document's time may lie (clock skew).
const MAX_SKEW_SECS: i64 = 300;

/// What to verify and against what.
#[derive(Debug, Clone)]
pub(crate) struct VerifyFeedOptions<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) key: &'a VerifyingKey,
    /// The state file holding the checkpoint seen last; created on first use.
    pub(crate) state: Option<&'a Path>,
    /// A document older than this is stale.
    pub(crate) max_age: Duration,
    pub(crate) now: DateTime<Utc>,
}

/// What a successful verification saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FeedReport {
    pub(crate) key_id: String,
    pub(crate) tree_size: u64,
    pub(crate) root: String,
    pub(crate) checkpoint_created_at: DateTime<Utc>,
    pub(crate) generated_at: DateTime<Utc>,
    pub(crate) controls: usize,
    /// The tree size seen before, when a state file had one.
    pub(crate) previous_tree_size: Option<u64>,
}

/// Why a feed does not verify. Every variant means "do not trust this feed" (exit code 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FeedProblem {
    #[error("missing feed file {path}: {reason}")]
    Missing { path: PathBuf, reason: String },
    #[error("malformed feed file {path}: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("wrong key: the checkpoint is signed by key {found}, but the given key is {expected}")]
    WrongKey { found: String, expected: String },
    #[error(
        "bad signature: the checkpoint at tree size {tree_size} does not verify with key {key_id}"
    )]
    BadSignature { tree_size: u64, key_id: String },
    #[error("edited status: status.json hashes to {found}, but the signed log holds {expected}")]
    EditedStatus { found: String, expected: String },
    #[error(
        "not included: the status leaf at index {index} is not in the signed tree of size \
         {tree_size} ({reason})"
    )]
    NotIncluded { index: u64, tree_size: u64, reason: String },
    #[error(
        "inconsistent evidence head: the document's log head at tree size {size} is not a \
         prefix of the signed tree ({reason})"
    )]
    EvidenceHead { size: u64, reason: String },
    #[error(
        "replayed old checkpoint: tree size {found} signed at {found_at} is older than tree \
         size {seen} signed at {seen_at}, seen before"
    )]
    Replayed { found: u64, found_at: String, seen: u64, seen_at: String },
    #[error(
        "truncated log: the checkpoint signed at {found_at} covers {found} leaves, but {seen} \
         were signed at {seen_at} and seen before"
    )]
    Truncated { found: u64, found_at: String, seen: u64, seen_at: String },
    #[error("rewritten history: {detail}")]
    Rewritten { detail: String },
    #[error(
        "unprovable history: the feed holds no consistency proof from tree size {seen} (seen \
         before, or reached through chain links), neither in proof.json nor as chain link \
         chain/{seen}.json (history rewritten, or that link was not fetched)"
    )]
    NoConsistencyProof { seen: u64 },
    #[error("stale feed: status.json was generated at {generated}, more than {hours} hours ago")]
    Stale { generated: String, hours: i64 },
    #[error("status.json was generated at {generated}, in the future")]
    FromTheFuture { generated: String },
}

/// Why verify-feed could not run at all (exit code 4): its own state file is unusable.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VerifyFeedError {
    #[error("read state file {path}: {reason}")]
    State { path: PathBuf, reason: String },
    #[error(transparent)]
    Write(#[from] super::FeedError),
}

/// The state file: the checkpoint seen last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeenState {
    version: u32,
    key_id: String,
    tree_size: u64,
    root: String,
    checkpoint_created_at: DateTime<Utc>,
}

/// Verifies the feed; `Ok(Err(problem))` for a feed that must not be trusted.
pub(crate) fn verify_feed(
    options: &VerifyFeedOptions<'_>,
) -> Result<Result<FeedReport, FeedProblem>, VerifyFeedError> {
    let seen = options.state.map(read_state).transpose()?.flatten();
    let report = match check(options, seen.as_ref()) {
        Ok(report) => report,
        Err(problem) => return Ok(Err(problem)),
    };
    if let Some(path) = options.state {
        save_state(path, &report)?;
    }
    Ok(Ok(report))
}

fn check(
    options: &VerifyFeedOptions<'_>,
    seen: Option<&SeenState>,
) -> Result<FeedReport, FeedProblem> {
    let top = options.dir;
    let checkpoint = read_text(top, files::CHECKPOINT)
        .and_then(|text| parse_checkpoint(&text).map_err(malformed(top, files::CHECKPOINT)))?;
    check_signature(&checkpoint, options.key)?;
    let dir = &generation_of(top, checkpoint.tree_size);
    let proof = read_proof(dir, &checkpoint)?;
    let status_bytes = read_bytes(dir, files::STATUS)?;
    let document = check_inclusion(dir, &status_bytes, &proof, &checkpoint)?;
    check_evidence_head(dir, &document, &proof, &checkpoint)?;
    if let Some(seen) = seen {
        check_against_seen(top, options.key, &checkpoint, &proof, seen)?;
    }
    check_freshness(&document, options)?;
    Ok(FeedReport {
        key_id: checkpoint.key_id.clone(),
        tree_size: checkpoint.tree_size,
        root: hex::encode(checkpoint.root),
        checkpoint_created_at: checkpoint.created_at,
        generated_at: document.generated_at,
        controls: document.controls.len(),
        previous_tree_size: seen.map(|s| s.tree_size),
    })
}

/// Where the rest of the set belonging to the checkpoint of tree size `size` lies: its
/// generation directory when the feed has one (so that a publication switching generations
/// meanwhile cannot mix two sets), else the feed directory itself (a flat copy).
fn generation_of(dir: &Path, size: u64) -> PathBuf {
    let generation = dir.join(files::GENERATIONS).join(size.to_string());
    if generation.is_dir() {
        generation
    } else {
        dir.to_path_buf()
    }
}

fn check_signature(checkpoint: &Checkpoint, key: &VerifyingKey) -> Result<(), FeedProblem> {
    checkpoint.verify(key).map_err(|e| match e {
        CheckpointError::UnknownKey { found, expected, .. } => {
            FeedProblem::WrongKey { found, expected }
        }
        CheckpointError::BadSignature { tree_size } => {
            FeedProblem::BadSignature { tree_size, key_id: checkpoint.key_id.clone() }
        }
    })
}

fn read_proof(dir: &Path, checkpoint: &Checkpoint) -> Result<ProofFile, FeedProblem> {
    let text = read_text(dir, files::PROOF)?;
    let proof: ProofFile =
        serde_json::from_str(&text).map_err(|e| malformed(dir, files::PROOF)(e.to_string()))?;
    if proof.version != PROOF_VERSION {
        return Err(malformed(dir, files::PROOF)(format!("unknown version {}", proof.version)));
    }
    if proof.tree_size != checkpoint.tree_size {
        let reason = format!(
            "it proves tree size {}, the checkpoint signs {}",
            proof.tree_size, checkpoint.tree_size
        );
        return Err(malformed(dir, files::PROOF)(reason));
    }
    Ok(proof)
}

/// Checks that `status.json` is the document whose leaf the signed tree includes.
fn check_inclusion(
    dir: &Path,
    status: &[u8],
    proof: &ProofFile,
    checkpoint: &Checkpoint,
) -> Result<StatusDocument, FeedProblem> {
    let found = hex::encode(Sha256::digest(status));
    if found != proof.document_sha256 {
        return Err(FeedProblem::EditedStatus { found, expected: proof.document_sha256.clone() });
    }
    let not_included = |reason: String| FeedProblem::NotIncluded {
        index: proof.leaf_index,
        tree_size: checkpoint.tree_size,
        reason,
    };
    let path = parse_hash_list(&proof.inclusion)
        .ok_or_else(|| not_included("the proof holds a malformed hash".into()))?;
    let leaf = merkle::leaf_hash(&status_leaf(proof.leaf_index, &found));
    merkle::verify_inclusion(
        proof.leaf_index,
        checkpoint.tree_size,
        &leaf,
        &path,
        &checkpoint.root,
    )
    .map_err(|e| not_included(e.to_string()))?;
    let document: StatusDocument =
        serde_json::from_slice(status).map_err(|e| malformed(dir, files::STATUS)(e.to_string()))?;
    if document.schema != SCHEMA_NAME || document.schema_version != SCHEMA_VERSION {
        let reason = format!("schema {} v{}", document.schema, document.schema_version);
        return Err(malformed(dir, files::STATUS)(reason));
    }
    Ok(document)
}

/// Checks that the head the document was evaluated over precedes the status leaf and is a
/// prefix of the signed tree.
fn check_evidence_head(
    dir: &Path,
    document: &StatusDocument,
    proof: &ProofFile,
    checkpoint: &Checkpoint,
) -> Result<(), FeedProblem> {
    let (size, root) = match &document.evidence_log {
        None => (0, merkle::empty_root()),
        Some(head) => {
            let root = parse_hash(&head.root)
                .ok_or_else(|| malformed(dir, files::STATUS)("bad evidence_log root".into()))?;
            (head.tree_size, root)
        }
    };
    let fail = |reason: String| FeedProblem::EvidenceHead { size, reason };
    if size > proof.leaf_index {
        return Err(fail(format!("it lies after the status leaf {}", proof.leaf_index)));
    }
    let path = parse_hash_list(&proof.evidence_consistency)
        .ok_or_else(|| fail("the proof holds a malformed hash".into()))?;
    merkle::verify_consistency(size, checkpoint.tree_size, &root, &checkpoint.root, &path)
        .map_err(|e| fail(e.to_string()))
}

/// Compares the checkpoint with the one seen last: replay, truncation, rewritten history.
/// Consistency is proven by `proof.json` when the checkpoint seen last is the one published
/// before, else by following the chain links from it.
fn check_against_seen(
    dir: &Path,
    key: &VerifyingKey,
    checkpoint: &Checkpoint,
    proof: &ProofFile,
    seen: &SeenState,
) -> Result<(), FeedProblem> {
    let seen_root = parse_hash(&seen.root).unwrap_or_default();
    let found_at = checkpoint.created_at_text();
    let seen_at = seen.checkpoint_created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (found, seen_size) = (checkpoint.tree_size, seen.tree_size);
    if found < seen_size {
        return Err(if checkpoint.created_at <= seen.checkpoint_created_at {
            FeedProblem::Replayed { found, found_at, seen: seen_size, seen_at }
        } else {
            FeedProblem::Truncated { found, found_at, seen: seen_size, seen_at }
        });
    }
    let (mut size, mut root) = (seen_size, seen_root);
    for _ in 0..MAX_CHAIN_LINKS {
        if size == found {
            return same_head(found, &checkpoint.root, &root);
        }
        if let Some(entry) = proof.consistency.iter().find(|c| c.from_tree_size == size) {
            return extends(size, &root, entry, found, &checkpoint.root);
        }
        let Some(link) = read_link(dir, size)? else {
            return Err(FeedProblem::NoConsistencyProof { seen: size });
        };
        let next = parse_checkpoint(&link.checkpoint)
            .map_err(malformed(dir, &format!("{}/{size}.json", files::CHAIN)))?;
        check_signature(&next, key)?;
        if next.tree_size <= size || next.tree_size > found {
            let detail = format!("chain link from tree size {size} leads to {}", next.tree_size);
            return Err(FeedProblem::Rewritten { detail });
        }
        let entry = ConsistencyProof {
            from_tree_size: link.from_tree_size,
            from_root: link.from_root,
            proof: link.proof,
        };
        extends(size, &root, &entry, next.tree_size, &next.root)?;
        (size, root) = (next.tree_size, next.root);
    }
    Err(FeedProblem::NoConsistencyProof { seen: seen_size })
}

/// The most chain links followed from the checkpoint seen last.
const MAX_CHAIN_LINKS: usize = 1_000_000;

fn same_head(size: u64, root: &merkle::Hash, seen_root: &merkle::Hash) -> Result<(), FeedProblem> {
    if root == seen_root {
        return Ok(());
    }
    let detail = format!(
        "tree size {size} now has root {}, seen before with root {}",
        hex::encode(root),
        hex::encode(seen_root)
    );
    Err(FeedProblem::Rewritten { detail })
}

/// Checks that `entry` proves the tree `(size, root)` a prefix of `(to_size, to_root)`.
fn extends(
    size: u64,
    root: &merkle::Hash,
    entry: &ConsistencyProof,
    to_size: u64,
    to_root: &merkle::Hash,
) -> Result<(), FeedProblem> {
    if entry.from_root != hex::encode(root) {
        let detail = format!(
            "the feed says tree size {size} had root {}, but root {} was seen",
            entry.from_root,
            hex::encode(root)
        );
        return Err(FeedProblem::Rewritten { detail });
    }
    let path = parse_hash_list(&entry.proof).unwrap_or_default();
    merkle::verify_consistency(size, to_size, root, to_root, &path).map_err(|e| {
        let detail =
            format!("tree size {to_size} does not extend tree size {size} seen before ({e})");
        FeedProblem::Rewritten { detail }
    })
}

/// The chain link from tree size `size`, if the feed has one.
fn read_link(dir: &Path, size: u64) -> Result<Option<ChainLink>, FeedProblem> {
    let name = format!("{}/{size}.json", files::CHAIN);
    let text = match std::fs::read_to_string(dir.join(&name)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(FeedProblem::Missing { path: dir.join(&name), reason: e.to_string() })
        }
    };
    let link: ChainLink =
        serde_json::from_str(&text).map_err(|e| malformed(dir, &name)(e.to_string()))?;
    if link.version != PROOF_VERSION || link.from_tree_size != size {
        return Err(malformed(dir, &name)("unknown version or wrong tree size".into()));
    }
    Ok(Some(link))
}

fn check_freshness(
    document: &StatusDocument,
    options: &VerifyFeedOptions<'_>,
) -> Result<(), FeedProblem> {
    let generated = document.generated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if document.generated_at > options.now + Duration::seconds(MAX_SKEW_SECS) {
        return Err(FeedProblem::FromTheFuture { generated });
    }
    if options.now - document.generated_at > options.max_age {
        return Err(FeedProblem::Stale { generated, hours: options.max_age.num_hours() });
    }
    Ok(())
}

fn read_bytes(dir: &Path, name: &str) -> Result<Vec<u8>, FeedProblem> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|e| FeedProblem::Missing { path, reason: e.to_string() })
}

fn read_text(dir: &Path, name: &str) -> Result<String, FeedProblem> {
    let bytes = read_bytes(dir, name)?;
    String::from_utf8(bytes).map_err(|_| malformed(dir, name)("not utf-8".into()))
}

fn malformed(dir: &Path, name: &str) -> impl Fn(String) -> FeedProblem {
    let path = dir.join(name);
    move |reason| FeedProblem::Malformed { path: path.clone(), reason }
}

fn read_state(path: &Path) -> Result<Option<SeenState>, VerifyFeedError> {
    let failed = |reason: String| VerifyFeedError::State { path: path.to_path_buf(), reason };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(failed(e.to_string())),
    };
    let state: SeenState = serde_json::from_str(&text).map_err(|e| failed(e.to_string()))?;
    if state.version != 1 || parse_hash(&state.root).is_none() {
        return Err(failed("unknown version or malformed root".into()));
    }
    Ok(Some(state))
}

fn save_state(path: &Path, report: &FeedReport) -> Result<(), VerifyFeedError> {
    let state = SeenState {
        version: 1,
        key_id: report.key_id.clone(),
        tree_size: report.tree_size,
        root: report.root.clone(),
        checkpoint_created_at: report.checkpoint_created_at,
    };
    let text = serde_json::to_string_pretty(&state).expect("the state has string keys") + "\n";
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| VerifyFeedError::State {
        path: path.to_path_buf(),
        reason: "not a file name".into(),
    })?;
    write_atomically(dir, name, text.as_bytes())?;
    Ok(())
}
