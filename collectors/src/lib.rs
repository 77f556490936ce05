//! The collector contract and the collectors of beweis.
//!
//! A collector observes one kind of thing (files, commands, HTTP endpoints, …) and reports
//! facts about each subject it looked at. It never stores, schedules, retries or judges: the
//! agent's runner stores what a collector returns, and checks in the agent decide pass or fail.
//! This crate depends on neither the database nor the daemon, which keeps that boundary
//! enforced by the compiler.
//!
//! The set of collectors is closed: [`Settings`] is an enum with one variant per collector and
//! [`collect`] dispatches over it. Partial success is normal: a run over ten subjects where
//! two cannot be read yields eight [`Observation`]s and two [`SubjectFailure`]s.

#![warn(missing_docs)]

pub mod advisories;
pub mod backup;
pub mod command;
pub mod file;
pub mod firewall;
pub mod http;
pub mod tls;
mod util;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// Version of this crate, recorded in every observation's chain of custody.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The kinds of collector, as named in configuration (`collector = "file"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectorKind {
    /// Files and globs: presence, metadata, digest, regex facts, review date.
    File,
    /// A program run from an argv list: exit code, output digest, parsed facts.
    Command,
    /// An HTTP(S) request: status, headers, certificate expiry.
    Http,
    /// Deployed lockfiles against OSV and native advisory databases.
    Advisories,
    /// Firewall rulesets and listening sockets: what is reachable from outside.
    Firewall,
    /// TLS endpoints: protocols, suites, certificates, weaknesses, headers and a grade.
    Tls,
    /// Backups: recency, integrity checks and restore tests of restic, borg and others.
    Backup,
}

impl CollectorKind {
    /// All kinds, in the order documentation lists them.
    pub const ALL: [CollectorKind; 7] = [
        CollectorKind::File,
        CollectorKind::Command,
        CollectorKind::Http,
        CollectorKind::Tls,
        CollectorKind::Advisories,
        CollectorKind::Backup,
        CollectorKind::Firewall,
    ];

    /// The stable, user-facing name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            CollectorKind::File => "file",
            CollectorKind::Command => "command",
            CollectorKind::Http => "http",
            CollectorKind::Advisories => "advisories",
            CollectorKind::Firewall => "firewall",
            CollectorKind::Tls => "tls",
            CollectorKind::Backup => "backup",
        }
    }

    /// Parses a user-facing name.
    pub fn from_name(name: &str) -> Option<CollectorKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// Validated settings of one configured instance, one variant per collector.
#[derive(Debug, Clone)]
pub enum Settings {
    /// Settings of the `file` collector.
    File(file::FileSettings),
    /// Settings of the `command` collector.
    Command(command::CommandSettings),
    /// Settings of the `http` collector.
    Http(http::HttpSettings),
    /// Settings of the `advisories` collector.
    Advisories(advisories::AdvisoriesSettings),
    /// Settings of the `firewall` collector.
    Firewall(firewall::FirewallSettings),
    /// Settings of the `tls` collector.
    Tls(tls::TlsSettings),
    /// Settings of the `backup` collector.
    Backup(backup::BackupSettings),
}

impl Settings {
    /// The collector these settings belong to.
    pub fn kind(&self) -> CollectorKind {
        match self {
            Settings::File(_) => CollectorKind::File,
            Settings::Command(_) => CollectorKind::Command,
            Settings::Http(_) => CollectorKind::Http,
            Settings::Advisories(_) => CollectorKind::Advisories,
            Settings::Firewall(_) => CollectorKind::Firewall,
            Settings::Tls(_) => CollectorKind::Tls,
            Settings::Backup(_) => CollectorKind::Backup,
        }
    }
}

/// What a collector gets from the runner besides its settings.
#[derive(Debug, Clone)]
pub struct Context {
    /// The time the run started; collectors use it instead of reading the clock, so that tests
    /// can fix it.
    pub now: DateTime<Utc>,
    /// How long the whole collection may take; collectors derive per-subject timeouts from it.
    pub timeout: Duration,
    /// Cancelled when the run must stop (timeout, shutdown); collectors stop promptly.
    pub cancel: CancellationToken,
    /// Byte budgets.
    pub limits: Limits,
    /// What earlier runs of the same instance saw, newest per subject. Collectors read it to
    /// carry state forward (when a finding was first seen, what a ruleset changed from); they
    /// never write it: the runner builds it from the evidence log before each run.
    pub previous: Previous,
}

/// The newest earlier observation of each subject of an instance, handed to a collector so that
/// it can report change ("rule added since the last run") and age ("open on this host since").
#[derive(Debug, Clone, Default)]
pub struct Previous {
    by_subject: std::sync::Arc<std::collections::HashMap<String, PreviousObservation>>,
}

