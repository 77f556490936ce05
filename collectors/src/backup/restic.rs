//! The restic source: snapshots, sizes, `check`, run records and the restore test.
//!
//! Owns the restic command lines and the reading of their output, old and new: restic 0.14
//! writes snapshots without `summary`, with the time offset of the moment each snapshot was
//! taken, and reports unreadable files in `backup --json` as `{"Op","Path","Err"}` where 0.17
//! writes `{"message": …}`. The repository and the password *file* reach restic through
//! `RESTIC_REPOSITORY` and `RESTIC_PASSWORD_FILE`; backend credentials (S3, B2, …), which
//! restic reads only from variables, are read from configured files or systemd credentials
//! at run time and scrubbed from anything restic printed. Nothing secret is on argv or in
//! facts. The common facts are derived in `report`; the process handling is `exec`'s.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::exec::{ExecError, Ran};
use super::report::{detail_lines, Integrity, Point, Report, RunRecord, RunResult};
use super::restore::{self, RestorePlan};
use super::runs::{self, Captured};
use super::times::{parse_iso, Stamp, Zone};
use super::{redact_location, RepoSettings, Run};
use crate::FailureKind;

/// Collects one restic repository.
///
/// # Errors
///
/// A per-source failure when the repository cannot be listed (missing, locked, wrong
/// password, restic missing or too slow).
pub async fn collect(repo: &RepoSettings, run: &Run<'_>) -> Result<Report, ExecError> {
    let env = environment(repo)?;
    match collect_with(repo, run, &env.vars).await {
        Ok(mut report) => {
            report.scrub(&env.secrets);
            Ok(report)
        }
        Err(mut e) => {
            e.message = super::report::scrub_text(&e.message, &env.secrets);
            Err(e)
        }
    }
}

/// What restic runs with: its variables, and the secret values among them.
struct Environment {
    vars: Vec<(String, String)>,
    secrets: Vec<String>,
}

async fn collect_with(
    repo: &RepoSettings,
    run: &Run<'_>,
    env: &[(String, String)],
) -> Result<Report, ExecError> {
    let mut report = Report {
        source: "restic",
        name: repo.name.clone(),
        location: redact_location(&repo.repository),
        encryption: Some("aes-256-ctr+poly1305".to_string()),
        encrypted: Some(true),
        off_host: Some(repo.off_host.unwrap_or_else(|| is_remote(&repo.repository))),
        floor: repo.floor,
        ..Report::default()
    };
    let version = run.tool(&mut report, argv(repo, &["version"]), env).await?;
    report.tool_version = version.code.filter(|c| *c == 0).map(|_| version_text(&version.stdout));
    let listed = run.tool(&mut report, argv(repo, &["snapshots", "--json"]), env).await?;
    report.primary_command = report.commands.len().checked_sub(1);
    if listed.code != Some(0) {
        return Err(classify_failure(&listed, &report.location));
    }
    super::ensure_complete(&listed, "restic snapshots")?;
    report.points = parse_snapshots(&listed.stdout)
        .map_err(|e| ExecError { kind: FailureKind::Parse, message: e })?;
    if repo.stats {
        add_sizes(&mut report, repo, run, env).await;
    }
    if let Some(dir) = &repo.runs_dir {
        add_runs(&mut report, dir)?;
    }
    if let Some(dir) = &repo.check_runs_dir {
        report.integrity = runs::latest_check(dir, integrity)
            .map_err(|message| ExecError { kind: FailureKind::NotFound, message })?;
    }
    if repo.check {
        let checked = run.tool(&mut report, check_argv(repo), env).await;
        report.integrity = Some(match checked {
            Ok(ran) => integrity(&ran, run.now),
            Err(e) => Integrity { passed: None, at: run.now, errors: vec![e.message] },
        });
    }
    if let Some(plan) = &repo.restore {
        report.restore_test = Some(restore_test(&mut report, repo, plan, run, env).await);
    }
    Ok(report)
}

