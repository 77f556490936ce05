//! The pgBackRest source: one stanza from `pgbackrest info --output=json`.
//!
//! Owns reading the stanza's status code (0 ok; 2 "no valid backups" and every other code
//! except 6 "backup/expire running" mean failed, whatever the exit status), its backups
//! (label, type, stop time as epoch seconds, size, the `error` flag newer releases set when a
//! backup found checksum errors), cipher and repositories. It runs pgBackRest by argv, or reads
//! the JSON a cron job saved (`info_file`) when the agent may not run it. `info` does not name
//! a repository's type or host, so whether a copy is off this host is derived from
//! pgBackRest's own configuration (`repoN-type` s3, gcs, azure, sftp or cifs, or `repoN-host`
//! for a posix repository on a repository host), for the repositories `info` lists; a
//! configured `off_host` overrides it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    /// Whether a repository of this stanza is on another host; overrides what the pgBackRest
    /// configuration says.
    pub off_host: Option<bool>,
    /// pgBackRest's configuration file, passed to it as `--config` and read for the
    /// repositories' types and hosts (with `conf.d/*.conf` beside it). Default
    /// `/etc/pgbackrest/pgbackrest.conf`, not passed.
    pub config_file: Option<String>,
}

/// pgBackRest's default configuration file.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/pgbackrest/pgbackrest.conf";

/// Validated pgBackRest settings.
#[derive(Debug, Clone)]
pub struct PgbackrestSettings {
    /// The source's name.
    pub name: String,
    stanza: String,
    program: String,
    info_file: Option<PathBuf>,
    off_host: Option<bool>,
    config_file: Option<PathBuf>,
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
            config_file: self
                .config_file
                .map(|f| absolute(&f, format!("{key}.config_file"), errors)),
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
            let mut argv = vec![settings.program.clone()];
            if let Some(config) = &settings.config_file {
                argv.push(format!("--config={}", config.display()));
            }
            argv.push(format!("--stanza={}", settings.stanza));
            argv.extend(["info".to_string(), "--output=json".to_string()]);
            run.tool(&mut report, argv, &[]).await?.stdout
        }
    };
    let config_path = settings.config_file.clone().unwrap_or_else(|| DEFAULT_CONFIG_FILE.into());
    let config = read_config(&config_path)?;
    apply_info(&mut report, &stdout, &settings.stanza)
        .map_err(|message| ExecError { kind: FailureKind::Parse, message })?;
    apply_locations(&mut report, config.as_deref(), &settings.stanza, settings.off_host);
    report.detail.insert("config_file".into(), json!(config_path));
    Ok(report)
}

/// The configuration text: the file and `conf.d/*.conf` beside it, in name order; `None`
/// when the file does not exist (then repository locations are unknown).
///
/// # Errors
///
/// When the file exists but cannot be read; the message names it.
fn read_config(path: &Path) -> Result<Option<String>, ExecError> {
    let mut text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ExecError {
                kind: FailureKind::Permission,
                message: format!("cannot read pgbackrest config {}: {e}", path.display()),
            })
        }
    };
    let include = path.with_file_name("conf.d").join("*.conf");
    let mut extra: Vec<PathBuf> = glob::glob(&include.to_string_lossy())
        .map_or_else(|_| Vec::new(), |g| g.flatten().collect());
    extra.sort();
    for file in extra {
        if let Ok(more) = std::fs::read_to_string(&file) {
            text.push('\n');
            text.push_str(&more);
        }
    }
    Ok(Some(text))
}

/// Where one repository of the stanza lives, as pgBackRest's configuration says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoLocation {
    /// The repository key (`repo2-…` is key 2).
    pub key: u32,
    /// `posix` (the default), `cifs`, `s3`, `gcs`, `azure` or `sftp`.
    pub kind: String,
    /// The repository host of a posix repository reached over SSH or TLS.
    pub host: Option<String>,
}

impl RepoLocation {
    /// The location as facts.
    pub fn facts(&self) -> Value {
        let off_host = self.is_off_host();
        json!({ "key": self.key, "type": self.kind, "host": self.host, "off_host": off_host })
    }

    /// Whether the repository is on another host than the database.
    pub fn is_off_host(&self) -> bool {
        self.kind != "posix" || self.host.is_some()
    }
}