/// One earlier observation of a subject, as stored in the evidence log.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousObservation {
    /// When it was collected.
    pub collected_at: DateTime<Utc>,
    /// Its facts; `None` when retention dropped the payload bytes (the hash stays).
    pub facts: Option<serde_json::Value>,
    /// SHA-256 (lowercase hex) of its canonical facts.
    pub payload_sha256: String,
}

impl Previous {
    /// Earlier observations keyed by subject.
    pub fn new(by_subject: std::collections::HashMap<String, PreviousObservation>) -> Previous {
        Previous { by_subject: std::sync::Arc::new(by_subject) }
    }

    /// The newest earlier observation of `subject`, if there is one.
    pub fn get(&self, subject: &str) -> Option<&PreviousObservation> {
        self.by_subject.get(subject)
    }

    /// Whether no earlier observation exists (a first run).
    pub fn is_empty(&self) -> bool {
        self.by_subject.is_empty()
    }
}

/// Byte budgets a collector must keep to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most bytes read from one file, command output or response body.
    pub max_read_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_read_bytes: 16 * 1024 * 1024 }
    }
}

/// What one run saw about one subject: the unit of evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// What was observed: a path, a URL, a command line.
    pub subject: String,
    /// When the observation was made.
    pub collected_at: DateTime<Utc>,
    /// The time the evidence describes, when it differs from `collected_at` (e.g. when a
    /// document says it was last reviewed, or when last night's backup finished).
    pub effective_at: Option<DateTime<Utc>>,
    /// The facts, a JSON object; checks read them by JSON pointer.
    pub facts: serde_json::Value,
    /// How the facts were obtained.
    pub custody: Custody,
}

/// Chain of custody of one observation: how its facts were obtained.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Custody {
    /// The argv of the program that was run, if any.
    pub argv: Option<Vec<String>>,
    /// The exit code of that program, if it exited normally.
    pub exit_code: Option<i32>,
    /// How long observing this subject took.
    pub duration_ms: u64,
    /// The version of the program or protocol peer, where known.
    pub tool_version: Option<String>,
}

/// Why one subject could not be observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectFailure {
    /// The subject that could not be observed.
    pub subject: String,
    /// The class of failure, for the runner's and the checks' decisions.
    pub kind: FailureKind,
    /// A lowercase message naming the cause; never contains secrets.
    pub message: String,
}

/// Classes of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The agent lacks a permission or capability.
    Permission,
    /// The subject did not answer in time.
    Timeout,
    /// The subject answered with something that could not be parsed.
    Parse,
    /// The subject could not be reached (refused, unresolvable, TLS failure).
    Unreachable,
    /// A program or file needed to observe the subject does not exist.
    NotFound,
    /// Observation was cancelled (shutdown).
    Cancelled,
    /// Anything else.
    Other,
}

impl FailureKind {
    /// The stable, user-facing name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Permission => "permission",
            FailureKind::Timeout => "timeout",
            FailureKind::Parse => "parse",
            FailureKind::Unreachable => "unreachable",
            FailureKind::NotFound => "not_found",
            FailureKind::Cancelled => "cancelled",
            FailureKind::Other => "other",
        }
    }
}

/// Everything one collection produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collection {
    /// One observation per subject that could be observed.
    pub observations: Vec<Observation>,
    /// One failure per subject that could not.
    pub failures: Vec<SubjectFailure>,
}

impl Collection {
    /// Records a failure for `subject`.
    pub fn fail(&mut self, subject: impl Into<String>, kind: FailureKind, message: String) {
        self.failures.push(SubjectFailure { subject: subject.into(), kind, message });
    }
}

/// Runs the collector that `settings` belong to.
pub async fn collect(settings: &Settings, ctx: &Context) -> Collection {
    match settings {
        Settings::File(s) => file::collect(s, ctx).await,
        Settings::Command(s) => command::collect(s, ctx).await,
        Settings::Http(s) => http::collect(s, ctx).await,
        Settings::Advisories(s) => advisories::collect(s, ctx).await,
        Settings::Firewall(s) => firewall::collect(s, ctx).await,
        Settings::Tls(s) => tls::collect(s, ctx).await,
        Settings::Backup(s) => backup::collect(s, ctx).await,
    }
}

/// An error in one instance's parameters, found while validating them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ParamError {
    /// The parameter key the error is about, e.g. `patterns.no_root`.
    pub key: String,
    /// What is wrong, lowercase.
    pub message: String,
}

impl ParamError {
    /// An error about `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> ParamError {
        ParamError { key: key.into(), message: message.into() }
    }
}
