//! The pgBackRest source: one stanza from `pgbackrest info --output=json`.
//!
//! Owns reading the stanza's status code (0 ok; 2 "no valid backups" and every other code
//! except 6 "backup/expire running" mean failed, whatever the exit status), its backups
//! (label, type, stop time as epoch seconds, size, the `error` flag newer releases set when a
//! backup found checksum errors), cipher and repositories. It runs pgBackRest by argv, or reads
//! the JSON a cron job saved (`info_file`) when the agent may not run it. It does not know
//! which repository is on another host: pgBackRest does not say, so `off_host` is configured.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::exec::ExecError;
use super::report::{Point, Report, RunResult};
use super::times::Stamp;
use super::{absolute, validate_name, Run};
use crate::{FailureKind, ParamError};

/// Parameters of a pgBackRest source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgbackrestConfig {
    /// The source's name.
    pub name: String,
    /// The stanza to report.
    pub stanza: String,
    /// The program; default `pgbackrest`. Run as `<program> --stanza=<s> info --output=json`.
    pub program: Option<String>,
    /// Read saved `info --output=json` output from this file instead of running the program.
    pub info_file: Option<String>,
    /// Whether a repository of this stanza is on another host.
    pub off_host: Option<bool>,
}

/// Validated pgBackRest settings.
#[derive(Debug, Clone)]
pub struct PgbackrestSettings {
    /// The source's name.
    pub name: String,
    stanza: String,
    program: String,
    info_file: Option<PathBuf>,
    off_host: Option<bool>,
}

impl PgbackrestConfig {
    /// Validates, pushing errors under `key`.
    pub fn validate(self, key: &str, errors: &mut Vec<ParamError>) -> PgbackrestSettings {
        validate_name(&self.name, key, errors);
        if self.stanza.is_empty() || self.stanza.starts_with('-') {
            errors.push(ParamError::new(format!("{key}.stanza"), "must be a stanza name"));
        }
        PgbackrestSettings {
            name: self.name,
            stanza: self.stanza,
            program: self.program.unwrap_or_else(|| "pgbackrest".to_string()),
            info_file: self.info_file.map(|f| absolute(&f, format!("{key}.info_file"), errors)),
            off_host: self.off_host,
        }
    }
}

/// Collects one stanza.
///
/// # Errors
///
/// When pgBackRest cannot be run, its output cannot be read, or the stanza is not in it.
pub async fn collect(settings: &PgbackrestSettings, run: &Run<'_>) -> Result<Report, ExecError> {
    let mut report = Report {
        source: "pgbackrest",
        name: settings.name.clone(),
        location: format!("stanza {}", settings.stanza),
        off_host: settings.off_host,
        ..Report::default()
    };
    let stdout = match &settings.info_file {
        Some(file) => read_file(file)?,
        None => {
            let argv = vec![
                settings.program.clone(),
                format!("--stanza={}", settings.stanza),
                "info".to_string(),
                "--output=json".to_string(),
            ];
            run.tool(&mut report, argv, &[]).await?.stdout
        }
    };
    apply_info(&mut report, &stdout, &settings.stanza)
        .map_err(|message| ExecError { kind: FailureKind::Parse, message })?;
    Ok(report)
}

fn read_file(file: &std::path::Path) -> Result<Vec<u8>, ExecError> {
    std::fs::read(file).map_err(|e| ExecError {
        kind: if e.kind() == std::io::ErrorKind::NotFound {
            FailureKind::NotFound
        } else {
            FailureKind::Permission
        },
        message: format!("cannot read info_file {}: {e}", file.display()),
    })
}

