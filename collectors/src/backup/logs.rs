//! The generic log source: runs and results read from a log with configured patterns.
//!
//! Owns turning lines into runs (a `start` line opens one; a `success`, `warning` or `failure`
//! line, or an exit code found in a line, sets its result) and mapping exit codes through an
//! explicit table, because tools do not order codes by severity: rsnapshot exits 1 for errors
//! and 2 for warnings, rsync's 23 and 24 are partial transfers. A code not in the table is a
//! failure. The worst result seen in a run wins, ranked by meaning, never by number. Presets
//! give the patterns and tables for rsnapshot and rsync; configured patterns override them.
//! With `records = "integrity_check"` or `"restore_test"` the log's runs are integrity checks
//! or restore tests that a job outside the collector made (a systemd timer running `restic
//! check` and logging to a file): the newest one becomes the source's integrity or restore
//! result, dated by its own timestamp.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use regex::Regex;
use serde::Deserialize;
use serde_json::json;

use super::exec::ExecError;
use super::mariabackup::{read_tail, zone_param};
use super::report::{Integrity, Point, Report, RunRecord, RunResult, MAX_DETAILS};
use super::runs::parse_exit_code;
use super::times::{hours_between, parse_iso, parse_with_format, rfc3339, Stamp, Zone};
use super::{absolute, validate_name, Run};
use crate::ParamError;

/// Parameters of a generic log source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// The source's name.
    pub name: String,
    /// The log file.
    pub path: String,
    /// `rsnapshot` or `rsync`: default patterns and exit-code table.
    pub preset: Option<String>,
    /// A line that starts a run.
    pub start: Option<String>,
    /// A line that says the run succeeded.
    pub success: Option<String>,
    /// A line that says the run finished with warnings.
    pub warning: Option<String>,
    /// A line that says the run failed.
    pub failure: Option<String>,
    /// A regex whose first group is an exit code printed in a line, e.g. rsync's `(code 23)`.
    pub exit_code_pattern: Option<String>,
    /// A regex whose first group is the line's timestamp.
    pub timestamp: Option<String>,
    /// The strftime format of that timestamp; default ISO 8601.
    pub timestamp_format: Option<String>,
    /// Zone of zone-less timestamps: IANA name, `UTC` or `local` (default).
    pub time_zone: Option<String>,
    /// Exit code → `success`, `warning`, `partial` or `failed`; others are `failed`.
    #[serde(default)]
    pub exit_codes: BTreeMap<String, String>,
    /// A file where the wrapper wrote the last run's exit status.
    pub exit_code_file: Option<String>,
    /// Whether the backups this log describes are on another host.
    pub off_host: Option<bool>,
    /// What the log's runs are: `backup` (default), `integrity_check` or `restore_test`.
    pub records: Option<String>,
}

/// What the runs of a log are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Records {
    /// Backup runs: restore points and run records.
    Backup,
    /// Integrity checks: the newest is the integrity result.
    IntegrityCheck,
    /// Restore tests: the newest is the restore-test result.
    RestoreTest,
}

/// Validated log settings.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// The source's name.
    pub name: String,
    path: PathBuf,
    rules: LogRules,
    exit_code_file: Option<PathBuf>,
    off_host: Option<bool>,
    records: Records,
}

/// How lines are read.
#[derive(Debug, Clone)]
pub struct LogRules {
    start: Option<Regex>,
    success: Option<Regex>,
    warning: Option<Regex>,
    failure: Option<Regex>,
    exit_code: Option<Regex>,
    timestamp: Option<Regex>,
    format: Option<String>,
    zone: Zone,
    codes: BTreeMap<i32, RunResult>,
}

/// Patterns, timestamp form and exit-code table of a known tool.
struct Preset {
    start: &'static str,
    success: &'static str,
    warning: &'static str,
    failure: &'static str,
    exit_code: Option<&'static str>,
    timestamp: &'static str,
    format: &'static str,
    codes: &'static [(i32, RunResult)],
}

const RSNAPSHOT: Preset = Preset {
    start: r": started$",
    success: r": completed successfully$",
    warning: r": completed, but with some warnings$",
    failure: r"(: completed, but with some errors$|ERROR:)",
    exit_code: None,
    timestamp: r"^\[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2})\]",
    format: "%d/%b/%Y:%H:%M:%S",
    codes: &[(0, RunResult::Success), (1, RunResult::Failed), (2, RunResult::Warning)],
};