/// The environment: repository and password file, cache settings, and the backend
/// credentials (S3, B2, …), whose values restic only takes from variables; they are read from
/// their files at run time, and returned second so that they can be scrubbed from what restic
/// printed before anything becomes evidence.
fn environment(repo: &RepoSettings) -> Result<Environment, ExecError> {
    let password = repo.secret.resolve()?;
    let mut env = vec![
        ("RESTIC_REPOSITORY".to_string(), repo.repository.clone()),
        ("RESTIC_PASSWORD_FILE".to_string(), password.to_string_lossy().into_owned()),
    ];
    if let Some(cache) = &repo.cache_dir {
        env.push(("RESTIC_CACHE_DIR".to_string(), cache.to_string_lossy().into_owned()));
    }
    let mut secrets = Vec::new();
    for (var, secret) in &repo.backend_env {
        let value = secret.read_value().map_err(|mut e| {
            e.message = format!("{var}: {}", e.message);
            e
        })?;
        env.push((var.clone(), value.clone()));
        secrets.push(value);
    }
    Ok(Environment { vars: env, secrets })
}

fn argv(repo: &RepoSettings, args: &[&str]) -> Vec<String> {
    let mut argv = vec![repo.program.clone()];
    if repo.cache_dir.is_none() {
        argv.push("--no-cache".to_string());
    }
    argv.extend(args.iter().map(|arg| arg.to_string()));
    argv
}

fn check_argv(repo: &RepoSettings) -> Vec<String> {
    let mut argv = argv(repo, &["check"]);
    argv.extend(repo.check_args.iter().cloned());
    argv
}

/// `restic 0.14.0 compiled with go1.19.8 on linux/amd64` → `restic 0.14.0`.
fn version_text(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout);
    text.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// Repository locations restic reaches over the network.
fn is_remote(repository: &str) -> bool {
    ["sftp:", "rest:", "s3:", "b2:", "azure:", "gs:", "swift:", "rclone:"]
        .iter()
        .any(|scheme| repository.starts_with(scheme))
}

/// A clear message for a listing that failed: missing, locked, wrong password, other.
fn classify_failure(ran: &Ran, location: &str) -> ExecError {
    let stderr = ran.stderr_text();
    let lower = stderr.to_ascii_lowercase();
    let code = ran.code.map_or("a signal".to_string(), |c| format!("exit {c}"));
    let (kind, what) = if lower.contains("wrong password") {
        (FailureKind::Permission, "wrong password or no key found".to_string())
    } else if lower.contains("already locked") || lower.contains("unable to create lock") {
        (FailureKind::Other, format!("repository is locked: {}", first_line(&stderr, "locked")))
    } else if lower.contains("unable to open config file") || lower.contains("does not exist") {
        (FailureKind::NotFound, "repository not found (no config file)".to_string())
    } else if lower.contains("permission denied") {
        (FailureKind::Permission, first_line(&stderr, "denied"))
    } else {
        (FailureKind::Other, first_line(&stderr, "fatal"))
    };
    ExecError { kind, message: format!("restic repository {location}: {what} ({code})") }
}

/// The first stderr line containing `word` (case-insensitive), else the first line.
fn first_line(text: &str, word: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let found = lines.iter().find(|l| l.to_ascii_lowercase().contains(word)).or(lines.first());
    found.map_or("no error output".to_string(), |l| {
        l.chars().take(300).collect::<String>().to_lowercase()
    })
}

#[derive(Debug, Deserialize)]
struct Snapshot {
    time: String,
    id: String,
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    paths: Vec<String>,
    summary: Option<Summary>,
}

/// The `summary` restic ≥ 0.17 stores in each snapshot.
#[derive(Debug, Deserialize)]
struct Summary {
    total_bytes_processed: Option<u64>,
    total_files_processed: Option<u64>,
}

/// Parses `restic snapshots --json`; sizes only when the snapshot carries a summary.
///
/// # Errors
///
/// A message when the output is not a snapshot list or a time cannot be read.
pub fn parse_snapshots(stdout: &[u8]) -> Result<Vec<Point>, String> {
    let snapshots: Vec<Snapshot> = serde_json::from_slice(stdout)
        .map_err(|e| format!("restic snapshots output is not a snapshot list: {e}"))?;
    snapshots.into_iter().map(snapshot_point).collect()
}

fn snapshot_point(snapshot: Snapshot) -> Result<Point, String> {
    let at: Stamp = parse_iso(&snapshot.time, Zone::Utc)
        .ok_or_else(|| format!("snapshot {}: unreadable time {:?}", snapshot.id, snapshot.time))?;
    let summary = snapshot.summary.as_ref();
    Ok(Point {
        bytes: summary.and_then(|s| s.total_bytes_processed),
        files: summary.and_then(|s| s.total_files_processed),
        good: true,
        job: Some(format!("{}:{}", snapshot.hostname, snapshot.paths.join(","))),
        at,
        id: snapshot.id,
    })
}

