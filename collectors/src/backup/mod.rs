//! The `backup` collector: proof that backups happen, are intact, and can be restored.
//!
//! It owns one observation per configured source — a restic or borg repository, a pgBackRest
//! stanza, a mariabackup log and checkpoint file, a generic log (rsync, rsnapshot, …) or a
//! Hetzner Cloud server's provider backups — with the same facts for all: the result of the
//! last run, the newest successful backup in UTC (`effective_at`), its age, restore points and
//! retention span, size trend, runs in the window, success on every day of the window,
//! integrity check, restore test, encryption and whether a copy lives off this host.
//!
//! A source that cannot be read (missing, locked, wrong password, timeout) is a per-source
//! [`SubjectFailure`](crate::SubjectFailure); the other sources are still collected, each
//! within its fair share of the collection's time, so one hanging source times out alone.
//! Exit codes and wrapper claims are never proof on their own. It does not judge: checks in
//! the agent compare the facts with policy. Neighbours: `exec` runs programs, `report` derives
//! the common facts, `times` converts timestamps, one module per source.

pub mod borg;
pub mod exec;
pub mod hetzner;
pub mod logs;
pub mod mariabackup;
pub mod pgbackrest;
pub mod report;
pub mod restic;
pub mod restore;
pub mod runs;
pub mod times;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use self::exec::{Bounds, ExecError, Invocation, Ran};
use self::report::{Policy, Report};
use self::restore::RestorePlan;
use crate::{Collection, Context, Custody, FailureKind, Observation, ParamError};

/// Default: a newest success older than this is not fresh (a daily job plus two hours).
pub const DEFAULT_STALE_AFTER_HOURS: f64 = 26.0;

/// Default window for run counts and daily success.
pub const DEFAULT_WINDOW_DAYS: u32 = 30;

/// The most bytes kept of one program's stdout or stderr.
const MAX_TOOL_OUTPUT: usize = 64 * 1024 * 1024;

/// Raw parameters of a `backup` instance, as written in its `params` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// The sources to observe; at least one. Names must be unique.
    pub sources: Vec<SourceConfig>,
    /// A newest success older than this many hours gives `fresh = false`. Default 26.
    pub stale_after_hours: Option<f64>,
    /// Days over which runs are counted and daily success is checked. Default 30.
    pub window_days: Option<u32>,
}

/// One backup source.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceConfig {
    /// A restic repository.
    Restic(RepoConfig),
    /// A BorgBackup repository.
    Borg(RepoConfig),
    /// A pgBackRest stanza.
    Pgbackrest(pgbackrest::PgbackrestConfig),
    /// A mariabackup log and backup directory.
    Mariabackup(mariabackup::MariabackupConfig),
    /// A log file read with configured patterns.
    Log(logs::LogConfig),
    /// A Hetzner Cloud server's provider backups.
    Hetzner(hetzner::HetznerConfig),
}

/// Parameters of a restic or borg repository.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// The source's name, unique in the instance; the observation's subject is `<kind>:<name>`.
    pub name: String,
    /// The repository (path or URL). Never holds a password; embedded user:pass is redacted
    /// in facts.
    pub repository: String,
    /// A file holding the repository password (absolute path).
    pub password_file: Option<String>,
    /// The name of a systemd credential holding the password (`$CREDENTIALS_DIRECTORY/<name>`).
    pub password_credential: Option<String>,
    /// The program; default `restic` or `borg` looked up in the default `PATH`.
    pub program: Option<String>,
    /// Run the tool's integrity check (`restic check`, `borg check`). Default false; give
    /// it its own instance with a weekly schedule.
    #[serde(default)]
    pub check: bool,
    /// Extra arguments for the check, e.g. `["--read-data-subset=1/20"]`.
    #[serde(default)]
    pub check_args: Vec<String>,
    /// Ask the tool for the sizes of the newest points. Default true.
    pub stats: Option<bool>,
    /// A directory of run records left by the backup wrapper (see `runs`).
    pub runs_dir: Option<String>,
    /// A restore test to make from the newest point.
    pub restore: Option<RestoreConfig>,
    /// Overrides whether the repository counts as off this host (e.g. an NFS mount).
    pub off_host: Option<bool>,
    /// restic: cache directory (default `--no-cache`); borg: `BORG_BASE_DIR`.
    pub cache_dir: Option<String>,
    /// borg: the zone its zone-less times are read in; the collector runs borg with `TZ=UTC`,
    /// so the default `UTC` is right unless output is replayed. IANA name or `local`.
    pub time_zone: Option<String>,
    /// A snapshot or archive with fewer files than this is empty (a finding, not a success),
    /// whatever came before it. Without it only zero files and falls to under a tenth count.
    pub min_files: Option<u64>,
    /// Like `min_files`, in bytes of original (source) size.
    pub min_bytes: Option<u64>,
    /// restic: backend variables (`AWS_ACCESS_KEY_ID`, `B2_ACCOUNT_KEY`, …) whose values are
    /// read from these absolute files at run time; values are never written in the config.
    #[serde(default)]
    pub env_files: BTreeMap<String, String>,
    /// restic: like `env_files`, from systemd credentials (`$CREDENTIALS_DIRECTORY/<name>`).
    #[serde(default)]
    pub env_credentials: BTreeMap<String, String>,
    /// A directory of run records (the `runs_dir` layout) that a job outside the collector,
    /// e.g. a systemd timer, left of each `restic check` / `borg check` it ran.
    pub check_runs_dir: Option<String>,
}