const RSYNC: Preset = Preset {
    start: r"\] (building file list|receiving file list|sending incremental file list)",
    success: r"\] (sent \d+ bytes\s+received \d+ bytes|total size is \d+)",
    warning: r"some files vanished before they could be transferred",
    failure: r"rsync error: ",
    exit_code: Some(r"rsync error: .*\(code (\d+)\)"),
    timestamp: r"^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2})",
    format: "%Y/%m/%d %H:%M:%S",
    codes: &[(0, RunResult::Success), (23, RunResult::Warning), (24, RunResult::Warning)],
};

impl LogConfig {
    /// Validates, pushing errors under `key`.
    pub fn validate(self, key: &str, errors: &mut Vec<ParamError>) -> LogSettings {
        validate_name(&self.name, key, errors);
        let preset = match self.preset.as_deref() {
            None => None,
            Some("rsnapshot") => Some(&RSNAPSHOT),
            Some("rsync") => Some(&RSYNC),
            Some(other) => {
                errors.push(ParamError::new(
                    format!("{key}.preset"),
                    format!("unknown preset {other}"),
                ));
                None
            }
        };
        let mut pattern = |field: &str, own: Option<String>, default: Option<&str>| {
            let source = own.or(default.map(String::from))?;
            super::compile(&format!("{key}.{field}"), &source, errors)
        };
        let rules = LogRules {
            start: pattern("start", self.start, preset.map(|p| p.start)),
            success: pattern("success", self.success, preset.map(|p| p.success)),
            warning: pattern("warning", self.warning, preset.map(|p| p.warning)),
            failure: pattern("failure", self.failure, preset.map(|p| p.failure)),
            exit_code: pattern(
                "exit_code_pattern",
                self.exit_code_pattern,
                preset.and_then(|p| p.exit_code),
            ),
            timestamp: pattern("timestamp", self.timestamp, preset.map(|p| p.timestamp)),
            format: self.timestamp_format.or(preset.map(|p| p.format.to_string())),
            zone: zone_param(self.time_zone.as_deref(), key, errors),
            codes: code_table(preset, self.exit_codes, key, errors),
        };
        if rules.success.is_none() {
            errors.push(ParamError::new(
                format!("{key}.success"),
                "needs a success pattern or a preset",
            ));
        }
        LogSettings {
            name: self.name,
            path: absolute(&self.path, format!("{key}.path"), errors),
            rules,
            exit_code_file: self
                .exit_code_file
                .map(|f| absolute(&f, format!("{key}.exit_code_file"), errors)),
            off_host: self.off_host,
            records: records_param(self.records.as_deref(), key, errors),
        }
    }
}

fn records_param(raw: Option<&str>, key: &str, errors: &mut Vec<ParamError>) -> Records {
    match raw {
        None | Some("backup") => Records::Backup,
        Some("integrity_check") => Records::IntegrityCheck,
        Some("restore_test") => Records::RestoreTest,
        Some(_) => {
            errors.push(ParamError::new(
                format!("{key}.records"),
                "must be backup, integrity_check or restore_test",
            ));
            Records::Backup
        }
    }
}

fn code_table(
    preset: Option<&Preset>,
    own: BTreeMap<String, String>,
    key: &str,
    errors: &mut Vec<ParamError>,
) -> BTreeMap<i32, RunResult> {
    let mut table: BTreeMap<i32, RunResult> = preset.map_or_else(
        || BTreeMap::from([(0, RunResult::Success)]),
        |p| p.codes.iter().copied().collect(),
    );
    for (code, result) in own {
        let parsed_result = match result.as_str() {
            "success" => Some(RunResult::Success),
            "warning" => Some(RunResult::Warning),
            "partial" => Some(RunResult::Partial),
            "failed" => Some(RunResult::Failed),
            _ => None,
        };
        match (code.parse::<i32>(), parsed_result) {
            (Ok(code), Some(result)) => {
                table.insert(code, result);
            }
            _ => errors.push(ParamError::new(
                format!("{key}.exit_codes.{code}"),
                "needs an integer code and one of success, warning, partial, failed",
            )),
        }
    }
    table
}

