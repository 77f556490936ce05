//! The public feed: the only thing that leaves the host.
//!
//! [`publish`] evaluates the controls, builds the status document from the allow-listed types
//! of [`schema`] (never from internal structs), records it as a leaf of the evidence log with a
//! new signed checkpoint, and publishes the feed directory as one set:
//!
//! - `status.json`: the document (schema `schema/status-v1.json`);
//! - `checkpoint`: the signed tree head that includes the document's leaf;
//! - `proof.json`: the leaf's inclusion proof, the consistency proof from the head the document
//!   was evaluated over, and the consistency proof from the checkpoint published before;
//! - `index.html` (German) and `index.en.html` (English): the script-free trust page;
//! - `badge.svg`, `signing.pub` and `status-v1.schema.json`;
//! - `chain/<size>.json`: one link per publication, from the checkpoint of tree size `<size>`
//!   published before to the next one, so that any checkpoint a visitor saw can be followed.
//!
//! The set is written into a new generation directory `gen/<tree size>/`, then the symlink
//! `current` is switched to it with one rename; every top-level name is a symlink through
//! `current`, so all of them change at once. A reader that reads `checkpoint` first and the
//! rest from `gen/<its tree size>/` (as `verify-feed` does) never mixes two publications; the
//! newest [`GENERATIONS_KEPT`] generations are kept for readers in the middle of a switch.
//!
//! Reasons, subjects, paths, host names and versions stay on the host; each control's evidence
//! is published as a *salted* digest, so that an auditor given the salt can match it against
//! the evidence records without the public learning anything from it. Evidence facts appear
//! only where a check names them in `public_facts`. [`verify_feed`] is the visitor's side.
//! Neighbours: `store` records the leaf, `evidence::merkle` computes proofs, `serve` serves the
//! directory.

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
    /// The symlink to the generation in force.
    pub(crate) const CURRENT: &str = "current";
    /// The folder of generation directories, one per publication, named by tree size.
    pub(crate) const GENERATIONS: &str = "gen";
    /// The folder of chain links, named by the earlier tree size.
    pub(crate) const CHAIN: &str = "chain";
    /// Every file of one generation, each also reachable at the top level.
    pub(crate) const SET: [&str; 8] =
        [STATUS, CHECKPOINT, PROOF, PAGE_DE, PAGE_EN, BADGE, PUBLIC_KEY, SCHEMA];
}

/// How many generation directories stay after a publication (the newest included).
pub(crate) const GENERATIONS_KEPT: usize = 8;

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
    let (document, head) = evaluate_document(config, store, salt).await?;
    let bytes = to_json(&document, "status document")?;
    let receipt = store.record_status(&bytes, key).await?;
    let evidence_size = head.as_ref().map_or(0, |h| h.tree_size);
    let proofs = proofs::proofs(store, &receipt, evidence_size).await?;
    let set = Set { config, document: &document, bytes: &bytes, receipt: &receipt, key };
    let files = write_set(dir, &set, &proofs)?;
    Ok(Published { document, receipt, files })
}

/// Builds the status document from the controls evaluated now, and the evidence head it was
/// evaluated over.
async fn evaluate_document(
    config: &Config,
    store: &Store,
    salt: &[u8],
) -> Result<(StatusDocument, Option<crate::evidence::Checkpoint>), FeedError> {
    let now = Utc::now();
    let states = crate::runner::evaluate_from_store(config, store, now)
        .await
        .map_err(|e| FeedError::Evaluate(crate::output::chain_text(&e)))?;
    let since = since_of(store, &states).await?;
    let head = store.latest_checkpoint().await?;
    let public_facts = public_facts(config, store, &states).await?;
    let inputs = build::Inputs {
        config,
        states: &states,
        since: &since,
        head: head.as_ref(),
        salt,
        now,
        public_facts: &public_facts,
    };
    Ok((build_document(&inputs), head))
}

/// What one generation holds besides its proofs.
struct Set<'a> {
    config: &'a Config,
    document: &'a StatusDocument,
    bytes: &'a [u8],
    receipt: &'a StatusReceipt,
    key: &'a SigningKey,
}