/// Fills `report` from `info --output=json` for `stanza`.
///
/// # Errors
///
/// A message when the output is not pgBackRest info JSON or lacks the stanza.
pub fn apply_info(report: &mut Report, stdout: &[u8], stanza: &str) -> Result<(), String> {
    let stanzas: Vec<Value> = serde_json::from_slice(stdout)
        .map_err(|e| format!("pgbackrest info output is not a stanza list: {e}"))?;
    let found = stanzas
        .iter()
        .find(|s| s["name"] == stanza)
        .ok_or_else(|| format!("stanza {stanza} not in pgbackrest info output"))?;
    let code = found["status"]["code"].as_i64();
    report.points = backups(found);
    report.stated_result = Some(stated_result(code, &report.points));
    report.encryption = found["cipher"].as_str().map(String::from);
    report.encrypted = report.encryption.as_deref().map(|cipher| cipher != "none");
    let repos = found["repo"].as_array().map_or(0, Vec::len);
    report.independent_copy = match report.off_host {
        Some(true) => Some(true),
        _ if repos <= 1 => Some(false),
        _ => None,
    };
    report.detail.insert("status_code".into(), json!(code));
    report.detail.insert("status_message".into(), found["status"]["message"].clone());
    report.detail.insert("repositories".into(), json!(repos));
    report
        .detail
        .insert("backup_lock_held".into(), found["status"]["lock"]["backup"]["held"].clone());
    Ok(())
}

/// 0 and 6 (running) defer to the newest backup; every other code is a failure.
fn stated_result(code: Option<i64>, points: &[Point]) -> RunResult {
    match code {
        Some(0) | Some(6) => match points.iter().max_by_key(|p| p.at.utc) {
            Some(newest) if newest.good => RunResult::Success,
            Some(_) => RunResult::Warning,
            None => RunResult::Failed,
        },
        _ => RunResult::Failed,
    }
}

fn backups(stanza: &Value) -> Vec<Point> {
    let Some(list) = stanza["backup"].as_array() else {
        return Vec::new();
    };
    list.iter().filter_map(backup_point).collect()
}

fn backup_point(backup: &Value) -> Option<Point> {
    let stop = backup["timestamp"]["stop"].as_i64()?;
    let utc: DateTime<Utc> = DateTime::from_timestamp(stop, 0)?;
    Some(Point {
        id: backup["label"].as_str().unwrap_or("?").to_string(),
        at: Stamp { utc, raw: stop.to_string(), zone_used: "epoch".to_string() },
        bytes: backup["info"]["size"].as_u64(),
        files: None,
        good: backup["error"].as_bool() != Some(true),
        job: backup["type"].as_str().map(String::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::report::Policy;
    use crate::backup::times::{parse_iso, Zone};

    fn facts(fixture: &str, stanza: &str) -> Value {
        let mut report = Report { source: "pgbackrest", ..Report::default() };
        apply_info(&mut report, fixture.as_bytes(), stanza).expect("apply");
        let now = parse_iso("2026-08-20T12:00:00Z", Zone::Utc).expect("now").utc;
        report.into_facts(now, Policy { stale_after_hours: 26.0, window_days: 7 }).0
    }

    #[test]
    fn bk09_no_valid_backups_is_failed_with_encryption_on() {
        let facts = facts(include_str!("fixtures/pgbackrest/bk09-no-valid-backups.json"), "main");
        assert_eq!(facts["result"], "failed");
        assert_eq!(facts["result_basis"], "repository_status");
        assert_eq!(facts["last_success_utc"], Value::Null);
        assert_eq!(facts["encryption"], "aes-256-cbc");
        assert_eq!(facts["encrypted"], true);
        assert_eq!(facts["detail"]["repositories"], 1);
        assert_eq!(facts["independent_copy"], false);
    }

    #[test]
    fn ok_stanza_with_error_backup() {
        let fixture = include_str!("fixtures/pgbackrest/ok-two-backups.json");
        let facts = facts(fixture, "main");
        assert_eq!(facts["result"], "warning", "{facts}");
        assert_eq!(facts["last_success"]["id"], "20260819-013001F");
        assert_eq!(facts["last_success_utc"], "2026-08-19T01:32:10.000Z");
        assert_eq!(facts["snapshot_count"], 2);
        assert_eq!(facts["encrypted"], false);
        let mut report = Report::default();
        assert!(apply_info(&mut report, fixture.as_bytes(), "other")
            .expect_err("no stanza")
            .contains("other"));
        assert!(apply_info(&mut report, b"{}", "main").is_err());
    }
}