/// Collects the log.
///
/// FIXME(journal-check-results): a timer whose check or restore test logs only to the
/// journal is not read; running `journalctl -u UNIT -o short-iso --since …` by argv (bounded
/// like the other programs) and feeding its lines to the same patterns would cover it.
///
/// # Errors
///
/// When the log cannot be read.
pub async fn collect(settings: &LogSettings, run: &Run<'_>) -> Result<Report, ExecError> {
    let text = read_tail(&settings.path)?;
    let exit_code = settings
        .exit_code_file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|t| parse_exit_code(&t));
    let mut report = Report {
        source: "log",
        name: settings.name.clone(),
        location: settings.path.to_string_lossy().into_owned(),
        off_host: settings.off_host,
        ..Report::default()
    };
    apply(&mut report, &text, exit_code, &settings.rules);
    as_records(&mut report, settings.records, run.now);
    Ok(report)
}

/// Turns the runs of a check or restore-test log into the source's integrity or restore
/// result (the newest dated run); a backup log is left as it is. A run whose result the log
/// does not tell is no verdict (`passed` null).
pub fn as_records(report: &mut Report, records: Records, now: DateTime<Utc>) {
    if records == Records::Backup {
        return;
    }
    report.detail.insert("records".into(), json!(records_name(records)));
    let runs = std::mem::take(&mut report.runs);
    report.points.clear();
    let Some(newest) = runs.into_iter().filter(|r| r.at.is_some()).max_by_key(|r| r.at) else {
        return;
    };
    let at = newest.at.expect("filtered on a date");
    let passed = match newest.result {
        RunResult::Success => Some(true),
        RunResult::Unknown => None,
        _ => Some(false),
    };
    if records == Records::IntegrityCheck {
        report.integrity = Some(Integrity { passed, at, errors: newest.details });
        return;
    }
    report.restore_test = Some(json!({
        "performed": passed.is_some(), "at": rfc3339(at), "age_hours": hours_between(at, now),
        "passed": passed, "basis": "log", "result": newest.result.as_str(),
        "error": newest.details.first(),
    }));
}

fn records_name(records: Records) -> &'static str {
    match records {
        Records::Backup => "backup",
        Records::IntegrityCheck => "integrity_check",
        Records::RestoreTest => "restore_test",
    }
}

/// Maps an exit code through the table; unknown codes are failures.
pub fn code_result(rules: &LogRules, code: i32) -> RunResult {
    rules.codes.get(&code).copied().unwrap_or(RunResult::Failed)
}

#[derive(Debug)]
struct LogRun {
    result: Option<RunResult>,
    at: Option<Stamp>,
    details: Vec<String>,
    code: Option<i32>,
}

/// Fills `report` from the log text and the wrapper's exit code for the newest run.
pub fn apply(report: &mut Report, text: &str, exit_code: Option<i32>, rules: &LogRules) {
    let mut runs = split(text, rules);
    if let (Some(code), Some(last)) = (exit_code, runs.last_mut()) {
        let mapped = code_result(rules, code);
        last.result = Some(last.result.map_or(mapped, |seen| seen.max(mapped)));
        last.code = Some(code);
    }
    let count = runs.len();
    for (index, run) in runs.into_iter().enumerate() {
        let result = run.result.unwrap_or(if index + 1 == count {
            RunResult::Unknown
        } else {
            RunResult::Failed
        });
        if let (RunResult::Success | RunResult::Warning, Some(at)) = (result, &run.at) {
            report.points.push(Point {
                id: format!("run-{}", at.raw),
                at: at.clone(),
                bytes: None,
                files: None,
                good: result == RunResult::Success,
                job: None,
            });
        }
        report.runs.push(RunRecord {
            at: run.at.map(|s| s.utc),
            result,
            exit_code: run.code,
            snapshot_id: None,
            details: run.details,
        });
    }
    report.detail.insert("exit_code_recorded".into(), json!(exit_code));
}

fn split(text: &str, rules: &LogRules) -> Vec<LogRun> {
    let mut runs: Vec<LogRun> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        let starts = rules.start.as_ref().is_some_and(|r| r.is_match(line));
        if starts || !open {
            if starts || runs.last().is_none_or(|r| r.result.is_some()) {
                runs.push(LogRun { result: None, at: None, details: Vec::new(), code: None });
            }
            open = true;
        }
        let run = runs.last_mut().expect("a run was pushed above");
        if let Some(stamp) = timestamp(line, rules) {
            run.at = Some(stamp);
        }
        if let Some(result) = line_result(line, rules, &mut run.code) {
            run.result = Some(run.result.map_or(result, |seen| seen.max(result)));
            if result != RunResult::Success && run.details.len() < MAX_DETAILS {
                run.details.push(line.chars().take(300).collect());
            }
            open = rules.start.is_some();
        }
    }
    runs
}

