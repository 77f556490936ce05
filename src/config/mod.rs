//! Configuration: one TOML file, parsed once into validated types.
//!
//! `parse` turns the text into raw serde types while keeping spans, so that every error names
//! file, line and column; `validate` turns raw types into the validated [`Config`] the rest of
//! the agent uses, reporting all errors at once. `catalog` holds the embedded NIST CSF catalogs.
//! When no file exists, the embedded default profile (`config/default.toml`) is used.
//! Nothing here runs a collector or touches the database.

pub(crate) mod catalog;
mod parse;

use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;

pub(crate) use catalog::{Catalog, CatalogId, ControlId};
#[cfg(test)]
pub(crate) use parse::parse_str;
pub(crate) use parse::{load, ConfigErrors};

use crate::controls::Judgement;
use crate::schedule::Schedule;

/// The default configuration path.
pub(crate) const DEFAULT_PATH: &str = "/etc/beweis/beweis.toml";

/// The embedded default profile, used when no configuration file exists.
pub(crate) const EMBEDDED_DEFAULT: &str = include_str!("../../config/default.toml");

/// A validated configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Where the configuration came from: a path, or `<embedded default>`.
    pub(crate) source: String,
    /// SHA-256 (hex) of the configuration text.
    pub(crate) digest: String,
    pub(crate) agent: Agent,
    pub(crate) instances: Vec<Instance>,
    pub(crate) checks: Vec<Check>,
    pub(crate) attestations: Vec<Attestation>,
    pub(crate) inherited: Vec<Inherited>,
    pub(crate) profile: Profile,
}

/// The longest `webhook_expiry_lead_hours`, in days.
pub(crate) const MAX_EXPIRY_LEAD_DAYS: i64 = 366;

/// Agent-wide settings (`[agent]`).
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    /// State directory override; `--state-dir` wins over it.
    pub(crate) state_dir: Option<PathBuf>,
    /// Where the daemon publishes the signed feed and trust page after each run
    /// (`publish_dir`, a web root); nothing is published when absent.
    pub(crate) publish_dir: Option<PathBuf>,
    /// Where status transitions are POSTed (`webhooks`); none when empty.
    pub(crate) webhooks: Vec<reqwest::Url>,
    /// How long before evidence expires a webhook event says so (`webhook_expiry_lead_hours`,
    /// default 24); never earlier than half-way through the evidence's validity.
    pub(crate) webhook_expiry_lead: chrono::Duration,
    /// How many runs may execute at once (`max_concurrent_runs`, default 4).
    pub(crate) max_concurrent_runs: usize,
    /// Byte budget per read (`max_read_bytes`, default 16 MiB).
    pub(crate) max_read_bytes: u64,
}

/// A configured collector (`[[instance]]`).
#[derive(Debug, Clone)]
pub(crate) struct Instance {
    pub(crate) name: String,
    pub(crate) settings: collectors::Settings,
    pub(crate) schedule: Schedule,
    /// Per-run timeout (`timeout_secs`, default 60).
    pub(crate) timeout: Duration,
}

/// A configured check (`[[check]]`).
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub(crate) name: String,
    /// Name of the instance whose latest observations are judged.
    pub(crate) instance: String,
    pub(crate) judgement: Judgement,
    /// Evidence older than this is stale (`max_age_hours`).
    pub(crate) max_age: chrono::Duration,
    pub(crate) controls: Vec<ControlId>,
    /// JSON pointers into the evidence facts whose values the public feed may show beside
    /// the check's controls (`public_facts`); nothing of the evidence is published otherwise.
    pub(crate) public_facts: Vec<String>,
}

/// A statement by a named person (`[[attestation]]`).
#[derive(Debug, Clone)]
pub(crate) struct Attestation {
    pub(crate) controls: Vec<ControlId>,
    pub(crate) signer: String,
    pub(crate) statement: String,
    pub(crate) date: NaiveDate,
    pub(crate) expires: NaiveDate,
    pub(crate) document: Option<PinnedDocument>,
}

/// A document whose content an attestation covers.
#[derive(Debug, Clone)]
pub(crate) struct PinnedDocument {
    pub(crate) path: PathBuf,
    /// Lowercase hex SHA-256 the document had when it was attested.
    pub(crate) sha256: String,
}

/// A provider's certification covering controls (`[[inherited]]`).
#[derive(Debug, Clone)]
pub(crate) struct Inherited {
    pub(crate) controls: Vec<ControlId>,
    pub(crate) provider: String,
    pub(crate) certification: String,
    pub(crate) reference: String,
    pub(crate) expires: NaiveDate,
}

/// Which catalog, which controls are in scope, which are excluded (`[profile]`).
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub(crate) catalog: CatalogId,
    /// Controls in scope, in catalog order; all of the catalog when `scope` is absent.
    pub(crate) scope: Vec<ControlId>,
    pub(crate) not_applicable: Vec<NotApplicable>,
}

/// A control excluded from scope, with why.
#[derive(Debug, Clone)]
pub(crate) struct NotApplicable {
    pub(crate) control: ControlId,
    pub(crate) justification: String,
}

impl Config {
    /// The instance named `name`.
    pub(crate) fn instance(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name == name)
    }
}