/// Parameters of a restore test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreConfig {
    /// The absolute path of a sample file as it was backed up.
    pub path: String,
    /// Its recorded SHA-256; without it the live file is compared.
    pub sha256: Option<String>,
    /// Where the private scratch directory is created; default the system temp directory.
    pub scratch_dir: Option<String>,
}

/// Validated settings of a `backup` instance.
#[derive(Debug, Clone)]
pub struct BackupSettings {
    sources: Vec<Source>,
    policy: Policy,
}

/// One validated source.
#[derive(Debug, Clone)]
enum Source {
    Restic(RepoSettings),
    Borg(RepoSettings),
    Pgbackrest(pgbackrest::PgbackrestSettings),
    Mariabackup(mariabackup::MariabackupSettings),
    Log(logs::LogSettings),
    Hetzner(hetzner::HetznerSettings),
}

/// Validated repository settings shared by restic and borg.
#[derive(Debug, Clone)]
pub struct RepoSettings {
    /// The source's name.
    pub name: String,
    /// Repository path or URL.
    pub repository: String,
    /// Where the password comes from.
    pub secret: Secret,
    /// The program to run.
    pub program: String,
    /// Whether to run the integrity check.
    pub check: bool,
    /// Extra check arguments.
    pub check_args: Vec<String>,
    /// Whether to ask for sizes.
    pub stats: bool,
    /// Run records directory.
    pub runs_dir: Option<PathBuf>,
    /// Restore test.
    pub restore: Option<RestorePlan>,
    /// Off-host override.
    pub off_host: Option<bool>,
    /// Cache or base directory.
    pub cache_dir: Option<PathBuf>,
    /// Zone of zone-less times.
    pub zone: times::Zone,
    /// Absolute size floor of a usable point.
    pub floor: report::Floor,
    /// Backend variables and where their values are read from (restic).
    pub backend_env: Vec<(String, Secret)>,
    /// Run records of integrity checks made outside the collector.
    pub check_runs_dir: Option<PathBuf>,
}

/// Where a secret is read from; only its path ever reaches a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// No secret (unencrypted repository).
    None,
    /// A file.
    File(PathBuf),
    /// A systemd credential name.
    Credential(String),
}

impl Secret {
    /// The file holding the secret.
    ///
    /// # Errors
    ///
    /// When no secret is configured, the credential directory is not set, or the file is
    /// missing; the message names the file or credential, never its content.
    pub fn resolve(&self) -> Result<PathBuf, ExecError> {
        let path = match self {
            Secret::None => {
                return Err(ExecError {
                    kind: FailureKind::NotFound,
                    message: "no password_file or password_credential configured".to_string(),
                })
            }
            Secret::File(path) => path.clone(),
            Secret::Credential(name) => credential_path(name)?,
        };
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(path),
            Ok(_) => Err(secret_error(FailureKind::NotFound, &path, "is not a file")),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                Err(secret_error(FailureKind::Permission, &path, "is not readable"))
            }
            Err(_) => Err(secret_error(FailureKind::NotFound, &path, "does not exist")),
        }
    }

    /// The secret's value: the file's content without a trailing newline. For backend
    /// variables only; passwords reach tools as a file path.
    ///
    /// # Errors
    ///
    /// As [`Secret::resolve`], or when the file cannot be read or is not UTF-8; the message
    /// names the file, never its content.
    pub fn read_value(&self) -> Result<String, ExecError> {
        let path = self.resolve()?;
        let bytes = std::fs::read(&path)
            .map_err(|_| secret_error(FailureKind::Permission, &path, "is not readable"))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| secret_error(FailureKind::Parse, &path, "is not UTF-8 text"))?;
        Ok(text.trim_end_matches(['\n', '\r']).to_string())
    }
}