/// What one line says about its run, if anything; the worst wins.
fn line_result(line: &str, rules: &LogRules, code: &mut Option<i32>) -> Option<RunResult> {
    let matches = |r: &Option<Regex>| r.as_ref().is_some_and(|r| r.is_match(line));
    let mut found: Option<RunResult> = None;
    let mut note = |result: RunResult| found = Some(found.map_or(result, |seen| seen.max(result)));
    if let Some(number) = rules
        .exit_code
        .as_ref()
        .and_then(|r| r.captures(line))
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse::<i32>().ok())
    {
        *code = Some(number);
        note(code_result(rules, number));
    } else if matches(&rules.failure) {
        note(RunResult::Failed);
    }
    if matches(&rules.warning) {
        note(RunResult::Warning);
    }
    if matches(&rules.success) {
        note(RunResult::Success);
    }
    found
}

fn timestamp(line: &str, rules: &LogRules) -> Option<Stamp> {
    let raw = rules.timestamp.as_ref()?.captures(line)?.get(1)?.as_str();
    match &rules.format {
        Some(format) => parse_with_format(raw, format, rules.zone),
        None => parse_iso(raw, rules.zone),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::report::Policy;

    fn rules(params: serde_json::Value) -> LogRules {
        let config: LogConfig = serde_json::from_value(params).expect("params");
        let mut errors = Vec::new();
        let settings = config.validate("sources[0]", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        settings.rules
    }

    fn facts(text: &str, code: Option<i32>, rules: &LogRules) -> serde_json::Value {
        let mut report = Report { source: "log", ..Report::default() };
        apply(&mut report, text, code, rules);
        let now = parse_iso("2026-08-20T12:00:00Z", Zone::Utc).expect("now").utc;
        report.into_facts(now, Policy { stale_after_hours: 26.0, window_days: 7 }).0
    }

    const RSNAPSHOT_OK: &str = "[19/Aug/2026:03:30:01] /usr/bin/rsnapshot daily: started\n\
        [19/Aug/2026:03:30:09] /usr/bin/rsnapshot daily: completed successfully\n";

    #[test]
    fn bk08_rsnapshot_warning_is_not_worse_than_error() {
        let rules = rules(json!({ "name": "snap", "path": "/var/log/rsnapshot.log",
            "preset": "rsnapshot", "time_zone": "UTC" }));
        let warn = format!(
            "{RSNAPSHOT_OK}[20/Aug/2026:03:30:01] /usr/bin/rsnapshot daily: started\n\
            [20/Aug/2026:03:30:12] /usr/bin/rsnapshot daily: completed, but with some warnings\n"
        );
        let facts_warn = facts(&warn, Some(2), &rules);
        assert_eq!(facts_warn["result"], "warning", "{facts_warn}");
        assert_eq!(facts_warn["last_run"]["exit_code"], 2);
        assert_eq!(facts_warn["last_success_utc"], "2026-08-19T03:30:09.000Z");
        let error = warn.replace("warnings", "errors");
        assert_eq!(facts(&error, Some(1), &rules)["result"], "failed");
        // The exit code alone decides when the log line is missing; unknown codes fail.
        assert_eq!(facts(RSNAPSHOT_OK, Some(2), &rules)["result"], "warning");
        assert_eq!(facts(RSNAPSHOT_OK, Some(7), &rules)["result"], "failed");
        assert_eq!(facts(RSNAPSHOT_OK, Some(0), &rules)["result"], "success");
    }

    #[test]
    fn bk08_rsync_codes_23_and_24_are_warnings() {
        let rules = rules(json!({ "name": "rs", "path": "/var/log/rsync.log", "preset": "rsync",
            "time_zone": "UTC" }));
        let run = |tail: &str| format!("2026/08/20 03:00:00 [811] building file list\n{tail}\n");
        let partial = run(concat!(
            "2026/08/20 03:00:05 [811] rsync error: some files/attrs were not transferred ",
            "(see previous errors) (code 23) at main.c(1338) [sender=3.2.7]"
        ));
        assert_eq!(facts(&partial, None, &rules)["result"], "warning");
        let vanished = partial.replace("code 23", "code 24");
        assert_eq!(facts(&vanished, Some(24), &rules)["result"], "warning");
        let broken = partial.replace("code 23", "code 12");
        assert_eq!(facts(&broken, None, &rules)["result"], "failed");
        let ok = run("2026/08/20 03:00:05 [811] sent 1234 bytes  received 56 bytes  total size 99");
        let facts_ok = facts(&ok, Some(0), &rules);
        assert_eq!(facts_ok["result"], "success");
        assert_eq!(facts_ok["last_success_utc"], "2026-08-20T03:00:05.000Z");
        assert_eq!(facts(&ok, Some(23), &rules)["result"], "warning");
    }

    #[test]
    fn configured_patterns_and_bad_params() {
        let rules = rules(json!({ "name": "x", "path": "/l", "success": "BACKUP OK",
            "failure": "BACKUP FAILED", "timestamp": "^(\\S+)", "time_zone": "UTC" }));
        let text = "2026-08-20T01:00:00Z BACKUP OK\n2026-08-20T04:00:00+02:00 BACKUP FAILED disk\n";
        let facts = facts(text, None, &rules);
        assert_eq!(facts["result"], "failed");
        assert_eq!(facts["runs"]["recorded"], 2);
        let config: LogConfig = serde_json::from_value(json!({ "name": "x", "path": "rel",
            "preset": "nope", "exit_codes": { "x": "success", "1": "meh" } }))
        .expect("parse");
        let mut errors = Vec::new();
        config.validate("s", &mut errors);
        let keys: Vec<_> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["s.preset", "s.exit_codes.1", "s.exit_codes.x", "s.success", "s.path"]);
    }

    #[test]
    fn a_timer_check_log_and_a_restore_test_log_become_their_results() {
        // What a systemd timer wrapping `restic check` might log (its own lines, restic's own
        // words in between).
        let log = "2026-08-18T03:00:00Z check started\n\
            2026-08-18T03:04:10Z no errors were found\n\
            2026-08-19T03:00:00Z check started\n\
            2026-08-19T03:05:02Z error: pack 4f2a1c: not referenced in any index\n\
            2026-08-19T03:05:02Z Fatal: repository contains errors\n";
        let params = json!({ "name": "chk", "path": "/var/log/restic-check.log",
            "start": "check started$", "success": "no errors were found$",
            "failure": "(Fatal|error):", "timestamp": "^(\\S+)", "time_zone": "UTC",
            "records": "integrity_check" });
        let now = parse_iso("2026-08-20T12:00:00Z", Zone::Utc).expect("now").utc;
        let mut report = Report { source: "log", ..Report::default() };
        apply(&mut report, log, None, &rules(params.clone()));
        as_records(&mut report, Records::IntegrityCheck, now);
        let policy = Policy { stale_after_hours: 26.0, window_days: 7 };
        let facts = report.into_facts(now, policy).0;
        assert_eq!(facts["integrity"]["passed"], false, "{facts}");
        assert_eq!(facts["integrity"]["checked_at"], "2026-08-19T03:05:02.000Z");
        assert_eq!(facts["integrity"]["age_hours"], 32.92);
        assert!(facts["integrity"]["errors"][0].as_str().expect("line").contains("pack 4f2a1c"));
        assert_eq!(
            (facts["snapshot_count"].clone(), facts["runs"]["recorded"].clone()),
            (json!(0), json!(0))
        );
        assert_eq!(facts["detail"]["records"], "integrity_check");

        let restored = "2026-08-19T04:00:00Z restore test started\n\
            2026-08-19T04:00:09Z restore test OK sha256 matches\n";
        let mut params = params;
        params["start"] = json!("restore test started$");
        params["success"] = json!("restore test OK");
        let mut report = Report { source: "log", ..Report::default() };
        apply(&mut report, restored, None, &rules(params));
        as_records(&mut report, Records::RestoreTest, now);
        let facts = report.into_facts(now, policy).0;
        assert_eq!(facts["restore_test"]["passed"], true, "{facts}");
        assert_eq!(facts["restore_test"]["at"], "2026-08-19T04:00:09.000Z");
        assert_eq!(facts["restore_test"]["age_hours"], 32.0);
        let mut errors = Vec::new();
        records_param(Some("checks"), "s", &mut errors);
        assert_eq!(errors[0].key, "s.records");
    }
}