/// Sizes of the newest two snapshots from `restic stats --json <id>` where snapshots lack
/// a summary (restic < 0.17). Failures leave the sizes unknown and are recorded as findings.
async fn add_sizes(
    report: &mut Report,
    repo: &RepoSettings,
    run: &Run<'_>,
    env: &[(String, String)],
) {
    report.points.sort_by_key(|p| p.at.utc);
    for index in newest_and_previous(&report.points) {
        if report.points[index].bytes.is_some() {
            continue;
        }
        let id = report.points[index].id.clone();
        let result = run.tool(report, argv(repo, &["stats", "--json", &id]), env).await;
        match result.ok().filter(|ran| ran.code == Some(0)).and_then(|ran| parse_stats(&ran.stdout))
        {
            Some((bytes, files)) => {
                report.points[index].bytes = Some(bytes);
                report.points[index].files = Some(files);
            }
            None => report.findings.push(json!({ "kind": "stats_unavailable", "id": id })),
        }
    }
}

/// Indexes of the newest point and the previous point of the same job (host and paths),
/// the two the size trend compares; `points` sorted oldest first.
fn newest_and_previous(points: &[Point]) -> Vec<usize> {
    let Some(newest) = points.len().checked_sub(1) else {
        return Vec::new();
    };
    let job = &points[newest].job;
    let previous = points[..newest].iter().rposition(|p| &p.job == job);
    previous.into_iter().chain([newest]).collect()
}

/// `{"total_size":6,"total_file_count":2,…}` → (bytes, files).
pub fn parse_stats(stdout: &[u8]) -> Option<(u64, u64)> {
    let value: Value = serde_json::from_slice(stdout).ok()?;
    Some((value["total_size"].as_u64()?, value["total_file_count"].as_u64()?))
}

fn add_runs(report: &mut Report, dir: &std::path::Path) -> Result<(), ExecError> {
    let captured = runs::read_runs(dir)
        .map_err(|message| ExecError { kind: FailureKind::NotFound, message })?;
    let records: Vec<RunRecord> = captured.iter().map(classify_run).collect();
    for run in &captured {
        if let Some((id, files, bytes)) = summary_sizes(&run.stdout) {
            super::report::fill_sizes(&mut report.points, &id, files, bytes);
        }
    }
    report.findings.extend(runs::claim_findings(&captured, &records));
    report.runs = records;
    Ok(())
}

/// The snapshot id, file count and bytes of a `restic backup --json` summary line.
fn summary_sizes(stdout: &str) -> Option<(String, Option<u64>, Option<u64>)> {
    let line = stdout.lines().rev().find(|l| l.contains("\"summary\""))?;
    let value: Value = serde_json::from_str(line.trim()).ok()?;
    let id = value["snapshot_id"].as_str()?.to_string();
    Some((id, value["total_files_processed"].as_u64(), value["total_bytes_processed"].as_u64()))
}

/// Classifies one captured `restic backup --json` run. The exit code alone never makes a
/// success: that needs exit 0, a `summary` with a `snapshot_id`, and no error lines.
pub fn classify_run(run: &Captured) -> RunRecord {
    let snapshot_id = summary_snapshot(&run.stdout);
    let mut details = unreadable_items(&run.stderr);
    let fatal = detail_lines(&run.stderr, |l| l.starts_with("Fatal:") || l.starts_with("error:"));
    details.extend(fatal.iter().cloned());
    let result = match (run.exit_code, &snapshot_id) {
        (Some(0), Some(_)) if details.is_empty() => RunResult::Success,
        (Some(0) | Some(3), Some(_)) => RunResult::Partial,
        _ => RunResult::Failed,
    };
    if result == RunResult::Failed && snapshot_id.is_none() && fatal.is_empty() {
        details.push(format!("no snapshot written (exit {:?})", run.exit_code));
    }
    details.truncate(super::report::MAX_DETAILS);
    RunRecord { at: run.at, result, exit_code: run.exit_code, snapshot_id, details }
}

