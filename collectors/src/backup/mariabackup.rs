//! The mariabackup source: its log and the checkpoint file of the backup directory.
//!
//! Owns splitting a mariabackup (or mariadb-backup, xtrabackup) log into runs and deciding
//! each run's result from what the tool printed, not from a wrapper: a run succeeded only
//! when its last line says `completed OK!` and it printed no `[ERROR]` or `Error:` line; the
//! newest run also needs `backup_type` `full-backuped`, `full-prepared` or `incremental` in
//! `xtrabackup_checkpoints` (newer releases: `mariadb_backup_checkpoints`). A wrapper's exit
//! status and the existence of an archive are recorded as claims, never counted. Log times
//! carry no zone; they are read in the configured zone (default: the host's) for that date.

use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;
use serde_json::json;
#[cfg(test)]
use serde_json::Value;

use super::exec::ExecError;
use super::report::{Point, Report, RunRecord, RunResult, MAX_DETAILS};
use super::runs::parse_exit_code;
use super::times::{parse_with_format, Stamp, Zone};
use super::{absolute, validate_name, Run};
use crate::{FailureKind, ParamError};

/// The most bytes of a log read (its end is what matters; the newest part is kept).
const MAX_LOG_BYTES: u64 = 16 * 1024 * 1024;

/// Parameters of a mariabackup source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MariabackupConfig {
    /// The source's name.
    pub name: String,
    /// The log mariabackup's stderr was written to.
    pub log: String,
    /// The backup directory holding the checkpoint file.
    pub target_dir: String,
    /// Zone of the log's times: IANA name, `UTC` or `local` (default).
    pub time_zone: Option<String>,
    /// A file holding the wrapper's exit status (recorded, not counted).
    pub wrapper_exit_code_file: Option<String>,
    /// An artifact the wrapper makes, e.g. a tarball (its existence is recorded, not counted).
    pub artifact: Option<String>,
    /// Whether the backup directory is on another host (e.g. a mounted remote).
    pub off_host: Option<bool>,
}

/// Validated mariabackup settings.
#[derive(Debug, Clone)]
pub struct MariabackupSettings {
    /// The source's name.
    pub name: String,
    log: PathBuf,
    target_dir: PathBuf,
    zone: Zone,
    wrapper_exit_code_file: Option<PathBuf>,
    artifact: Option<PathBuf>,
    off_host: Option<bool>,
}

impl MariabackupConfig {
    /// Validates, pushing errors under `key`.
    pub fn validate(self, key: &str, errors: &mut Vec<ParamError>) -> MariabackupSettings {
        validate_name(&self.name, key, errors);
        let zone = zone_param(self.time_zone.as_deref(), key, errors);
        MariabackupSettings {
            name: self.name,
            log: absolute(&self.log, format!("{key}.log"), errors),
            target_dir: absolute(&self.target_dir, format!("{key}.target_dir"), errors),
            zone,
            wrapper_exit_code_file: self
                .wrapper_exit_code_file
                .map(|f| absolute(&f, format!("{key}.wrapper_exit_code_file"), errors)),
            artifact: self.artifact.map(|f| absolute(&f, format!("{key}.artifact"), errors)),
            off_host: self.off_host,
        }
    }
}

/// A `time_zone` parameter: default the host's zone.
pub fn zone_param(raw: Option<&str>, key: &str, errors: &mut Vec<ParamError>) -> Zone {
    match raw.map(Zone::parse) {
        None => Zone::HostLocal,
        Some(Some(zone)) => zone,
        Some(None) => {
            errors.push(ParamError::new(format!("{key}.time_zone"), "is not a known time zone"));
            Zone::HostLocal
        }
    }
}

/// Collects the log and checkpoint file.
///
/// # Errors
///
/// When the log cannot be read.
pub async fn collect(settings: &MariabackupSettings, _run: &Run<'_>) -> Result<Report, ExecError> {
    let log = read_tail(&settings.log)?;
    let checkpoints = read_checkpoints(&settings.target_dir);
    let mut report = Report {
        source: "mariabackup",
        name: settings.name.clone(),
        location: settings.target_dir.to_string_lossy().into_owned(),
        off_host: settings.off_host,
        ..Report::default()
    };
    apply(&mut report, &log, checkpoints.as_deref(), settings.zone);
    let wrapper = settings
        .wrapper_exit_code_file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|t| parse_exit_code(&t));
    let artifact = settings.artifact.as_ref().map(|a| a.exists());
    report.detail.insert(
        "claims".into(),
        json!({ "wrapper_exit_code": wrapper, "artifact_exists": artifact, "counted": false }),
    );
    Ok(report)
}