/// The `repoN-type` and `repoN-host` settings for `stanza`: sections `global`,
/// `global:backup`, `<stanza>` and `<stanza>:backup`, later ones overriding earlier ones.
/// `repo-type` (before pgBackRest 2.33) is repository 1.
///
/// Own parser: pgBackRest's format is its own INI subset (no quoting, repeatable keys,
/// `section:command` names), which general INI crates read differently.
pub fn repo_locations(config: &str, stanza: &str) -> BTreeMap<u32, RepoLocation> {
    let ranks = [
        "global".to_string(),
        "global:backup".to_string(),
        stanza.to_string(),
        format!("{stanza}:backup"),
    ];
    let mut settings: BTreeMap<(u32, &str), (usize, String)> = BTreeMap::new();
    let mut rank = None;
    for line in config.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            rank = ranks.iter().position(|r| r == name.trim());
            continue;
        }
        let (Some(rank), Some((key, value))) = (rank, line.split_once('=')) else {
            continue;
        };
        let Some((repo, option)) = repo_option(key.trim()) else {
            continue;
        };
        let slot = settings.entry((repo, option)).or_insert((rank, String::new()));
        if rank >= slot.0 {
            *slot = (rank, value.trim().to_string());
        }
    }
    let mut repos: BTreeMap<u32, RepoLocation> = BTreeMap::new();
    for ((key, option), (_, value)) in settings {
        let repo = repos.entry(key).or_insert_with(|| RepoLocation {
            key,
            kind: "posix".to_string(),
            host: None,
        });
        match option {
            "type" => repo.kind = value.to_ascii_lowercase(),
            _ => repo.host = Some(value).filter(|h| !h.is_empty()),
        }
    }
    repos
}

/// `repo2-type` → (2, "type"); `repo-host` → (1, "host"); others `None`.
fn repo_option(key: &str) -> Option<(u32, &'static str)> {
    let rest = key.strip_prefix("repo")?;
    let (index, option) = rest.split_once('-')?;
    let option = match option {
        "type" => "type",
        "host" => "host",
        _ => return None,
    };
    let index = if index.is_empty() { 1 } else { index.parse().ok()? };
    Some((index, option))
}

/// The keys of the repositories `info` listed; `info` before pgBackRest 2.33 has no list, and
/// then there is one repository, key 1.
fn repository_keys(report: &Report) -> Vec<u32> {
    let listed = report.detail.get("repository_keys").and_then(Value::as_array);
    let keys: Vec<u32> = listed
        .into_iter()
        .flatten()
        .filter_map(|k| k.as_u64().and_then(|k| u32::try_from(k).ok()))
        .collect();
    if keys.is_empty() {
        vec![1]
    } else {
        keys
    }
}

