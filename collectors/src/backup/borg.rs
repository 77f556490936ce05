//! The BorgBackup source: archives, their stats, `check`, run records and the restore test.
//!
//! Owns the borg command lines and the reading of borg 1.x and 2 output. borg 1.x prints
//! `start`, `time` and `last_modified` as local time without an offset; the collector runs
//! borg with `TZ=UTC` and reads zone-less times in the configured zone (default UTC), while
//! times that carry an offset (borg 2) are honoured as is. The passphrase file reaches borg
//! through `BORG_PASSCOMMAND=cat -- '<file>'`, which borg splits with shell rules and runs
//! without a shell; the passphrase is never on argv, in the environment or in facts.
//! Each archive's stats are compared with the previous archive of the same job (its name
//! without the trailing date or counter), so an almost empty archive after a full one is a
//! finding, and an archive with no files is not a success.

use serde::Deserialize;
use serde_json::{json, Value};

use super::exec::{ExecError, Invocation, Ran};
use super::report::{detail_lines, Integrity, Point, Report, RunRecord, RunResult};
use super::restore::{self, RestorePlan};
use super::runs::{self, Captured};
use super::times::{parse_iso, Zone};
use super::{redact_location, RepoSettings, Run, Secret};
use crate::FailureKind;

/// How many of the newest archives get their stats from `borg info`.
const STATS_LAST: usize = 10;

/// Collects one borg repository.
///
/// # Errors
///
/// A per-source failure when the repository cannot be listed.
pub async fn collect(repo: &RepoSettings, run: &Run<'_>) -> Result<Report, ExecError> {
    let env = environment(repo)?;
    let mut report = Report {
        source: "borg",
        name: repo.name.clone(),
        location: redact_location(&repo.repository),
        off_host: Some(repo.off_host.unwrap_or_else(|| is_remote(&repo.repository))),
        floor: repo.floor,
        ..Report::default()
    };
    let version =
        run.tool(&mut report, vec![repo.program.clone(), "--version".into()], &env).await?;
    report.tool_version = (version.code == Some(0))
        .then(|| String::from_utf8_lossy(&version.stdout).trim().to_string());
    let listed = run.tool(&mut report, argv(repo, &["list", "--json"], None), &env).await?;
    report.primary_command = report.commands.len().checked_sub(1);
    if listed.code != Some(0) {
        return Err(classify_failure(&listed, &report.location));
    }
    super::ensure_complete(&listed, "borg list")?;
    let listing = parse_list(&listed.stdout, repo.zone)
        .map_err(|message| ExecError { kind: FailureKind::Parse, message })?;
    report.encrypted = listing.encryption.as_deref().map(mode_encrypts);
    report.encryption = listing.encryption;
    report.points = listing.points;
    report.detail.insert("time_zone_used".into(), json!(repo.zone.name()));
    if repo.stats && !report.points.is_empty() {
        add_stats(&mut report, repo, run, &env).await;
    }
    if let Some(dir) = &repo.runs_dir {
        add_runs(&mut report, dir)?;
    }
    if let Some(dir) = &repo.check_runs_dir {
        report.integrity = runs::latest_check(dir, integrity)
            .map_err(|message| ExecError { kind: FailureKind::NotFound, message })?;
    }
    if repo.check {
        let checked = run.tool(&mut report, check_argv(repo), &env).await;
        report.integrity = Some(match checked {
            Ok(ran) => integrity(&ran, run.now),
            Err(e) => Integrity { passed: None, at: run.now, errors: vec![e.message] },
        });
    }
    if let Some(plan) = &repo.restore {
        report.restore_test = Some(restore_test(&mut report, repo, plan, run, &env).await);
    }
    Ok(report)
}

fn environment(repo: &RepoSettings) -> Result<Vec<(String, String)>, ExecError> {
    let mut env = vec![
        ("BORG_RELOCATED_REPO_ACCESS_IS_OK".to_string(), "no".to_string()),
        ("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK".to_string(), "no".to_string()),
    ];
    if repo.secret != Secret::None {
        let file = repo.secret.resolve()?;
        env.push(("BORG_PASSCOMMAND".to_string(), passcommand(&file.to_string_lossy())));
    }
    if let Some(base) = &repo.cache_dir {
        env.push(("BORG_BASE_DIR".to_string(), base.to_string_lossy().into_owned()));
    }
    Ok(env)
}

