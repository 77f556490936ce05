//! The public feed: the only thing that leaves the host.
//!
//! [`publish`] evaluates the controls, builds the status document from the allow-listed types
//! of [`schema`] (never from internal structs), records it as a leaf of the evidence log with a
//! new signed checkpoint, and writes the feed directory atomically, file by file:
//!
//! - `status.json`: the document (schema `schema/status-v1.json`);
//! - `checkpoint`: the signed tree head that includes the document's leaf;
//! - `proof.json`: the leaf's inclusion proof, the consistency proof from the head the document
//!   was evaluated over, and consistency proofs from earlier published checkpoints;
//! - `index.html` (German) and `index.en.html` (English): the script-free trust page;
//! - `badge.svg`, `signing.pub` and `status-v1.schema.json`.
//!
//! Reasons, subjects, paths, host names and versions stay on the host; each control's evidence
//! is published as a *salted* digest, so that an auditor given the salt can match it against
//! the evidence records without the public learning anything from it. [`verify_feed`] is the
//! visitor's side. Neighbours: `store` records the leaf, `evidence::merkle` computes proofs,
//! `serve` serves the directory.

mod badge;
mod build;
pub(crate) mod bundle;
mod html;
pub(crate) mod oscal;
mod proofs;
pub(crate) mod schema;
pub(crate) mod verify_feed;
pub(crate) mod webhook;

#[cfg(test)]
mod redaction_tests;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;

use crate::config::{Catalog, Config};
use crate::evidence::merkle::ProofError;
use crate::store::{StatusReceipt, Store, StoreError};

pub(crate) use badge::badge_svg;
pub(crate) use build::build_document;
pub(crate) use proofs::checkpoint_text;
pub(crate) use schema::StatusDocument;

/// The JSON Schema of the status document, as shipped in `schema/status-v1.json`.
pub(crate) const SCHEMA_JSON: &str = include_str!("../../schema/status-v1.json");

/// File names inside the feed directory.
pub(crate) mod files {
    pub(crate) const STATUS: &str = "status.json";
    pub(crate) const CHECKPOINT: &str = "checkpoint";
    pub(crate) const PROOF: &str = "proof.json";
    pub(crate) const PAGE_DE: &str = "index.html";
    pub(crate) const PAGE_EN: &str = "index.en.html";
    pub(crate) const BADGE: &str = "badge.svg";
    pub(crate) const PUBLIC_KEY: &str = "signing.pub";
    pub(crate) const SCHEMA: &str = "status-v1.schema.json";
}

/// How many earlier published checkpoints get a consistency proof in `proof.json`.
pub(crate) const CONSISTENCY_WINDOW: u32 = 64;

/// Why the feed could not be published.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Controls could not be evaluated from the store.
    #[error("evaluate controls for the feed: {0}")]
    Evaluate(String),
    /// A proof could not be computed (the log changed under the publisher).
    #[error("compute feed proofs: {0}")]
    Proof(#[from] ProofError),
    /// A feed file could not be written.
    #[error("write feed file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    /// The document could not be serialized.
    #[error("serialize {what}: {source}")]
    Serialize { what: &'static str, source: serde_json::Error },
}

/// What one publication wrote.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    pub(crate) document: StatusDocument,
    pub(crate) receipt: StatusReceipt,
    pub(crate) files: Vec<PathBuf>,
}

/// Evaluates, records and writes the feed into `dir` (see the module documentation).
///
/// `store` must be the writer: the caller holds the writer lock.
pub(crate) async fn publish(
    config: &Config,
    store: &Store,
    key: &SigningKey,
    salt: &[u8],
    dir: &Path,
) -> Result<Published, FeedError> {
    let now = Utc::now();
    let states = crate::runner::evaluate_from_store(config, store, now)
        .await
        .map_err(|e| FeedError::Evaluate(format!("{e:#}")))?;
    let since = since_of(store, &states).await?;
    let head = store.latest_checkpoint().await?;
    let inputs =
        build::Inputs { config, states: &states, since: &since, head: head.as_ref(), salt, now };
    let document = build_document(&inputs);
    let bytes = to_json(&document, "status document")?;
    let receipt = store.record_status(&bytes, key).await?;
    let evidence_size = head.as_ref().map_or(0, |h| h.tree_size);
    let proof = proofs::proof_file(store, &receipt, evidence_size).await?;
    let mut written = Vec::new();
    written.push(write_atomically(dir, files::PROOF, &to_json(&proof, "proof file")?)?);
    let checkpoint = checkpoint_text(&receipt.checkpoint);
    written.push(write_atomically(dir, files::CHECKPOINT, checkpoint.as_bytes())?);
    written.push(write_atomically(dir, files::STATUS, &bytes)?);
    written.extend(write_pages(dir, config, &document, &receipt, key)?);
    Ok(Published { document, receipt, files: written })
}

