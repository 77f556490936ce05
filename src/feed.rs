//! The public status document: the only thing that leaves the host.
//!
//! Built from its own versioned, allow-listed types, never from internal structs: a control's
//! status word, evidence kind, times, and a *salted* digest of the evidence behind it (so that
//! a visitor can match it against an auditor's bundle without learning the evidence itself).
//! Reasons, subjects, paths, host names and versions stay on the host. Files are written
//! atomically (temp file, fsync, rename).

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{Catalog, Config};
use crate::controls::{percentages, ControlState, EvidenceKind, Percentages};
use crate::evidence::Checkpoint;

/// Version of the status document schema.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// The public status document, `status.json`.
#[derive(Debug, Serialize)]
pub(crate) struct StatusDocument {
    schema_version: u32,
    catalog: &'static str,
    generated_at: DateTime<Utc>,
    agent_version: &'static str,
    config_digest: String,
    checkpoint: Option<PublicCheckpoint>,
    percentages: Percentages,
    controls: Vec<PublicControl>,
}

#[derive(Debug, Serialize)]
struct PublicCheckpoint {
    tree_size: u64,
    root: String,
    key_id: String,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
struct PublicControl {
    id: String,
    status: &'static str,
    evidence_kind: Option<EvidenceKind>,
    collected_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    since: Option<DateTime<Utc>>,
    /// SHA-256 over the host's feed salt and the evidence digest.
    salted_digest: Option<String>,
}

impl StatusDocument {
    /// Builds the document from evaluated states.
    pub(crate) fn build(
        config: &Config,
        states: &[ControlState],
        since: &HashMap<String, DateTime<Utc>>,
        checkpoint: Option<&Checkpoint>,
        salt: &[u8],
    ) -> StatusDocument {
        let catalog = Catalog::get(config.profile.catalog);
        StatusDocument {
            schema_version: SCHEMA_VERSION,
            catalog: config.profile.catalog.as_str(),
            generated_at: Utc::now(),
            agent_version: env!("CARGO_PKG_VERSION"),
            config_digest: config.digest.clone(),
            checkpoint: checkpoint.map(|c| PublicCheckpoint {
                tree_size: c.tree_size,
                root: hex::encode(c.root),
                key_id: c.key_id.clone(),
                created_at: c.created_at,
            }),
            percentages: percentages(states, catalog),
            controls: states.iter().map(|s| public_control(s, since, salt)).collect(),
        }
    }
}

fn public_control(
    state: &ControlState,
    since: &HashMap<String, DateTime<Utc>>,
    salt: &[u8],
) -> PublicControl {
    let evidence = state.evidence.as_ref();
    PublicControl {
        id: state.control.clone(),
        status: state.status.as_str(),
        evidence_kind: evidence.map(|e| e.kind),
        collected_at: evidence.map(|e| e.collected_at),
        expires_at: evidence.and_then(|e| e.expires_at),
        since: since.get(&state.control).copied(),
        salted_digest: evidence.map(|e| salted(salt, &e.digest)),
    }
}

fn salted(salt: &[u8], digest: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(digest.as_bytes());
    hex::encode(hasher.finalize())
}

/// Reads the host's feed salt, creating 32 random bytes (mode 0600) on first use.
pub(crate) fn load_or_create_salt(state_dir: &Path) -> anyhow::Result<Vec<u8>> {
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

/// Writes `bytes` to `dir/name` through a temporary file and a rename.
pub(crate) fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let target = dir.join(name);
    let temp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o644)
        .open(&temp)
        .with_context(|| format!("creating {}", temp.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", temp.display()))?;
    file.sync_all().with_context(|| format!("syncing {}", temp.display()))?;
    std::fs::rename(&temp, &target).with_context(|| format!("renaming to {}", target.display()))?;
    Ok(target)
}