/// `cat -- '<file>'`, quoted for borg's `shlex.split` (no shell runs it).
pub fn passcommand(file: &str) -> String {
    format!("cat -- '{}'", file.replace('\'', r"'\''"))
}

/// `borg <args> [--lock-wait 1] <repository>[::archive]`.
fn argv(repo: &RepoSettings, args: &[&str], archive: Option<&str>) -> Vec<String> {
    let mut argv = vec![repo.program.clone()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let target = match archive {
        Some(name) => format!("{}::{name}", repo.repository),
        None => repo.repository.clone(),
    };
    argv.push(target);
    argv
}

fn check_argv(repo: &RepoSettings) -> Vec<String> {
    let mut args: Vec<&str> = vec!["check"];
    args.extend(repo.check_args.iter().map(String::as_str));
    argv(repo, &args, None)
}

/// `ssh://…` and scp-style `user@host:path` repositories are on another host.
fn is_remote(repository: &str) -> bool {
    if repository.starts_with("ssh://") {
        return true;
    }
    let before_slash = repository.split('/').next().unwrap_or("");
    !repository.starts_with('/') && before_slash.contains(':')
}

fn classify_failure(ran: &Ran, location: &str) -> ExecError {
    let stderr = ran.stderr_text();
    let lower = stderr.to_ascii_lowercase();
    let code = ran.code.map_or("a signal".to_string(), |c| format!("exit {c}"));
    let (kind, what) = if lower.contains("passphrase") && lower.contains("incorrect") {
        (FailureKind::Permission, "wrong passphrase".to_string())
    } else if lower.contains("failed to create/acquire the lock")
        || lower.contains("lock") && lower.contains("timeout")
    {
        (FailureKind::Other, "repository is locked".to_string())
    } else if lower.contains("does not exist") || lower.contains("is not a valid repository") {
        (FailureKind::NotFound, "repository not found".to_string())
    } else {
        let line = detail_lines(&stderr, |_| true).into_iter().next().unwrap_or_default();
        (FailureKind::Other, line.to_lowercase())
    };
    ExecError { kind, message: format!("borg repository {location}: {what} ({code})") }
}

#[derive(Debug, Deserialize)]
struct Listing {
    archives: Vec<Archive>,
    encryption: Option<Encryption>,
}

#[derive(Debug, Deserialize)]
struct Encryption {
    mode: String,
}

#[derive(Debug, Deserialize)]
struct Archive {
    name: String,
    start: Option<String>,
    time: Option<String>,
    stats: Option<Stats>,
}

#[derive(Debug, Deserialize)]
struct Stats {
    nfiles: Option<u64>,
    original_size: Option<u64>,
}

/// What `borg list --json` says: archives as points, encryption mode.
#[derive(Debug)]
pub struct ListFacts {
    /// One point per archive.
    pub points: Vec<Point>,
    /// `repokey-blake2`, `none`, …
    pub encryption: Option<String>,
}

/// Parses `borg list --json` (or `info --json`); zone-less times are read in `zone`.
///
/// # Errors
///
/// A message when the output is not a listing or a time cannot be read.
pub fn parse_list(stdout: &[u8], zone: Zone) -> Result<ListFacts, String> {
    let listing: Listing = serde_json::from_slice(stdout)
        .map_err(|e| format!("borg list output is not an archive listing: {e}"))?;
    let points = listing
        .archives
        .into_iter()
        .map(|archive| archive_point(archive, zone))
        .collect::<Result<_, _>>()?;
    Ok(ListFacts { points, encryption: listing.encryption.map(|e| e.mode) })
}

fn archive_point(archive: Archive, zone: Zone) -> Result<Point, String> {
    let raw = archive.start.as_deref().or(archive.time.as_deref()).unwrap_or("");
    let at = parse_iso(raw, zone).ok_or_else(|| {
        format!("archive {}: unreadable time {raw:?} in zone {}", archive.name, zone.name())
    })?;
    let stats = archive.stats.as_ref();
    let files = stats.and_then(|s| s.nfiles);
    Ok(Point {
        job: Some(job_of(&archive.name)),
        bytes: stats.and_then(|s| s.original_size),
        files,
        good: files != Some(0),
        at,
        id: archive.name,
    })
}

/// Whether a borg encryption mode encrypts: `none` and the `authenticated` modes do not.
pub fn mode_encrypts(mode: &str) -> bool {
    mode != "none" && !mode.starts_with("authenticated")
}

/// The job an archive belongs to: its name without a trailing date, time or counter
/// (`web1-2026-08-20T02:00` and `web1-7` are both job `web1`).
pub fn job_of(name: &str) -> String {
    let stamp_char = |c: char| c.is_ascii_digit() || "-_.:T+Z".contains(c);
    let cut = name.char_indices().find(|&(i, c)| {
        let rest = &name[i + c.len_utf8()..];
        i > 0
            && "-_.".contains(c)
            && rest.starts_with(|d: char| d.is_ascii_digit())
            && rest.chars().all(stamp_char)
    });
    cut.map_or_else(|| name.to_string(), |(i, _)| name[..i].to_string())
}

/// Stats of the newest archives from `borg info --json --last N`.
async fn add_stats(
    report: &mut Report,
    repo: &RepoSettings,
    run: &Run<'_>,
    env: &[(String, String)],
) {
    let last = STATS_LAST.to_string();
    let args = ["info", "--json", "--last", last.as_str()];
    let info = run.tool(report, argv(repo, &args, None), env).await;
    let parsed =
        info.ok().filter(|r| r.code == Some(0)).and_then(|r| parse_list(&r.stdout, repo.zone).ok());
    let Some(info) = parsed else {
        report.findings.push(json!({ "kind": "stats_unavailable" }));
        return;
    };
    for with_stats in info.points {
        if let Some(point) = report.points.iter_mut().find(|p| p.id == with_stats.id) {
            point.bytes = with_stats.bytes;
            point.files = with_stats.files;
            point.good = with_stats.good;
        }
    }
}

fn add_runs(report: &mut Report, dir: &std::path::Path) -> Result<(), ExecError> {
    let captured = runs::read_runs(dir)
        .map_err(|message| ExecError { kind: FailureKind::NotFound, message })?;
    let records: Vec<RunRecord> = captured.iter().map(classify_run).collect();
    for run in &captured {
        if let Some((name, files, bytes)) = created_sizes(&run.stdout) {
            super::report::fill_sizes(&mut report.points, &name, files, bytes);
        }
    }
    report.findings.extend(runs::claim_findings(&captured, &records));
    report.runs = records;
    Ok(())
}

/// The archive name, file count and original size in `borg create --json` output.
fn created_sizes(stdout: &str) -> Option<(String, Option<u64>, Option<u64>)> {
    let created: Value = serde_json::from_str(stdout.trim()).ok()?;
    let archive = &created["archive"];
    let name = archive["name"].as_str()?.to_string();
    Some((name, archive["stats"]["nfiles"].as_u64(), archive["stats"]["original_size"].as_u64()))
}

/// Classifies one captured `borg create --json` run: 0 success (with an archive written),
/// 1 and 100–127 warning, anything else (2, 3–99, signals, unknown) failed.
pub fn classify_run(run: &Captured) -> RunRecord {
    let created: Option<Value> = serde_json::from_str(run.stdout.trim()).ok();
    let archive =
        created.as_ref().and_then(|v| v["archive"]["name"].as_str()).map(String::from).or_else(
            || stats_archive_name(&run.stdout).or_else(|| stats_archive_name(&run.stderr)),
        );
    let mut details = detail_lines(&run.stderr, |line| !line.starts_with("Creating archive"));
    let result = match run.exit_code {
        Some(0) if archive.is_some() => RunResult::Success,
        Some(0) => {
            details.push("exit 0 but no archive named (--json or --stats output)".to_string());
            RunResult::Failed
        }
        Some(1) | Some(100..=127) => RunResult::Warning,
        _ => RunResult::Failed,
    };
    details.truncate(super::report::MAX_DETAILS);
    RunRecord { at: run.at, result, exit_code: run.exit_code, snapshot_id: archive, details }
}

/// The archive a wrapper's `borg create --stats` (without `--json`) names: `Archive name: X`.
fn stats_archive_name(text: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.trim().strip_prefix("Archive name:"))
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
}