/// What the daemon keeps to publish after each run: the feed directory, key and salt.
#[derive(Debug, Clone)]
pub(crate) struct Publisher {
    dir: PathBuf,
    key: SigningKey,
    salt: Vec<u8>,
}

impl Publisher {
    /// A publisher writing into `dir`, with the state directory's feed salt.
    pub(crate) fn new(
        state_dir: &Path,
        dir: PathBuf,
        key: SigningKey,
    ) -> anyhow::Result<Publisher> {
        Ok(Publisher { dir, key, salt: load_or_create_salt(state_dir)? })
    }

    /// Publishes the feed (see [`publish`]); the caller holds the writer lock.
    pub(crate) async fn publish(
        &self,
        config: &Config,
        store: &Store,
    ) -> Result<Published, FeedError> {
        publish(config, store, &self.key, &self.salt, &self.dir).await
    }
}

/// Writes OSCAL assessment results of the current statuses to `path` (read-only on the log).
pub(crate) async fn export_oscal(
    config: &Config,
    store: &Store,
    path: &Path,
) -> Result<PathBuf, FeedError> {
    let now = Utc::now();
    let states = crate::runner::evaluate_from_store(config, store, now)
        .await
        .map_err(|e| FeedError::Evaluate(format!("{e:#}")))?;
    let mut rows = Vec::new();
    let mut ids: Vec<i64> = states
        .iter()
        .filter_map(|s| s.evidence.as_ref())
        .flat_map(|e| e.observation_ids.iter().copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        if let Some(detail) = store.observation(id).await? {
            rows.push(detail.row);
        }
    }
    let head = store.latest_checkpoint().await?;
    let inputs = oscal::OscalInputs {
        config,
        states: &states,
        observations: &rows,
        head: head.as_ref(),
        now,
    };
    let bytes = to_json(&oscal::assessment_results(&inputs), "oscal assessment results")?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("assessment-results.json");
    write_atomically(dir, name, &bytes)
}

/// `since` per control, for controls whose stored status matches the evaluated one.
async fn since_of(
    store: &Store,
    states: &[crate::controls::ControlState],
) -> Result<HashMap<String, DateTime<Utc>>, FeedError> {
    let stored = store.control_statuses().await?;
    Ok(stored
        .into_iter()
        .filter(|s| states.iter().any(|c| c.control == s.control && c.status.as_str() == s.status))
        .map(|s| (s.control, s.since))
        .collect())
}

/// Writes the pages, the badge, the public key and the schema.
fn write_pages(
    dir: &Path,
    config: &Config,
    document: &StatusDocument,
    receipt: &StatusReceipt,
    key: &SigningKey,
) -> Result<Vec<PathBuf>, FeedError> {
    let public = key.verifying_key();
    let page = html::Page {
        document,
        checkpoint: &receipt.checkpoint,
        public_key_hex: hex::encode(public.as_bytes()),
        catalog: Catalog::get(config.profile.catalog),
    };
    let public_key = format!("{}\n", page.public_key_hex);
    Ok(vec![
        write_atomically(dir, files::PAGE_DE, html::render(&page, html::Lang::De).as_bytes())?,
        write_atomically(dir, files::PAGE_EN, html::render(&page, html::Lang::En).as_bytes())?,
        write_atomically(dir, files::BADGE, badge_svg(document).as_bytes())?,
        write_atomically(dir, files::PUBLIC_KEY, public_key.as_bytes())?,
        write_atomically(dir, files::SCHEMA, SCHEMA_JSON.as_bytes())?,
    ])
}

fn to_json<T: serde::Serialize>(value: &T, what: &'static str) -> Result<Vec<u8>, FeedError> {
    let mut bytes =
        serde_json::to_vec_pretty(value).map_err(|source| FeedError::Serialize { what, source })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Reads the host's feed salt, creating 32 random bytes (mode 0600) on first use.
pub(crate) fn load_or_create_salt(state_dir: &Path) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context as _;
    let path = state_dir.join("feed.salt");
    if let Ok(salt) = std::fs::read(&path) {
        return Ok(salt);
    }
    let mut salt = vec![0u8; 32];
    getrandom::getrandom(&mut salt)
        .map_err(|e| anyhow::anyhow!("reading random bytes for the feed salt: {e}"))?;
    let mut file = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(&salt).with_context(|| format!("writing {}", path.display()))?;
    Ok(salt)
}

/// Writes `bytes` to `dir/name` through a temporary file, fsync and a rename.
pub(crate) fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, FeedError> {
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FeedError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    let target = dir.join(name);
    let temp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o644)
        .open(&temp)
        .map_err(failed(&temp))?;
    file.write_all(bytes).map_err(failed(&temp))?;
    file.sync_all().map_err(failed(&temp))?;
    std::fs::rename(&temp, &target).map_err(failed(&target))?;
    Ok(target)
}