/// Sets `off_host` from the override or from the locations of the repositories `info` listed,
/// and records them.
fn apply_locations(report: &mut Report, config: Option<&str>, stanza: &str, forced: Option<bool>) {
    let keys = repository_keys(report);
    let locations = config.map(|text| repo_locations(text, stanza));
    let listed: Option<Vec<RepoLocation>> = locations.map(|all| {
        keys.iter()
            .map(|key| {
                all.get(key).cloned().unwrap_or(RepoLocation {
                    key: *key,
                    kind: "posix".into(),
                    host: None,
                })
            })
            .collect()
    });
    let derived =
        listed.as_ref().filter(|l| !l.is_empty()).map(|l| l.iter().any(RepoLocation::is_off_host));
    let (off_host, basis) = match (forced, derived) {
        (Some(forced), _) => (Some(forced), "configured"),
        (None, Some(derived)) => (Some(derived), "pgbackrest_config"),
        (None, None) => (None, "unknown"),
    };
    report.off_host = off_host;
    report.detail.insert("off_host_basis".into(), json!(basis));
    let described: Option<Vec<Value>> = listed.map(|l| l.iter().map(RepoLocation::facts).collect());
    report.detail.insert("repository_locations".into(), json!(described));
    let repos = keys.len();
    report.independent_copy = match off_host {
        Some(true) => Some(true),
        _ if repos <= 1 => Some(false),
        _ => None,
    };
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
    let keys: Vec<Value> = found["repo"]
        .as_array()
        .map(|list| list.iter().map(|r| r["key"].clone()).collect())
        .unwrap_or_default();
    report.independent_copy = match report.off_host {
        Some(true) => Some(true),
        _ if repos <= 1 => Some(false),
        _ => None,
    };
    report.detail.insert("repository_keys".into(), Value::Array(keys));
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

    fn locations(info: &str, config: Option<&str>, forced: Option<bool>) -> Value {
        let mut report = Report { source: "pgbackrest", ..Report::default() };
        apply_info(&mut report, info.as_bytes(), "main").expect("apply");
        apply_locations(&mut report, config, "main", forced);
        let now = parse_iso("2026-08-20T12:00:00Z", Zone::Utc).expect("now").utc;
        report.into_facts(now, Policy { stale_after_hours: 26.0, window_days: 7 }).0
    }

    const TWO_REPOS: &str = include_str!("fixtures/pgbackrest/ok-two-repos.json");
    const POSIX_S3: &str = include_str!("fixtures/pgbackrest/pgbackrest-posix-s3.conf");
    const LOCAL: &str = include_str!("fixtures/pgbackrest/pgbackrest-local.conf");
    const BK09: &str = include_str!("fixtures/pgbackrest/bk09-no-valid-backups.json");

    #[test]
    fn bk09_off_host_is_derived_from_the_repositories_pgbackrest_uses() {
        let facts = locations(TWO_REPOS, Some(POSIX_S3), None);
        assert_eq!(facts["off_host"], true, "{facts}");
        assert_eq!(facts["independent_copy"], true);
        assert_eq!(facts["detail"]["off_host_basis"], "pgbackrest_config");
        let described = &facts["detail"]["repository_locations"];
        assert_eq!(described[0], json!({"key":1,"type":"posix","host":null,"off_host":false}));
        assert_eq!(described[1]["type"], "s3");
        // Only repo1 is listed by info: the configured S3 repository is not this stanza's copy.
        let facts = locations(BK09, Some(POSIX_S3), None);
        assert_eq!(
            (facts["off_host"].clone(), facts["independent_copy"].clone()),
            (json!(false), json!(false))
        );
        // Before 2.33: `repo-path` without index, info without a repository list.
        let repo_list = concat!(
            r#""repo":[{"key":1,"cipher":"aes-256-cbc","#,
            r#""status":{"code":2,"message":"no valid backups"}}],"#
        );
        let old = BK09.replace(repo_list, "");
        assert!(!old.contains("\"repo\""), "fixture changed");
        assert_eq!(locations(&old, Some(LOCAL), None)["off_host"], false);
        // A posix repository on a repository host is off this host.
        let host = format!("{LOCAL}\n[global]\nrepo1-host=backup-host.test\n");
        let facts = locations(&old, Some(&host), None);
        assert_eq!(facts["off_host"], true);
        assert_eq!(facts["detail"]["repository_locations"][0]["host"], "backup-host.test");
        // The override wins; without a config the answer is unknown, not false.
        let facts = locations(TWO_REPOS, Some(POSIX_S3), Some(false));
        assert_eq!(
            (facts["off_host"].clone(), facts["detail"]["off_host_basis"].clone()),
            (json!(false), json!("configured"))
        );
        let facts = locations(TWO_REPOS, None, None);
        assert_eq!(
            (facts["off_host"].clone(), facts["independent_copy"].clone()),
            (Value::Null, Value::Null)
        );
    }

    #[test]
    fn repository_options_by_section_precedence() {
        let config = "[global]\nrepo1-type=posix\nrepo3-type=gcs\n[other]\nrepo1-type=s3\n\
            [main:backup]\nrepo1-type=SFTP\nrepo1-host=\n[global:backup]\nrepo1-type=azure\n\
            # repo2-type=s3\nrepo-cipher-type=none\n";
        let repos = repo_locations(config, "main");
        assert_eq!(repos.len(), 2, "{repos:?}");
        assert_eq!(repos[&1].kind, "sftp");
        assert_eq!(repos[&1].host, None);
        assert_eq!(repos[&3].kind, "gcs");
        assert_eq!(repo_option("repo12-host"), Some((12, "host")));
        assert_eq!(repo_option("repo-type"), Some((1, "type")));
        assert_eq!(repo_option("repo1-path"), None);
        assert_eq!(repo_option("repox-type"), None);
    }
}