/// The snapshot a run wrote: the `--json` summary's `snapshot_id`, or for a wrapper that ran
/// restic without `--json`, its `snapshot 0333ea97 saved` line.
fn summary_snapshot(stdout: &str) -> Option<String> {
    let from_json = stdout.lines().rev().find_map(|line| {
        let value: Value = serde_json::from_str(line.trim()).ok()?;
        (value["message_type"] == "summary")
            .then(|| value["snapshot_id"].as_str().map(String::from))?
    });
    from_json.or_else(|| {
        stdout.lines().rev().find_map(|line| {
            let id = line.trim().strip_prefix("snapshot ")?.strip_suffix(" saved")?;
            id.chars().all(|c| c.is_ascii_hexdigit()).then(|| id.to_string())
        })
    })
}

/// Items restic could not read: 0.14 `{"error":{"Op","Path","Err"},"item"}`, 0.17
/// `{"error":{"message"},"item"}`.
fn unreadable_items(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
        .filter(|value| value["message_type"] == "error")
        .map(|value| {
            let item = value["item"].as_str().or(value["error"]["Path"].as_str()).unwrap_or("?");
            let why = value["error"]["message"]
                .as_str()
                .map(String::from)
                .or_else(|| value["error"]["Err"].as_i64().map(|errno| format!("errno {errno}")))
                .unwrap_or_else(|| "error".to_string());
            format!("unreadable: {item} ({why})")
        })
        .take(super::report::MAX_DETAILS)
        .collect()
}

/// `restic check`: passed only on exit 0 with "no errors were found".
fn integrity(ran: &Ran, now: DateTime<Utc>) -> Integrity {
    let stdout = String::from_utf8_lossy(&ran.stdout);
    let text = format!("{stdout}\n{}", ran.stderr_text());
    let errors = detail_lines(&text, |line| {
        let lower = line.to_ascii_lowercase();
        ["error", "fatal", "invalid", "already locked", "unable to create lock"]
            .iter()
            .any(|word| lower.contains(word))
    });
    let errors = errors.into_iter().filter(|l| !l.contains("no errors were found")).collect();
    let locked = text.contains("already locked") || text.contains("unable to create lock");
    let passed = if locked && ran.code != Some(0) {
        None
    } else {
        Some(ran.code == Some(0) && stdout.contains("no errors were found"))
    };
    Integrity { passed, at: now, errors }
}

async fn restore_test(
    report: &mut Report,
    repo: &RepoSettings,
    plan: &RestorePlan,
    run: &Run<'_>,
    env: &[(String, String)],
) -> Value {
    let newest = report.points.iter().max_by_key(|p| p.at.utc).map(|p| p.id.clone());
    let (newest, scratch) = match restore::start(plan, newest, run.now, "snapshot") {
        Ok(started) => started,
        Err(not_run) => return not_run,
    };
    let stored = match stored_path(report, repo, plan, run, env, &newest).await {
        Ok(stored) => stored,
        Err(message) => return restore::not_run(plan, run.now, message),
    };
    let target = scratch.path().to_string_lossy().into_owned();
    let args = ["restore", newest.as_str(), "--target", &target, "--include", &stored];
    let restored = restore::restored_location(scratch.path(), std::path::Path::new(&stored));
    match run.tool(report, argv(repo, &args), env).await {
        Ok(ran) if ran.code == Some(0) => restore::compare_file(plan, &restored, &newest, run.now),
        Ok(ran) => restore::not_run(plan, run.now, format!("restic restore exit {:?}", ran.code)),
        Err(e) => restore::not_run(plan, run.now, e.message),
    }
}

/// Where the sample is stored inside the snapshot. A snapshot taken from an absolute path
/// stores it under that path; one taken from a relative path (`restic backup data`) stores the
/// tree from the relative root (`/data/…`) although `paths` lists the absolute directory. So
/// the sample is looked up by name with `restic find`, and the match that the configured path
/// ends with (component-wise) is the one restored.
async fn stored_path(
    report: &mut Report,
    repo: &RepoSettings,
    plan: &RestorePlan,
    run: &Run<'_>,
    env: &[(String, String)],
    snapshot: &str,
) -> Result<String, String> {
    let name = restore::sample_name(plan)?;
    let args = ["find", "--json", "--snapshot", snapshot, name.as_str()];
    let ran = run.tool(report, argv(repo, &args), env).await.map_err(|e| e.message)?;
    if ran.code != Some(0) {
        return Err(format!("restic find exit {:?}", ran.code));
    }
    let found = parse_find(&ran.stdout)?;
    restore::stored_sample(plan, &found, &format!("snapshot {snapshot}"))
}