/// `borg check`: passes on exit 0 (borg 1.2 prints nothing then); a lock held by another
/// borg process means the check did not run.
fn integrity(ran: &Ran, now: chrono::DateTime<chrono::Utc>) -> Integrity {
    let text = format!("{}\n{}", String::from_utf8_lossy(&ran.stdout), ran.stderr_text());
    let locked = text.contains("Failed to create/acquire the lock");
    let passed = (!locked || ran.code == Some(0)).then_some(ran.code == Some(0));
    Integrity { passed, at: now, errors: detail_lines(&text, |_| true) }
}

async fn restore_test(
    report: &mut Report,
    repo: &RepoSettings,
    plan: &RestorePlan,
    run: &Run<'_>,
    env: &[(String, String)],
) -> Value {
    let newest = report.points.iter().max_by_key(|p| p.at.utc).map(|p| p.id.clone());
    let (newest, scratch) = match restore::start(plan, newest, run.now, "archive") {
        Ok(started) => started,
        Err(not_run) => return not_run,
    };
    let stored = match stored_path(report, repo, plan, run, env, &newest).await {
        Ok(stored) => stored,
        Err(message) => return restore::not_run(plan, run.now, message),
    };
    let extract = argv(repo, &["extract"], Some(&newest)).into_iter().chain([stored.clone()]);
    let mut call = Invocation::new(extract.collect(), env);
    call.cwd = Some(scratch.path().to_path_buf());
    match run.tool_in(report, call).await {
        Ok(ran) if ran.code == Some(0) => {
            let restored = scratch.path().join(&stored);
            restore::compare_file(plan, &restored, &newest, run.now)
        }
        Ok(ran) => restore::not_run(plan, run.now, format!("borg extract exit {:?}", ran.code)),
        Err(e) => restore::not_run(plan, run.now, e.message),
    }
}