fn credential_path(name: &str) -> Result<PathBuf, ExecError> {
    credential_in(std::env::var_os("CREDENTIALS_DIRECTORY").as_deref(), name)
}

/// The file of credential `name` in systemd's credential directory `dir`, if one is set.
fn credential_in(dir: Option<&std::ffi::OsStr>, name: &str) -> Result<PathBuf, ExecError> {
    match dir {
        Some(dir) => Ok(Path::new(dir).join(name)),
        None => Err(ExecError {
            kind: FailureKind::NotFound,
            message: format!("credential {name}: CREDENTIALS_DIRECTORY is not set"),
        }),
    }
}

fn secret_error(kind: FailureKind, path: &Path, what: &str) -> ExecError {
    ExecError { kind, message: format!("secret file {} {what}", path.display()) }
}

impl BackupConfig {
    /// Checks every parameter and returns the validated settings.
    ///
    /// # Errors
    ///
    /// Every problem found, each naming its key (e.g. `sources[1].password_file`).
    pub fn validate(self) -> Result<BackupSettings, Vec<ParamError>> {
        let mut errors = Vec::new();
        if self.sources.is_empty() {
            errors.push(ParamError::new("sources", "must list at least one source"));
        }
        let mut names = std::collections::BTreeSet::new();
        let mut sources = Vec::new();
        for (index, config) in self.sources.into_iter().enumerate() {
            let key = format!("sources[{index}]");
            if !names.insert(source_name(&config).to_string()) {
                errors.push(ParamError::new(format!("{key}.name"), "is used twice"));
            }
            if let Some(source) = validate_source(config, &key, &mut errors) {
                sources.push(source);
            }
        }
        let stale = self.stale_after_hours.unwrap_or(DEFAULT_STALE_AFTER_HOURS);
        if !(stale.is_finite() && stale > 0.0) {
            errors.push(ParamError::new("stale_after_hours", "must be a positive number"));
        }
        let window_days = self.window_days.unwrap_or(DEFAULT_WINDOW_DAYS);
        if !(1..=3660).contains(&window_days) {
            errors.push(ParamError::new("window_days", "must be between 1 and 3660"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let policy = Policy { stale_after_hours: stale, window_days };
        Ok(BackupSettings { sources, policy })
    }
}

fn source_name(config: &SourceConfig) -> &str {
    match config {
        SourceConfig::Restic(c) | SourceConfig::Borg(c) => &c.name,
        SourceConfig::Pgbackrest(c) => &c.name,
        SourceConfig::Mariabackup(c) => &c.name,
        SourceConfig::Log(c) => &c.name,
        SourceConfig::Hetzner(c) => &c.name,
    }
}

fn validate_source(
    config: SourceConfig,
    key: &str,
    errors: &mut Vec<ParamError>,
) -> Option<Source> {
    let before = errors.len();
    let source = match config {
        SourceConfig::Restic(c) => Source::Restic(validate_repo(c, "restic", key, errors)),
        SourceConfig::Borg(c) => Source::Borg(validate_repo(c, "borg", key, errors)),
        SourceConfig::Pgbackrest(c) => Source::Pgbackrest(c.validate(key, errors)),
        SourceConfig::Mariabackup(c) => Source::Mariabackup(c.validate(key, errors)),
        SourceConfig::Log(c) => Source::Log(c.validate(key, errors)),
        SourceConfig::Hetzner(c) => Source::Hetzner(c.validate(key, errors)),
    };
    (errors.len() == before).then_some(source)
}

/// Checks a name: non-empty, printable, no `/`.
pub fn validate_name(name: &str, key: &str, errors: &mut Vec<ParamError>) {
    if name.is_empty() || name.contains('/') || name.chars().any(char::is_control) {
        errors.push(ParamError::new(
            format!("{key}.name"),
            "must be non-empty, without / or control characters",
        ));
    }
}

/// An absolute path parameter.
pub fn absolute(raw: &str, key: String, errors: &mut Vec<ParamError>) -> PathBuf {
    let path = PathBuf::from(raw);
    if !path.is_absolute() || raw.contains('\0') {
        errors.push(ParamError::new(key, format!("{raw} is not an absolute path")));
    }
    path
}

/// The secret of a source: a file or a systemd credential, not both.
pub fn validate_secret(
    file: Option<String>,
    credential: Option<String>,
    key: &str,
    field: &str,
    errors: &mut Vec<ParamError>,
) -> Secret {
    match (file, credential) {
        (Some(_), Some(_)) => {
            errors.push(ParamError::new(
                format!("{key}.{field}_file"),
                format!("give {field}_file or {field}_credential, not both"),
            ));
            Secret::None
        }
        (Some(file), None) => Secret::File(absolute(&file, format!("{key}.{field}_file"), errors)),
        (None, Some(name)) => {
            if name.is_empty() || name.contains('/') || name == ".." {
                errors.push(ParamError::new(
                    format!("{key}.{field}_credential"),
                    "must be a plain credential name",
                ));
            }
            Secret::Credential(name)
        }
        (None, None) => Secret::None,
    }
}

fn validate_repo(
    c: RepoConfig,
    tool: &str,
    key: &str,
    errors: &mut Vec<ParamError>,
) -> RepoSettings {
    validate_name(&c.name, key, errors);
    if c.repository.is_empty() || c.repository.contains('\0') {
        errors.push(ParamError::new(format!("{key}.repository"), "must be a path or URL"));
    }
    let secret = validate_secret(c.password_file, c.password_credential, key, "password", errors);
    if tool == "restic" && secret == Secret::None {
        errors.push(ParamError::new(
            format!("{key}.password_file"),
            "restic needs password_file or password_credential",
        ));
    }
    let restore = c.restore.map(|r| validate_restore(r, key, errors));
    let zone = match c.time_zone.as_deref().map(times::Zone::parse) {
        None => times::Zone::Utc,
        Some(Some(zone)) => zone,
        Some(None) => {
            errors.push(ParamError::new(format!("{key}.time_zone"), "is not a known time zone"));
            times::Zone::Utc
        }
    };
    let floor = report::Floor { min_files: c.min_files, min_bytes: c.min_bytes };
    let backend_env = validate_backend_env(c.env_files, c.env_credentials, tool, key, errors);
    RepoSettings {
        name: c.name,
        repository: c.repository,
        secret,
        program: c.program.unwrap_or_else(|| tool.to_string()),
        check: c.check,
        check_args: c.check_args,
        stats: c.stats.unwrap_or(true),
        runs_dir: c.runs_dir.map(|d| absolute(&d, format!("{key}.runs_dir"), errors)),
        restore,
        off_host: c.off_host,
        cache_dir: c.cache_dir.map(|d| absolute(&d, format!("{key}.cache_dir"), errors)),
        zone,
        floor,
        backend_env,
        check_runs_dir: c
            .check_runs_dir
            .map(|d| absolute(&d, format!("{key}.check_runs_dir"), errors)),
    }
}

/// Prefixes of the variables restic's backends read credentials from (S3, B2, Azure, GCS,
/// Swift, REST). Only these may be set: a configured `PATH` or `LD_PRELOAD` would change what
/// runs, and `RESTIC_*` would override the repository and password the collector sets.
const BACKEND_ENV_PREFIXES: [&str; 8] =
    ["AWS_", "B2_", "AZURE_", "GOOGLE_", "OS_", "ST_", "SWIFT_", "RESTIC_REST_"];

fn validate_backend_env(
    files: BTreeMap<String, String>,
    credentials: BTreeMap<String, String>,
    tool: &str,
    key: &str,
    errors: &mut Vec<ParamError>,
) -> Vec<(String, Secret)> {
    if tool != "restic" && !(files.is_empty() && credentials.is_empty()) {
        errors.push(ParamError::new(format!("{key}.env_files"), "is only read for restic"));
    }
    let mut env = Vec::new();
    for (var, file) in files {
        let field = format!("{key}.env_files.{var}");
        check_backend_var(&var, &field, errors);
        if credentials.contains_key(&var) {
            errors.push(ParamError::new(&field, "is also in env_credentials"));
        }
        env.push((var, Secret::File(absolute(&file, field, errors))));
    }
    for (var, name) in credentials {
        let field = format!("{key}.env_credentials.{var}");
        check_backend_var(&var, &field, errors);
        if name.is_empty() || name.contains('/') || name == ".." {
            errors.push(ParamError::new(field, "must be a plain credential name"));
        }
        env.push((var, Secret::Credential(name)));
    }
    env
}

fn check_backend_var(var: &str, field: &str, errors: &mut Vec<ParamError>) {
    let shaped = !var.is_empty()
        && var.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !shaped || !BACKEND_ENV_PREFIXES.iter().any(|p| var.starts_with(p)) {
        errors.push(ParamError::new(
            field,
            format!("is not a backend credential variable ({})", BACKEND_ENV_PREFIXES.join(", ")),
        ));
    }
}

fn validate_restore(r: RestoreConfig, key: &str, errors: &mut Vec<ParamError>) -> RestorePlan {
    let path = absolute(&r.path, format!("{key}.restore.path"), errors);
    let digest_ok = |d: &String| d.len() == 64 && d.chars().all(|c| c.is_ascii_hexdigit());
    if r.sha256.as_ref().is_some_and(|d| !digest_ok(d)) {
        errors.push(ParamError::new(format!("{key}.restore.sha256"), "must be 64 hex digits"));
    }
    let scratch_parent = match r.scratch_dir {
        Some(dir) => absolute(&dir, format!("{key}.restore.scratch_dir"), errors),
        None => std::env::temp_dir(),
    };
    RestorePlan { path, sha256: r.sha256.map(|d| d.to_ascii_lowercase()), scratch_parent }
}

/// Observes every source; one observation or one failure per source.
pub async fn collect(settings: &BackupSettings, ctx: &Context) -> Collection {
    let mut out = Collection::default();
    let deadline = Instant::now() + ctx.timeout;
    for (index, source) in settings.sources.iter().enumerate() {
        let started = Instant::now();
        let left = settings.sources.len() - index;
        let run = Run { now: ctx.now, deadline: fair_share(started, deadline, left), ctx };
        let subject = subject(source);
        match collect_source(source, &run).await {
            Ok(mut report) => {
                let earlier = ctx.previous.get(&subject).and_then(|p| p.facts.as_ref());
                report.earlier_collapses = report::earlier_collapses(earlier);
                out.observations.push(observe(subject, report, settings.policy, ctx, started))
            }
            Err(failure) => out.fail(subject, failure.kind, failure.message),
        }
    }
    out
}

/// The deadline of the next source: an equal share of the time left among the `left` sources
/// still to collect. A hanging source times out at its share and fails alone; time a source
/// does not use goes to the ones after it. Sources run one after another so that two backup
/// tools never compete for the host's memory and I/O.
fn fair_share(now: Instant, deadline: Instant, left: usize) -> Instant {
    let remaining = deadline.saturating_duration_since(now);
    let share = remaining / u32::try_from(left.max(1)).unwrap_or(u32::MAX);
    now + share
}

async fn collect_source(source: &Source, run: &Run<'_>) -> Result<Report, ExecError> {
    match source {
        Source::Restic(repo) => restic::collect(repo, run).await,
        Source::Borg(repo) => borg::collect(repo, run).await,
        Source::Pgbackrest(s) => pgbackrest::collect(s, run).await,
        Source::Mariabackup(s) => mariabackup::collect(s, run).await,
        Source::Log(s) => logs::collect(s, run).await,
        Source::Hetzner(s) => hetzner::collect(s, run).await,
    }
}

fn subject(source: &Source) -> String {
    match source {
        Source::Restic(r) => format!("restic:{}", r.name),
        Source::Borg(r) => format!("borg:{}", r.name),
        Source::Pgbackrest(s) => format!("pgbackrest:{}", s.name),
        Source::Mariabackup(s) => format!("mariabackup:{}", s.name),
        Source::Log(s) => format!("log:{}", s.name),
        Source::Hetzner(s) => format!("hetzner:{}", s.name),
    }
}

fn observe(
    subject: String,
    report: Report,
    policy: Policy,
    ctx: &Context,
    started: Instant,
) -> Observation {
    let tool_version = report.tool_version.clone();
    let primary = report.primary_command.and_then(|i| report.commands.get(i));
    let first_command = primary.or_else(|| report.commands.first()).cloned();
    let (facts, effective_at) = report.into_facts(ctx.now, policy);
    let argv = first_command.as_ref().and_then(|c| serde_json::from_value(c["argv"].clone()).ok());
    let exit_code = first_command
        .as_ref()
        .and_then(|c| c["exit_code"].as_i64())
        .and_then(|c| i32::try_from(c).ok());
    Observation {
        subject,
        collected_at: ctx.now,
        effective_at,
        facts,
        custody: Custody {
            argv,
            exit_code,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            tool_version,
        },
    }
}

/// What a source needs from the run: the time, the deadline for programs, the context.
pub struct Run<'a> {
    /// The run's reference time.
    pub now: DateTime<Utc>,
    /// When this source must be done (its share of the collection's time).
    pub deadline: Instant,
    /// The whole context (limits, cancellation).
    pub ctx: &'a Context,
}

impl Run<'_> {
    /// Runs a program and records it in the report's `commands`.
    ///
    /// # Errors
    ///
    /// When the program cannot be started or does not finish in time.
    pub async fn tool(
        &self,
        report: &mut Report,
        argv: Vec<String>,
        env: &[(String, String)],
    ) -> Result<Ran, ExecError> {
        self.tool_in(report, Invocation::new(argv, env)).await
    }

    /// Like [`Run::tool`] with a prepared invocation (working directory).
    ///
    /// # Errors
    ///
    /// When the program cannot be started or does not finish in time.
    pub async fn tool_in(&self, report: &mut Report, call: Invocation) -> Result<Ran, ExecError> {
        let ran = exec::run(&call, &self.bounds()).await;
        match &ran {
            Ok(ran) => report.commands.push(ran.record()),
            Err(e) => {
                report.commands.push(serde_json::json!({ "argv": call.argv, "error": e.message }))
            }
        }
        ran
    }

    /// The time left for one more step.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Bounds for one program: the time left, the output cap, cancellation.
    pub fn bounds(&self) -> Bounds {
        let cap = usize::try_from(self.ctx.limits.max_read_bytes).unwrap_or(usize::MAX);
        Bounds {
            timeout: self.remaining(),
            cap: cap.min(MAX_TOOL_OUTPUT),
            cancel: self.ctx.cancel.clone(),
        }
    }
}

/// Fails when a listing was cut at the byte budget: a partial list would hide snapshots.
///
/// # Errors
///
/// A parse failure naming `what` and the budget.
pub fn ensure_complete(ran: &Ran, what: &str) -> Result<(), ExecError> {
    if !ran.stdout_truncated {
        return Ok(());
    }
    Err(ExecError {
        kind: FailureKind::Parse,
        message: format!(
            "{what} output is larger than the byte budget of {} bytes; raise max_read_bytes",
            ran.stdout.len()
        ),
    })
}

/// A repository location with any `user:password@` part replaced by `***@`.
pub fn redact_location(location: &str) -> String {
    let Some(scheme_end) = location.find("://") else {
        return location.to_string();
    };
    let rest = &location[scheme_end + 3..];
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) if rest[..at].contains(':') => {
            format!("{}***@{}", &location[..scheme_end + 3], &rest[at + 1..])
        }
        _ => location.to_string(),
    }
}

/// Compiles a configured regex (bounded size), pushing an error naming `key`.
pub fn compile(key: &str, source: &str, errors: &mut Vec<ParamError>) -> Option<regex::Regex> {
    match regex::RegexBuilder::new(source).size_limit(1 << 20).build() {
        Ok(regex) => Some(regex),
        Err(e) => {
            let text = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
            errors.push(ParamError::new(key, format!("invalid regex: {text}")));
            None
        }
    }
}

#[cfg(test)]
mod tests;