/// Writes the generation and the chain link, then switches the generation in.
fn write_set(
    dir: &Path,
    set: &Set<'_>,
    proofs: &proofs::Proofs,
) -> Result<Vec<PathBuf>, FeedError> {
    let size = set.receipt.checkpoint.tree_size;
    let mut written =
        write_generation(&dir.join(files::GENERATIONS).join(size.to_string()), set, proofs)?;
    // FIXME(feed-chain): one link per publication accumulates in the web root (about 1 KB
    // each); skip links over powers of two would bound both the files and a visitor's walk.
    if let Some(link) = &proofs.link {
        let name = format!("{}.json", link.from_tree_size);
        let bytes = to_json(link, "chain link")?;
        written.push(write_atomically(&dir.join(files::CHAIN), &name, &bytes)?);
    }
    switch_generation(dir, size)?;
    Ok(written)
}

/// Writes every file of one publication into its fresh generation directory.
fn write_generation(
    generation: &Path,
    set: &Set<'_>,
    proofs: &proofs::Proofs,
) -> Result<Vec<PathBuf>, FeedError> {
    if generation.exists() {
        // Left by a publication that failed before its switch; nobody points at it.
        std::fs::remove_dir_all(generation).map_err(write_error(generation))?;
    }
    let mut written = Vec::new();
    let proof = to_json(&proofs.file, "proof file")?;
    written.push(write_atomically(generation, files::PROOF, &proof)?);
    let checkpoint = checkpoint_text(&set.receipt.checkpoint);
    written.push(write_atomically(generation, files::CHECKPOINT, checkpoint.as_bytes())?);
    written.push(write_atomically(generation, files::STATUS, set.bytes)?);
    written.extend(write_pages(generation, set.config, set.document, set.receipt, set.key)?);
    let dir = std::fs::File::open(generation).map_err(write_error(generation))?;
    dir.sync_all().map_err(write_error(generation))?;
    Ok(written)
}

/// Points `current` at generation `size` with one rename, makes every top-level name a
/// symlink through `current`, and removes generations beyond [`GENERATIONS_KEPT`].
fn switch_generation(dir: &Path, size: u64) -> Result<(), FeedError> {
    let target = Path::new(files::GENERATIONS).join(size.to_string());
    replace_with_symlink(dir, files::CURRENT, &target)?;
    for name in files::SET {
        let target = Path::new(files::CURRENT).join(name);
        if std::fs::read_link(dir.join(name)).ok().as_deref() != Some(target.as_path()) {
            // Once, when an older layout of plain files is upgraded.
            replace_with_symlink(dir, name, &target)?;
        }
    }
    prune_generations(&dir.join(files::GENERATIONS), size)
}

/// Replaces `dir/name` by a symlink to `target` atomically (a new link, then a rename).
fn replace_with_symlink(dir: &Path, name: &str, target: &Path) -> Result<(), FeedError> {
    let temp = dir.join(format!(".{name}.link"));
    let _ = std::fs::remove_file(&temp);
    std::os::unix::fs::symlink(target, &temp).map_err(write_error(&temp))?;
    let path = dir.join(name);
    std::fs::rename(&temp, &path).map_err(write_error(&path))
}

/// Removes the generation directories older than the newest [`GENERATIONS_KEPT`].
fn prune_generations(generations: &Path, newest: u64) -> Result<(), FeedError> {
    let entries = std::fs::read_dir(generations).map_err(write_error(generations))?;
    let mut sizes: Vec<u64> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|size| *size <= newest)
        .collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    for size in sizes.into_iter().skip(GENERATIONS_KEPT) {
        let path = generations.join(size.to_string());
        std::fs::remove_dir_all(&path).map_err(write_error(&path))?;
    }
    Ok(())
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> FeedError {
    let path = path.to_path_buf();
    move |source| FeedError::Write { path, source }
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
        .map_err(|e| FeedError::Evaluate(crate::output::chain_text(&e)))?;
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

/// The fact values the profile marks public, per control (reads only the observations of
/// checks that mark any).
async fn public_facts(
    config: &Config,
    store: &Store,
    states: &[crate::controls::ControlState],
) -> Result<HashMap<String, build::PublicFacts>, FeedError> {
    let mut facts = HashMap::new();
    for id in build::public_fact_sources(config, states) {
        if let Some(value) = store.observation(id).await?.and_then(|d| d.facts) {
            facts.insert(id, value);
        }
    }
    Ok(build::gather_public_facts(config, states, &facts))
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