/// Paths of `restic find --json` matches.
fn parse_find(stdout: &[u8]) -> Result<Vec<String>, String> {
    #[derive(Deserialize)]
    struct Found {
        #[serde(default)]
        matches: Vec<Match>,
    }
    #[derive(Deserialize)]
    struct Match {
        path: String,
    }
    let found: Vec<Found> = serde_json::from_slice(stdout)
        .map_err(|e| format!("restic find output is not a match list: {e}"))?;
    Ok(found.into_iter().flat_map(|f| f.matches).map(|m| m.path).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_found_in_absolute_and_relative_trees() {
        let original = std::path::Path::new("/tmp/bk/data/a.txt");
        let stored = ["/data/a.txt".to_owned(), "/other/a.txt".to_owned()];
        assert_eq!(restore::best_match(original, &stored).as_deref(), Some("/data/a.txt"));
        let absolute = ["/tmp/bk/data/a.txt".to_owned(), "/data/a.txt".to_owned()];
        let best = restore::best_match(original, &absolute);
        assert_eq!(best.as_deref(), Some("/tmp/bk/data/a.txt"));
        assert_eq!(restore::best_match(original, &["/a.txt.bak".to_owned()]), None);
        let listing = br#"[{"matches":[{"path":"/data/a.txt","type":"file"}],"hits":1}]"#;
        assert_eq!(parse_find(listing), Ok(vec!["/data/a.txt".to_owned()]));
    }

    fn captured(code: Option<i32>, stdout: &str, stderr: &str) -> Captured {
        Captured {
            dir: "/tmp/x".into(),
            at: None,
            exit_code: code,
            stdout: stdout.into(),
            stderr: stderr.into(),
            claim: None,
        }
    }

    const BK06_STDERR: &str = include_str!("fixtures/restic/bk06-stderr.txt");

    const SUMMARY: &str = r#"{"message_type":"status","percent_done":1}
{"message_type":"summary","files_new":1,"total_files_processed":1,"snapshot_id":"0333ea97"}"#;

    #[test]
    fn bk01_exit_3_with_snapshot_is_partial_in_both_error_shapes() {
        let old = include_str!("fixtures/restic/bk01-stderr-0.14.jsonl");
        let new = include_str!("fixtures/restic/bk01-stderr-0.17.jsonl");
        for stderr in [old, new] {
            let record = classify_run(&captured(Some(3), SUMMARY, stderr));
            assert_eq!(record.result, RunResult::Partial);
            assert_eq!(record.snapshot_id.as_deref(), Some("0333ea97"));
            assert!(
                record.details[0].starts_with("unreadable: /w/src/secret"),
                "{:?}",
                record.details
            );
        }
        // Exit 0 while errors were printed is still partial; exit 3 without a snapshot failed.
        assert_eq!(classify_run(&captured(Some(0), SUMMARY, new)).result, RunResult::Partial);
        // A wrapper without --json: the text output names the snapshot, stderr the errors.
        let text = "Files: 1 new\nsnapshot 0333ea97 saved\n";
        let stderr = "error: open /w/src/secret: permission denied\n\
            Warning: at least one source file could not be read\n";
        let record = classify_run(&captured(Some(3), text, stderr));
        assert_eq!(
            (record.result, record.snapshot_id.as_deref()),
            (RunResult::Partial, Some("0333ea97"))
        );
        assert_eq!(classify_run(&captured(Some(0), text, "")).result, RunResult::Success);
        assert_eq!(classify_run(&captured(Some(3), "", old)).result, RunResult::Failed);
    }

    #[test]
    fn unknown_and_missing_exit_codes_are_failures() {
        for code in [Some(1), Some(2), Some(10), Some(11), Some(12), Some(130), None] {
            let record = classify_run(&captured(code, SUMMARY, ""));
            assert_eq!(record.result, RunResult::Failed, "{code:?}");
        }
        assert_eq!(classify_run(&captured(Some(0), SUMMARY, "")).result, RunResult::Success);
        let no_summary = classify_run(&captured(Some(0), "", ""));
        assert_eq!(no_summary.result, RunResult::Failed);
        assert_eq!(no_summary.details, ["no snapshot written (exit Some(0))"]);
    }

    #[test]
    fn bk02_old_snapshots_mixed_offsets_and_no_summary() {
        let listing = include_bytes!("fixtures/restic/bk02-snapshots-0.14.json");
        let points = parse_snapshots(listing).expect("parse");
        let mut report = Report { source: "restic", points, ..Report::default() };
        report.points.iter_mut().for_each(|p| assert_eq!(p.bytes, None));
        let now = parse_iso("2026-08-20T12:00:00Z", Zone::Utc).expect("now").utc;
        let policy = super::super::report::Policy { stale_after_hours: 26.0, window_days: 1 };
        report.detail.insert("x".into(), json!(1));
        let (facts, _) = report.into_facts(now, policy);
        assert_eq!(facts["last_success"]["id"], "1111aaaa");
        assert_eq!(facts["last_success_utc"], "2026-08-20T01:30:00.512Z");
        assert_eq!(facts["newest_success_age_hours"], 10.5);
        assert_eq!(facts["fresh"], true);
        assert_eq!(facts["oldest_utc"], "2026-08-20T00:10:00.123Z");
        assert_eq!(facts["size"]["latest_bytes"], Value::Null);
        assert_eq!(facts["size"]["latest_files"], Value::Null);
    }

    #[test]
    fn size_trend_compares_with_the_previous_snapshot_of_the_same_paths() {
        let listing = br#"[
          {"time":"2026-08-18T01:00:00Z","id":"a","hostname":"h","paths":["/srv"]},
          {"time":"2026-08-19T01:00:00Z","id":"b","hostname":"h","paths":["/srv"]},
          {"time":"2026-08-19T03:00:00Z","id":"c","hostname":"h","paths":["/etc"]},
          {"time":"2026-08-20T01:00:00Z","id":"d","hostname":"h","paths":["/srv"]}]"#;
        let points = parse_snapshots(listing).expect("parse");
        assert_eq!(newest_and_previous(&points), [1, 3]);
        assert_eq!(newest_and_previous(&points[..1]), [0]);
        assert!(newest_and_previous(&[]).is_empty());
    }

    #[test]
    fn newer_snapshots_carry_their_size() {
        let listing = br#"[{"time":"2026-08-20T01:30:00Z","id":"a","hostname":"h","paths":["/"],
          "summary":{"total_bytes_processed":1234,"total_files_processed":7}}]"#;
        let points = parse_snapshots(listing).expect("parse");
        assert_eq!((points[0].bytes, points[0].files), (Some(1234), Some(7)));
        assert!(parse_snapshots(b"Fatal: nope").is_err());
        assert!(parse_snapshots(br#"[{"time":"soon","id":"a"}]"#)
            .expect_err("time")
            .contains("soon"));
    }

    #[test]
    fn bk06_success_ping_does_not_make_a_failed_run_fresh() {
        let listing = br#"[{"time":"2026-08-18T02:00:03Z","id":"aaaa1111",
            "hostname":"web1","paths":["/srv"]}]"#;
        let now = parse_iso("2026-08-20T12:00:00Z", Zone::Utc).expect("now").utc;
        let mut run = captured(Some(1), "", BK06_STDERR);
        run.at = Some(now - chrono::Duration::minutes(9 * 60 + 55));
        run.claim = Some("healthcheck success ping web1-files 2026-08-20T02:05:00Z".into());
        let records = vec![classify_run(&run)];
        let mut report = Report { source: "restic", ..Report::default() };
        report.points = parse_snapshots(listing).expect("parse");
        report.findings = runs::claim_findings(&[run], &records);
        report.runs = records;
        let policy = super::super::report::Policy { stale_after_hours: 26.0, window_days: 7 };
        let (facts, _) = report.into_facts(now, policy);
        assert_eq!(facts["result"], "failed");
        assert_eq!(facts["last_success_utc"], "2026-08-18T02:00:03.000Z");
        assert_eq!(facts["newest_success_age_hours"], 58.0);
        assert_eq!(facts["fresh"], false);
        assert_eq!(facts["findings"][0]["kind"], "unverified_claim");
        assert_eq!(facts["findings"][0]["run_result"], "failed");
    }

    #[test]
    fn bk06_failed_run_and_location_redaction() {
        let record = classify_run(&captured(Some(1), "", BK06_STDERR));
        assert_eq!(record.result, RunResult::Failed);
        assert_eq!(record.details, [BK06_STDERR.trim()]);
        assert!(is_remote("sftp:backup@host:/srv/restic"));
        assert!(!is_remote("/mnt/offsite/repo"));
    }
}