/// The end of the log, at most [`MAX_LOG_BYTES`].
pub fn read_tail(path: &Path) -> Result<String, ExecError> {
    use std::io::{Read, Seek, SeekFrom};
    let fail = |e: std::io::Error| ExecError {
        kind: match e.kind() {
            std::io::ErrorKind::NotFound => FailureKind::NotFound,
            std::io::ErrorKind::PermissionDenied => FailureKind::Permission,
            _ => FailureKind::Other,
        },
        message: format!("cannot read log {}: {e}", path.display()),
    };
    let mut file = std::fs::File::open(path).map_err(fail)?;
    let len = file.metadata().map_err(fail)?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(MAX_LOG_BYTES))).map_err(fail)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(fail)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The checkpoint file's text, under either name.
fn read_checkpoints(dir: &Path) -> Option<String> {
    ["mariadb_backup_checkpoints", "xtrabackup_checkpoints"]
        .iter()
        .find_map(|name| std::fs::read_to_string(dir.join(name)).ok())
}

/// One run of the log.
#[derive(Debug, Default)]
struct LogRun {
    lines: Vec<String>,
    connected: bool,
    last_time: Option<Stamp>,
}

/// Fills `report` from the log text and the checkpoint file text.
pub fn apply(report: &mut Report, log: &str, checkpoints: Option<&str>, zone: Zone) {
    let runs = split_runs(log, zone);
    let backup_type = checkpoints.and_then(checkpoint_type);
    let count = runs.len();
    for (index, run) in runs.iter().enumerate() {
        let newest = index + 1 == count;
        let record = classify(run, newest.then_some(backup_type.as_deref()));
        if record.result == RunResult::Success {
            if let Some(at) = &run.last_time {
                report.points.push(Point {
                    id: format!("run-{}", at.raw),
                    at: at.clone(),
                    bytes: None,
                    files: None,
                    good: true,
                    job: None,
                });
            }
        }
        report.runs.push(record);
    }
    report.detail.insert("backup_type".into(), json!(backup_type));
    report.detail.insert("checkpoints_present".into(), json!(checkpoints.is_some()));
}

fn split_runs(log: &str, zone: Zone) -> Vec<LogRun> {
    let mut runs: Vec<LogRun> = Vec::new();
    for line in log.lines() {
        let connects = is_connect(line);
        if runs.last().is_none_or(|r| connects && r.connected) {
            runs.push(LogRun::default());
        }
        let run = runs.last_mut().expect("a run was pushed above");
        run.connected |= connects;
        if let Some(stamp) = line_time(line, zone) {
            run.last_time = Some(stamp);
        }
        if !line.trim().is_empty() {
            run.lines.push(line.trim_end().to_string());
        }
    }
    runs.retain(|r| !r.lines.is_empty());
    runs
}

/// The line each run starts with: `Connecting to MariaDB server host: …` (older releases:
/// `Connecting to MySQL server host: …`, `Connecting to server host: …`).
fn is_connect(line: &str) -> bool {
    ["Connecting to MariaDB server", "Connecting to MySQL server", "Connecting to server host"]
        .iter()
        .any(|marker| line.contains(marker))
}

/// `[00] 2026-08-20 02:00:01 …` (mariabackup ≥ 10.2) or `180320 10:23:45 …` (older).
fn line_time(line: &str, zone: Zone) -> Option<Stamp> {
    static FORMS: std::sync::OnceLock<[(Regex, &str); 2]> = std::sync::OnceLock::new();
    let forms = FORMS.get_or_init(|| {
        [
            (
                Regex::new(r"^\[\d+\]\s+(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")
                    .expect("static regex"),
                "%Y-%m-%d %H:%M:%S",
            ),
            (
                Regex::new(r"^(\d{6} +\d{1,2}:\d{2}:\d{2})").expect("static regex"),
                "%y%m%d %H:%M:%S",
            ),
        ]
    });
    forms.iter().find_map(|(regex, format)| {
        let raw = regex.captures(line)?.get(1)?.as_str();
        let normal = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        parse_with_format(&normal, format, zone)
    })
}

fn checkpoint_type(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "backup_type").then(|| value.trim().to_string())
    })
}