/// Where the sample is stored in the archive. borg stores the paths it was given without the
/// leading `/`, so an archive made from a relative path (`borg create repo::x data` in `/srv`)
/// holds `data/…` rather than `srv/data/…`. The sample is therefore looked up by file name
/// (`borg list --json-lines ARCHIVE re:(^|/)NAME$`) and the match that the configured path
/// ends with is extracted.
async fn stored_path(
    report: &mut Report,
    repo: &RepoSettings,
    plan: &RestorePlan,
    run: &Run<'_>,
    env: &[(String, String)],
    archive: &str,
) -> Result<String, String> {
    let pattern = format!("re:(^|/){}$", regex::escape(&restore::sample_name(plan)?));
    let mut list = argv(repo, &["list", "--json-lines"], Some(archive));
    list.push(pattern);
    let ran = run.tool(report, list, env).await.map_err(|e| e.message)?;
    if ran.code != Some(0) {
        return Err(format!("borg list of archive {archive} exit {:?}", ran.code));
    }
    let stored: Vec<String> = String::from_utf8_lossy(&ran.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|item| item["type"] == "-")
        .filter_map(|item| item["path"].as_str().map(String::from))
        .collect();
    restore::stored_sample(plan, &stored, &format!("archive {archive}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::report::Policy;
    use crate::backup::times::rfc3339;

    const BK04: &str = include_str!("fixtures/borg/bk04-list-berlin.json");

    #[test]
    fn bk04_zone_less_times_are_read_in_the_zone_for_that_date() {
        let berlin = Zone::parse("Europe/Berlin").expect("zone");
        let listing = parse_list(BK04.as_bytes(), berlin).expect("parse");
        let point = &listing.points[0];
        assert_eq!(rfc3339(point.at.utc), "2026-08-20T00:00:05.000Z");
        assert_eq!(point.at.raw, "2026-08-20T02:00:05.000000");
        assert_eq!(point.at.zone_used, "Europe/Berlin");
        assert_eq!(listing.encryption.as_deref(), Some("repokey-blake2"));
        let winter = BK04.replace("2026-08-20T02:00:05", "2026-01-20T02:00:05");
        let listing = parse_list(winter.as_bytes(), berlin).expect("parse");
        assert_eq!(rfc3339(listing.points[0].at.utc), "2026-01-20T01:00:05.000Z");
        // Output of borg run with TZ=UTC, and borg 2 output carrying an offset.
        let utc = parse_list(BK04.as_bytes(), Zone::Utc).expect("parse");
        assert_eq!(rfc3339(utc.points[0].at.utc), "2026-08-20T02:00:05.000Z");
        let borg2 = BK04.replace(
            "\"start\":\"2026-08-20T02:00:05.000000\"",
            "\"start\":\"2026-08-20T02:00:05.000000+02:00\"",
        );
        let offset = parse_list(borg2.as_bytes(), Zone::Utc).expect("parse");
        assert_eq!(rfc3339(offset.points[0].at.utc), "2026-08-20T00:00:05.000Z");
        assert_eq!(offset.points[0].at.zone_used, "offset");
    }

    #[test]
    fn bk03_exit_codes_are_mapped_not_ordered() {
        let captured = |code, stdout: &str| Captured {
            dir: "/x".into(),
            at: None,
            exit_code: code,
            stdout: stdout.into(),
            stderr: "/var/tmp/bk03/missing: [Errno 2] No such file or directory: 'missing'".into(),
            claim: None,
        };
        let created = r#"{"archive":{"name":"web1-2","stats":{"nfiles":0}}}"#;
        let warning = classify_run(&captured(Some(1), created));
        assert_eq!(warning.result, RunResult::Warning);
        assert_eq!(warning.snapshot_id.as_deref(), Some("web1-2"));
        assert!(warning.details[0].contains("No such file"));
        assert_eq!(classify_run(&captured(Some(107), created)).result, RunResult::Warning);
        for code in [Some(2), Some(3), Some(99), Some(128), Some(-1), None] {
            assert_eq!(
                classify_run(&captured(code, created)).result,
                RunResult::Failed,
                "{code:?}"
            );
        }
        assert_eq!(classify_run(&captured(Some(0), created)).result, RunResult::Success);
        assert_eq!(classify_run(&captured(Some(0), "")).result, RunResult::Failed);
        // A wrapper without --json but with --stats: the archive is named in the text.
        let stats = "---\nArchive name: web1-3\nArchive fingerprint: 4f1e\nNumber of files: 0\n";
        let text = classify_run(&captured(Some(1), stats));
        assert_eq!(
            (text.result, text.snapshot_id.as_deref()),
            (RunResult::Warning, Some("web1-3"))
        );
    }

    #[test]
    fn bk03_empty_archive_after_a_full_one_is_a_finding_not_a_success() {
        let info = include_str!("fixtures/borg/bk03-info-last.json");
        let points = parse_list(info.as_bytes(), Zone::Utc).expect("parse").points;
        assert_eq!(points[0].job.as_deref(), Some("web1"));
        let report = Report { source: "borg", points, ..Report::default() };
        let now = parse_iso("2026-08-20T12:00:00Z", Zone::Utc).expect("now").utc;
        let (facts, _) = report.into_facts(now, Policy { stale_after_hours: 26.0, window_days: 2 });
        assert_eq!(facts["findings_count"], 1, "{facts}");
        assert_eq!(facts["findings"][0]["id"], "web1-2");
        assert_eq!(facts["findings"][0]["previous_files"], 50);
        assert_eq!(facts["last_success"]["id"], "db-1");
        assert_eq!(job_of("web1-2026-08-20T02:00:05"), "web1");
        assert_eq!(job_of("2026"), "2026");
        assert_eq!(job_of("web1-1"), "web1");
        assert_eq!(job_of("db-2-host-7"), "db-2-host");
    }

    #[test]
    fn remote_detection_and_passcommand_quoting() {
        assert!(is_remote("ssh://u@h:22/./repo"));
        assert!(is_remote("u@h:repo"));
        assert!(!is_remote("/srv/borg/repo"));
        assert_eq!(passcommand("/run/cred/it's"), r"cat -- '/run/cred/it'\''s'");
        let modes =
            ["repokey-blake2", "keyfile", "repokey-aes-ocb", "authenticated-blake2", "none"];
        let encrypts: Vec<bool> = modes.iter().map(|m| mode_encrypts(m)).collect();
        assert_eq!(encrypts, [true, true, true, false, false]);
    }
}