/// `backup_type` of the newest run is `Some(..)`; earlier runs pass `None` (not checked).
fn classify(run: &LogRun, checkpoint: Option<Option<&str>>) -> RunRecord {
    let errors: Vec<String> = run
        .lines
        .iter()
        .filter(|l| l.contains("[ERROR]") || l.contains("Error:") || l.contains("FATAL ERROR"))
        .take(MAX_DETAILS)
        .cloned()
        .collect();
    let completed = run.lines.last().is_some_and(|l| l.contains("completed OK!"));
    let mut details = errors.clone();
    if !completed {
        details.push("no final `completed OK!` line".to_string());
    }
    let checkpoint_ok = match checkpoint {
        None => true,
        Some(Some(kind)) => matches!(kind, "full-backuped" | "full-prepared" | "incremental"),
        Some(None) => {
            details.push("no checkpoints file in the backup directory".to_string());
            false
        }
    };
    if let Some(Some(kind)) = checkpoint.filter(|_| !checkpoint_ok) {
        details.push(format!("checkpoints backup_type is {kind}"));
    }
    let result = if completed && errors.is_empty() && checkpoint_ok {
        RunResult::Success
    } else {
        RunResult::Failed
    };
    details.truncate(MAX_DETAILS);
    RunRecord {
        at: run.last_time.as_ref().map(|s| s.utc),
        result,
        exit_code: None,
        snapshot_id: None,
        details,
    }
}

/// For tests: the facts of a log and checkpoint text at `now`.
#[cfg(test)]
fn facts_of(log: &str, checkpoints: Option<&str>, zone: Zone) -> Value {
    use super::report::Policy;
    let mut report = Report { source: "mariabackup", ..Report::default() };
    apply(&mut report, log, checkpoints, zone);
    let now = super::times::parse_iso("2026-08-20T12:00:00Z", Zone::Utc).expect("now").utc;
    report.into_facts(now, Policy { stale_after_hours: 26.0, window_days: 7 }).0
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAILED: &str = include_str!("fixtures/mariabackup/bk05-failed.log");
    const OK: &str = include_str!("fixtures/mariabackup/ok.log");
    const CHECKPOINTS: &str = include_str!("fixtures/mariabackup/xtrabackup_checkpoints");

    #[test]
    fn bk05_error_line_and_missing_checkpoints_fail() {
        let facts = facts_of(FAILED, None, Zone::Utc);
        assert_eq!(facts["result"], "failed");
        assert_eq!(facts["last_success_utc"], Value::Null);
        let details = facts["last_run"]["details"].as_array().expect("details");
        assert!(details
            .iter()
            .any(|d| d.as_str().is_some_and(|d| d.contains("Operating system error number 28"))));
        assert!(details.iter().any(|d| d == "no checkpoints file in the backup directory"));
        // Even a checkpoints file left from an earlier run does not rescue an errored run.
        assert_eq!(facts_of(FAILED, Some(CHECKPOINTS), Zone::Utc)["result"], "failed");
    }

    #[test]
    fn completed_ok_with_checkpoints_succeeds_in_the_log_zone() {
        let berlin = Zone::parse("Europe/Berlin").expect("zone");
        let facts = facts_of(OK, Some(CHECKPOINTS), berlin);
        assert_eq!(facts["result"], "success", "{facts}");
        assert_eq!(facts["last_success_utc"], "2026-08-19T00:04:12.000Z");
        assert_eq!(facts["last_success"]["raw"], "2026-08-19 02:04:12");
        assert_eq!(facts["detail"]["backup_type"], "full-backuped");
        // The same log without its checkpoints file is a failure; a prepare-only type too.
        assert_eq!(facts_of(OK, None, berlin)["result"], "failed");
        let odd = CHECKPOINTS.replace("full-backuped", "log-applied");
        assert_eq!(facts_of(OK, Some(&odd), berlin)["result"], "failed");
    }

    #[test]
    fn appended_log_takes_the_newest_run() {
        let both = format!("{OK}{FAILED}");
        let facts = facts_of(&both, None, Zone::Utc);
        assert_eq!(facts["result"], "failed");
        assert_eq!(facts["runs"]["recorded"], 2);
        assert_eq!(facts["last_success_utc"], "2026-08-19T02:04:12.000Z");
        let truncated = OK.lines().take(5).collect::<Vec<_>>().join("\n");
        assert_eq!(facts_of(&truncated, Some(CHECKPOINTS), Zone::Utc)["result"], "failed");
    }
}
