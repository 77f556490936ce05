//! Collector-level tests of the `backup` collector against real restic and borg repositories
//! made in temporary directories, and a local replay server on 127.0.0.1 for the Hetzner API.
//!
//! They need the Debian packages `restic` and `borgbackup` (and `util-linux` for `setpriv`);
//! a test whose program is missing fails and names the package. Time moves by changing
//! `Context::now`, never by sleeping.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::{Limits, Observation};

const PASSWORD: &str = "test-only-password-7f3a";

fn require(program: &str, package: &str) {
    let found = exec::DEFAULT_PATH.split(':').any(|dir| Path::new(dir).join(program).is_file());
    assert!(found, "{program} is missing: install the Debian package {package}");
}

fn ctx_at(now: DateTime<Utc>) -> Context {
    Context {
        now,
        timeout: Duration::from_secs(120),
        cancel: CancellationToken::new(),
        limits: Limits::default(),
        previous: Default::default(),
    }
}

fn settings(params: Value) -> BackupSettings {
    let config: BackupConfig = serde_json::from_value(params).expect("test params deserialize");
    config.validate().expect("test params are valid")
}

/// Runs a setup program (argv, no shell) and returns what it did.
fn setup(argv: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(argv[0])
        .args(&argv[1..])
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"))
}

/// Runs a setup program; panics with its stderr when it fails.
fn setup_ok(argv: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let out = setup(argv, env);
    assert!(out.status.success(), "{argv:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A temp dir with a password file, a source tree and a restic repository.
struct ResticFixture {
    dir: tempfile::TempDir,
}

impl ResticFixture {
    fn new() -> ResticFixture {
        require("restic", "restic");
        let dir = tempfile::tempdir().expect("tempdir");
        let fixture = ResticFixture { dir };
        fs::write(fixture.path("pw"), PASSWORD).expect("password file");
        fs::create_dir(fixture.path("src")).expect("src");
        fs::write(fixture.path("src/sample.txt"), "sample data\n").expect("sample");
        fs::write(fixture.path("src/other.bin"), vec![7_u8; 4096]).expect("other");
        fixture.restic(&["init"]);
        fixture
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn text(&self, rel: &str) -> String {
        self.path(rel).to_string_lossy().into_owned()
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("RESTIC_REPOSITORY".into(), self.text("repo")),
            ("RESTIC_PASSWORD_FILE".into(), self.text("pw")),
            ("RESTIC_CACHE_DIR".into(), self.text("cache")),
        ]
    }

    fn restic(&self, args: &[&str]) -> std::process::Output {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut argv = vec!["restic"];
        argv.extend_from_slice(args);
        setup_ok(&argv, &env)
    }

    fn backup(&self) {
        self.restic(&["backup", "-q", &self.text("src")]);
    }

    fn source(&self, name: &str, extra: Value) -> Value {
        let mut source = json!({
            "kind": "restic", "name": name, "repository": self.text("repo"),
            "password_file": self.text("pw"),
        });
        merge(&mut source, extra);
        source
    }
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (into.as_object_mut(), extra) {
        target.extend(extra);
    }
}

async fn collect_one(source: Value, now: DateTime<Utc>) -> Collection {
    collect(&settings(json!({ "sources": [source] })), &ctx_at(now)).await
}

fn only(collection: &Collection) -> &Observation {
    assert!(collection.failures.is_empty(), "{:?}", collection.failures);
    assert_eq!(collection.observations.len(), 1);
    &collection.observations[0]
}

fn assert_no_secret(observation: &Observation) {
    let text = serde_json::to_string(observation).expect("serialize");
    assert!(!text.contains(PASSWORD), "the password leaked into evidence");
}

#[tokio::test]
async fn restic_fresh_then_stale_by_the_clock() {
    let repo = ResticFixture::new();
    repo.backup();
    let now = Utc::now();
    let fresh = collect_one(repo.source("files", json!({})), now).await;
    let observation = only(&fresh);
    let facts = &observation.facts;
    assert_eq!(observation.subject, "restic:files");
    assert_eq!(facts["snapshot_count"], 1);
    assert_eq!(facts["fresh"], true, "{facts}");
    assert!(facts["newest_success_age_hours"].as_f64().expect("age") < 0.1);
    assert_eq!(facts["size"]["latest_bytes"], 4096 + 12);
    // restic's restore-size stats count directories too: tmp, .tmpXXX, src and two files.
    assert_eq!(facts["size"]["latest_files"], 5);
    assert_eq!(facts["encrypted"], true);
    assert_eq!(facts["off_host"], false);
    assert_eq!(facts["result"], "unknown");
    assert_eq!(facts["result_basis"], "repository");
    assert!(observation.effective_at.is_some());
    assert_eq!(observation.custody.tool_version.as_deref(), Some("restic 0.14.0"));
    assert_no_secret(observation);

    let later = now + chrono::Duration::hours(30);
    let stale = collect_one(repo.source("files", json!({})), later).await;
    let facts = &only(&stale).facts;
    assert_eq!(facts["fresh"], false);
    let age = facts["newest_success_age_hours"].as_f64().expect("age");
    assert!((29.9..30.1).contains(&age), "{age}");
    assert_eq!(facts["window"]["every_day"], false);
}

#[tokio::test]
async fn restic_check_fails_on_a_damaged_pack_file() {
    let repo = ResticFixture::new();
    repo.backup();
    let source = repo.source("files", json!({ "check": true, "check_args": ["--read-data"] }));
    let intact = collect_one(source.clone(), Utc::now()).await;
    assert_eq!(only(&intact).facts["integrity"]["passed"], true);
    damage_largest_file(&repo.path("repo/data"));
    let damaged = collect_one(source, Utc::now()).await;
    let integrity = &only(&damaged).facts["integrity"];
    assert_eq!(integrity["checked"], true);
    assert_eq!(integrity["passed"], false, "{integrity}");
    assert!(!integrity["errors"].as_array().expect("errors").is_empty());
}

/// Overwrites bytes in the middle of the largest file below `dir`.
fn damage_largest_file(dir: &Path) {
    let mut files = Vec::new();
    collect_files(dir, &mut files);
    let largest = files
        .into_iter()
        .max_by_key(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("a file to damage");
    let mut bytes = fs::read(&largest).expect("read pack");
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle.saturating_sub(16)..middle + 16] {
        *byte ^= 0xff;
    }
    let mut perms = fs::metadata(&largest).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    fs::set_permissions(&largest, perms).expect("chmod");
    fs::write(&largest, bytes).expect("write damaged pack");
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test]
async fn restic_wrong_password_missing_and_locked_are_clear_per_source_errors() {
    let good = ResticFixture::new();
    good.backup();
    let wrong_pw = good.path("wrong-pw");
    fs::write(&wrong_pw, "not the password").expect("write");
    let locked = ResticFixture::new();
    fs::write(locked.path("src/noise.bin"), noise(16 << 20)).expect("noise");
    locked.backup();
    let _holder = hold_lock(&locked, &["check", "--read-data"], true);
    let params = json!({ "sources": [
        good.source("wrong", json!({ "password_file": wrong_pw })),
        good.source("missing", json!({ "repository": good.text("nope") })),
        locked.source("locked", json!({})),
        good.source("nopw", json!({ "password_file": good.text("absent-pw") })),
        good.source("good", json!({})),
    ]});
    let collection = collect(&settings(params), &ctx_at(Utc::now())).await;
    let failures: Vec<(String, FailureKind, String)> = collection
        .failures
        .iter()
        .map(|f| (f.subject.clone(), f.kind, f.message.clone()))
        .collect();
    assert_eq!(failures.len(), 4, "{failures:?}");
    assert_eq!(failures[0].0, "restic:wrong");
    assert_eq!(failures[0].1, FailureKind::Permission);
    assert!(
        failures[0].2.ends_with("wrong password or no key found (exit 1)"),
        "{}",
        failures[0].2
    );
    assert_eq!(failures[1].1, FailureKind::NotFound);
    assert!(failures[1].2.contains("repository not found"), "{}", failures[1].2);
    assert!(failures[2].2.contains("repository is locked"), "{}", failures[2].2);
    assert_eq!(failures[3].1, FailureKind::NotFound);
    assert!(failures[3].2.starts_with("secret file ") && failures[3].2.ends_with("does not exist"));
    assert!(!format!("{failures:?}").contains(PASSWORD));
    assert_eq!(only(&Collection { failures: vec![], ..collection.clone() }).subject, "restic:good");
}

/// Starts restic with `args` and waits until its lock file exists. With `stop`, the process
/// is then stopped (SIGSTOP) so it keeps the lock; the lock belongs to a live process, so
/// restic honours it. The returned guard ends the process.
fn hold_lock(repo: &ResticFixture, args: &[&str], stop: bool) -> LockHolder {
    // A short restic run can finish between seeing its lock and stopping it; try again then.
    for _ in 0..10 {
        if let Some(holder) = try_hold_lock(repo, args, stop) {
            return holder;
        }
    }
    panic!("restic {args:?} always finished before it could be stopped holding its lock");
}

fn try_hold_lock(repo: &ResticFixture, args: &[&str], stop: bool) -> Option<LockHolder> {
    let env = repo.env();
    let child = Command::new("restic")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn restic");
    let pid = child.id().to_string();
    let holder = LockHolder { child };
    let locks = repo.path("repo/locks");
    // The local backend writes `<id>-tmp-<n>` first and renames it; only the final name counts.
    let has_lock = || {
        let names =
            fs::read_dir(&locks).map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>());
        names.unwrap_or_default().iter().any(|n| !n.to_string_lossy().contains("-tmp-"))
    };
    for _ in 0..2000 {
        if has_lock() {
            if stop {
                setup_ok(&["kill", "-s", "STOP", &pid], &[]);
                let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let stopped =
                    stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('T'));
                if !(stopped && has_lock()) {
                    return None;
                }
            }
            return Some(holder);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("restic {args:?} took no lock in {}", locks.display());
}

/// Kills the stopped lock holder when dropped.
struct LockHolder {
    child: std::process::Child,
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bytes that neither deduplicate nor compress, so restic takes a while over them.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

#[tokio::test]
async fn restic_check_blocked_by_a_running_backup_is_not_a_verdict() {
    let repo = ResticFixture::new();
    repo.backup();
    // A backup reading stdin holds its (shared) lock until stdin closes.
    let _running = hold_lock(&repo, &["backup", "-q", "--stdin"], false);
    let collection = collect_one(repo.source("files", json!({ "check": true })), Utc::now()).await;
    let observation = only(&collection);
    let integrity = &observation.facts["integrity"];
    assert_eq!(integrity["passed"], Value::Null, "{integrity}");
    assert_eq!(integrity["checked"], false);
    assert!(integrity["errors"].to_string().contains("locked"), "{integrity}");
    let argv = observation.custody.argv.as_ref().expect("custody argv");
    assert_eq!(argv[1..], ["--no-cache", "snapshots", "--json"]);
}

#[tokio::test]
async fn restic_restore_test_passes_then_fails_on_a_changed_file() {
    let repo = ResticFixture::new();
    repo.backup();
    let scratch = repo.path("scratch");
    fs::create_dir(&scratch).expect("scratch");
    let restore =
        json!({ "restore": { "path": repo.text("src/sample.txt"), "scratch_dir": scratch } });
    let passed = collect_one(repo.source("files", restore.clone()), Utc::now()).await;
    let test = &only(&passed).facts["restore_test"];
    assert_eq!(test["passed"], true, "{test}");
    assert_eq!(test["compared_with"], "live_file");
    assert_eq!(fs::read_dir(&scratch).expect("scratch").count(), 0, "restored data left behind");

    fs::write(repo.path("src/sample.txt"), "changed since the backup\n").expect("change");
    let failed = collect_one(repo.source("files", restore), Utc::now()).await;
    let test = &only(&failed).facts["restore_test"];
    assert_eq!(test["passed"], false);
    assert_eq!(test["error"], "digest differs");
    assert_ne!(test["restored_sha256"], test["expected_sha256"]);

    let digest = restore::sha256_file(&repo.path("src/sample.txt")).expect("hash");
    let recorded = json!({ "restore": { "path": repo.text("src/sample.txt"), "sha256": digest } });
    let against_record = collect_one(repo.source("files", recorded), Utc::now()).await;
    assert_eq!(only(&against_record).facts["restore_test"]["passed"], false);
}

#[tokio::test]
async fn restic_restore_test_finds_the_sample_in_a_snapshot_of_a_relative_path() {
    let repo = ResticFixture::new();
    // `restic backup src` run inside the fixture stores the tree as /src/…, not /tmp/…/src/….
    let env = repo.env();
    let status = Command::new("restic")
        .args(["backup", "-q", "src"])
        .current_dir(repo.dir.path())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .status()
        .expect("run restic");
    assert!(status.success(), "restic backup of a relative path failed");
    let restore = json!({ "restore": { "path": repo.text("src/sample.txt") } });
    let collection = collect_one(repo.source("relative", restore), Utc::now()).await;
    let test = &only(&collection).facts["restore_test"];
    assert_eq!(test["passed"], true, "{test}");
}

#[tokio::test]
async fn bk01_real_partial_run_is_partial_and_not_the_last_success() {
    require("setpriv", "util-linux");
    let repo = ResticFixture::new();
    repo.backup();
    fs::write(repo.path("src/secret"), "secret\n").expect("secret");
    let w = repo.dir.path().to_string_lossy().into_owned();
    setup_ok(&["chmod", "755", &w], &[]);
    setup_ok(&["chmod", "000", &repo.text("src/secret")], &[]);
    setup_ok(&["chown", "-R", "nobody:nogroup", &w], &[]);
    let out = setup(
        &[
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "env",
            &format!("HOME={w}"),
            &format!("RESTIC_CACHE_DIR={w}/cache"),
            &format!("RESTIC_REPOSITORY={w}/repo"),
            &format!("RESTIC_PASSWORD_FILE={w}/pw"),
            "restic",
            "backup",
            "--json",
            &format!("{w}/src"),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let run = repo.path("runs/2026-12-01T020000Z");
    fs::create_dir_all(&run).expect("run dir");
    fs::write(run.join("stdout"), &out.stdout).expect("stdout");
    fs::write(run.join("stderr"), &out.stderr).expect("stderr");
    fs::write(run.join("exit_code"), "3\n").expect("exit code");
    fs::write(run.join("claim"), "backup completed successfully").expect("claim");
    let collection =
        collect_one(repo.source("files", json!({ "runs_dir": repo.text("runs") })), Utc::now())
            .await;
    let facts = &only(&collection).facts;
    assert_eq!(facts["result"], "partial", "{facts}");
    assert_eq!(facts["last_run"]["exit_code"], 3);
    let details = facts["last_run"]["details"].to_string();
    assert!(details.contains("unreadable: ") && details.contains("/src/secret"), "{details}");
    assert_eq!(facts["snapshot_count"], 2);
    assert_eq!(facts["success_count"], 1);
    let partial_id = facts["last_run"]["snapshot_id"].as_str().expect("snapshot id");
    let last_success = facts["last_success"]["id"].as_str().expect("success id");
    assert!(!last_success.starts_with(partial_id), "the partial snapshot became the last success");
    assert_eq!(facts["findings"][0]["kind"], "unverified_claim");
}

#[tokio::test]
async fn bk02_real_snapshots_with_mixed_offsets_pick_the_newest_instant() {
    let repo = ResticFixture::new();
    let env = repo.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.push(("TZ", "UTC"));
    setup_ok(&["restic", "backup", "-q", &repo.text("src")], &env);
    std::thread::sleep(Duration::from_millis(1100));
    env.pop();
    env.push(("TZ", "Pacific/Kiritimati")); // UTC+14: its wall clock is far ahead of UTC
    setup_ok(&["restic", "backup", "-q", &repo.text("src")], &env);
    env.pop();
    env.push(("TZ", "UTC"));
    setup_ok(&["restic", "backup", "-q", &repo.text("src/sample.txt")], &env);
    let facts = only(&collect_one(repo.source("files", json!({})), Utc::now()).await).facts.clone();
    assert_eq!(facts["snapshot_count"], 3);
    // The last snapshot (UTC, smaller wall-clock text) is the newest; text order would pick
    // the +14:00 one.
    let raw = facts["last_success"]["raw"].as_str().expect("raw");
    assert!(raw.ends_with('Z'), "{raw}");
    assert_eq!(facts["last_success"]["zone_used"], "offset");
}

/// A temp dir with a passphrase file and a borg repository.
struct BorgFixture {
    dir: tempfile::TempDir,
}

impl BorgFixture {
    fn new() -> BorgFixture {
        require("borg", "borgbackup");
        let fixture = BorgFixture { dir: tempfile::tempdir().expect("tempdir") };
        fs::write(fixture.path("pw"), PASSWORD).expect("passphrase");
        fs::create_dir(fixture.path("data")).expect("data");
        for i in 1..=50 {
            let bytes: Vec<u8> = (0..1000_u32).map(|b| ((b * 31 + i * 7) % 251) as u8).collect();
            fs::write(fixture.path(&format!("data/f{i}")), bytes).expect("data file");
        }
        fixture.borg(&["init", "-e", "repokey-blake2", &fixture.text("repo")], "UTC");
        fixture
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn text(&self, rel: &str) -> String {
        self.path(rel).to_string_lossy().into_owned()
    }

    fn borg_raw(&self, args: &[&str], tz: &str) -> std::process::Output {
        let passcommand = borg::passcommand(&self.text("pw"));
        let base = self.text("base");
        let env = [
            ("BORG_PASSCOMMAND", passcommand.as_str()),
            ("BORG_BASE_DIR", base.as_str()),
            ("TZ", tz),
        ];
        let mut argv = vec!["borg"];
        argv.extend_from_slice(args);
        setup(&argv, &env)
    }

    fn borg(&self, args: &[&str], tz: &str) -> std::process::Output {
        let out = self.borg_raw(args, tz);
        assert!(out.status.success(), "borg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    /// Runs `borg create --json` like a wrapper and keeps its run record.
    fn create_recorded(&self, archive: &str, source: &str, tz: &str) -> i32 {
        let target = format!("{}::{archive}", self.text("repo"));
        let out = self.borg_raw(&["create", "--json", &target, source], tz);
        let run = self.path(&format!("runs/{archive}"));
        keep_run(&run, &out)
    }

    fn source(&self, name: &str, extra: Value) -> Value {
        let mut source = json!({
            "kind": "borg", "name": name, "repository": self.text("repo"),
            "password_file": self.text("pw"), "cache_dir": self.text("base"),
        });
        merge(&mut source, extra);
        source
    }
}

#[tokio::test]
async fn bk03_bk04_real_borg_warning_run_empty_archive_and_utc_times() {
    let repo = BorgFixture::new();
    let before = Utc::now();
    // Created by a process in Europe/Berlin: the collector must still get UTC right.
    assert_eq!(repo.create_recorded("web1-1", &repo.text("data"), "Europe/Berlin"), 0);
    let after_first = Utc::now();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(repo.create_recorded("web1-2", &repo.text("missing"), "Europe/Berlin"), 1);
    let source = repo.source("web1", json!({ "runs_dir": repo.text("runs") }));
    let facts = only(&collect_one(source, Utc::now()).await).facts.clone();
    assert_eq!(facts["result"], "warning", "{facts}");
    assert_eq!(facts["last_success"]["id"], "web1-1");
    let success: DateTime<Utc> =
        facts["last_success_utc"].as_str().expect("utc").parse().expect("time");
    let slack = chrono::Duration::seconds(2);
    assert!(
        success >= before - slack && success <= after_first + slack,
        "{success} not in [{before}, {after_first}]"
    );
    assert_eq!(facts["last_success"]["zone_used"], "UTC");
    assert_eq!(facts["encryption"], "repokey-blake2");
    assert_eq!(facts["encrypted"], true);
    assert_eq!(facts["findings"][0]["kind"], "size_collapse", "{facts}");
    assert_eq!(facts["findings"][0]["previous_files"], 50);
    assert_eq!(facts["findings"][0]["files"], 0);
    assert!(facts["last_run"]["details"].to_string().contains("No such file or directory"));
    assert_eq!(facts["runs"]["warning"], 1);
    let tool = facts["commands"][0]["argv"][0].as_str().expect("argv");
    assert_eq!(tool, "/usr/bin/borg");
    assert!(!facts.to_string().contains(PASSWORD));
}

#[tokio::test]
async fn borg_check_restore_and_per_source_errors() {
    let repo = BorgFixture::new();
    repo.borg(&["create", &format!("{}::web1-1", repo.text("repo")), &repo.text("data")], "UTC");
    let scratch = repo.path("scratch");
    fs::create_dir(&scratch).expect("scratch");
    let extra = json!({ "check": true,
        "restore": { "path": repo.text("data/f7"), "scratch_dir": scratch } });
    let good =
        only(&collect_one(repo.source("web1", extra.clone()), Utc::now()).await).facts.clone();
    assert_eq!(good["integrity"]["passed"], true, "{good}");
    assert_eq!(good["restore_test"]["passed"], true, "{good}");
    assert_eq!(fs::read_dir(&scratch).expect("scratch").count(), 0);

    fs::write(repo.path("data/f7"), "changed").expect("change");
    damage_largest_file(&repo.path("repo/data"));
    let bad = only(&collect_one(repo.source("web1", extra), Utc::now()).await).facts.clone();
    assert_eq!(bad["integrity"]["passed"], false, "{bad}");
    assert_eq!(bad["restore_test"]["passed"], false);

    let wrong = repo.path("wrong");
    fs::write(&wrong, "nope").expect("write");
    let params = json!({ "sources": [
        repo.source("wrong", json!({ "password_file": wrong })),
        repo.source("missing", json!({ "repository": repo.text("nope") })),
    ]});
    let collection = collect(&settings(params), &ctx_at(Utc::now())).await;
    let messages: Vec<String> = collection.failures.iter().map(|f| f.message.clone()).collect();
    assert_eq!(collection.failures.len(), 2, "{messages:?}");
    assert!(messages[0].contains("wrong passphrase (exit 2)"), "{}", messages[0]);
    assert_eq!(collection.failures[0].kind, FailureKind::Permission);
    assert!(messages[1].contains("repository not found"), "{}", messages[1]);
    assert_eq!(collection.failures[1].kind, FailureKind::NotFound);

    let mut holder = Command::new("borg")
        .args(["with-lock", &repo.text("repo"), "sleep", "30"])
        .env("BORG_PASSCOMMAND", borg::passcommand(&repo.text("pw")))
        .env("BORG_BASE_DIR", repo.text("base"))
        .spawn()
        .expect("borg with-lock");
    let lock = repo.path("repo/lock.exclusive");
    for _ in 0..500 {
        if lock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let locked = collect_one(repo.source("locked", json!({})), Utc::now()).await;
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(locked.failures.len(), 1, "{:?}", locked.observations);
    let message = &locked.failures[0].message;
    assert!(message.ends_with("repository is locked (exit 2)"), "{message}");
}

/// A replay server on 127.0.0.1 answering recorded Hetzner API responses by path.
async fn replay_server(token: &'static str) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}/v1", listener.local_addr().expect("addr"));
    let handle = tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut buffer = vec![0_u8; 8192];
                let read = socket.read(&mut buffer).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buffer[..read]).into_owned();
                let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
                let authorized = request.contains(&format!("authorization: Bearer {token}"))
                    || request.contains(&format!("Authorization: Bearer {token}"));
                let (status, body) = replay(&path, authorized);
                if status == 0 {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
                let response = format!(
                    concat!(
                        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\n",
                        "content-length: {}\r\nconnection: close\r\n\r\n{}"
                    ),
                    status,
                    body.len(),
                    body
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (base, handle)
}

fn replay(path: &str, authorized: bool) -> (u16, &'static str) {
    if !authorized {
        return (401, include_str!("fixtures/hetzner/error-401.json"));
    }
    match path {
        "/v1/servers/4242" => (200, include_str!("fixtures/hetzner/server-4242.json")),
        "/v1/servers/4243" => (200, include_str!("fixtures/hetzner/server-4243.json")),
        "/v1/servers/4244" => (0, ""),
        p if p.starts_with("/v1/images?type=backup&bound_to=4242&") => {
            (200, include_str!("fixtures/hetzner/images-4242.json"))
        }
        "/v1/servers/4245" => (200, include_str!("fixtures/hetzner/server-4242.json")),
        p if p.starts_with("/v1/images?type=backup&bound_to=4245&page=1&") => (
            200,
            r#"{"images":[{"id":1,"status":"creating","created":"2026-08-20T00:40:00+00:00"}],
                "meta":{"pagination":{"page":1,"next_page":2}}}"#,
        ),
        p if p.starts_with("/v1/images?type=backup&bound_to=4245&page=2&") => {
            (200, include_str!("fixtures/hetzner/images-4242.json"))
        }
        p if p.starts_with("/v1/images?type=backup&bound_to=4243&") => {
            (200, r#"{"images":[],"meta":{"pagination":{"next_page":null}}}"#)
        }
        _ => (404, r#"{"error":{"code":"not_found","message":"Not Found"}}"#),
    }
}

#[tokio::test]
async fn bk07_hetzner_replay_enabled_disabled_error_and_timeout() {
    const TOKEN: &str = "test-only-hcloud-token";
    let (base, server) = replay_server(TOKEN).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    fs::write(&token, format!("{TOKEN}\n")).expect("token");
    let wrong = dir.path().join("wrong");
    fs::write(&wrong, "other-token").expect("token");
    let source = |name: &str, id: u64, file: &Path| {
        json!({ "kind": "hetzner", "name": name, "api_url": base, "server_id": id,
                "token_file": file })
    };
    let params = json!({ "sources": [
        source("web1", 4242, &token), source("web2", 4243, &token),
        source("denied", 4242, &wrong), source("paged", 4245, &token),
        source("slow", 4244, &token),
    ]});
    let now: DateTime<Utc> = "2026-08-20T12:00:00Z".parse().expect("now");
    let mut ctx = ctx_at(now);
    // Five sources: each gets a fair share (6 s / 5 for the first) of the time left.
    ctx.timeout = Duration::from_secs(6);
    let started = std::time::Instant::now();
    let collection = collect(&settings(params), &ctx).await;
    assert!(started.elapsed() < Duration::from_secs(9));
    server.abort();
    assert_eq!(collection.observations.len(), 3, "{:?}", collection.failures);
    let web1 = &collection.observations[0].facts;
    assert_eq!(web1["last_success_utc"], "2026-08-17T00:41:12.000Z");
    assert_eq!(web1["newest_success_age_hours"], 83.31);
    assert_eq!(web1["fresh"], false);
    assert_eq!(web1["detail"]["restore_points"], 2);
    let web2 = &collection.observations[1].facts;
    assert_eq!(web2["detail"]["backups_enabled"], false);
    assert_eq!(web2["result"], "failed");
    for facts in [web1, web2] {
        assert_eq!(facts["independent_copy"], false);
        assert_eq!(facts["off_host"], false);
        assert_eq!(facts["detail"]["db_consistent"], false);
        assert!(facts["detail"]["note"].as_str().expect("note").contains("off-site copy"));
    }
    let paged = &collection.observations[2].facts;
    assert_eq!(paged["snapshot_count"], 3, "{paged}");
    assert_eq!(paged["detail"]["newest_image_status"], "creating");
    assert_eq!(paged["last_success_utc"], "2026-08-17T00:41:12.000Z");
    let denied = &collection.failures[0];
    assert_eq!((denied.subject.as_str(), denied.kind), ("hetzner:denied", FailureKind::Permission));
    assert!(denied.message.contains("http 401 unauthorized"), "{}", denied.message);
    let slow = &collection.failures[1];
    assert_eq!(slow.kind, FailureKind::Timeout, "{}", slow.message);
    let all = format!("{collection:?}");
    assert!(!all.contains(TOKEN) && !all.contains("other-token"));
}

/// The keys of the errors that validating `params` gives, in order.
fn error_keys(params: Value) -> Vec<String> {
    let config: BackupConfig = serde_json::from_value(params).expect("parse");
    let errors = config.validate().expect_err("invalid");
    errors.into_iter().map(|e| e.key).collect()
}

#[test]
fn validation_names_every_bad_key() {
    let keys = error_keys(json!({
        "stale_after_hours": -1,
        "sources": [
            { "kind": "restic", "name": "a", "repository": "/r" },
            { "kind": "borg", "name": "a", "repository": "/r", "password_file": "rel",
              "password_credential": "x", "restore": { "path": "/x", "sha256": "zz" } },
            { "kind": "hetzner", "name": "h", "api_url": "ftp://x", "server_id": 1 },
            { "kind": "borg", "name": "z", "repository": "/r", "time_zone": "Mars/Base" },
        ]
    }));
    assert_eq!(
        keys,
        [
            "sources[0].password_file",
            "sources[1].name",
            "sources[1].password_file",
            "sources[1].restore.sha256",
            "sources[2].api_url",
            "sources[2].token_file",
            "sources[3].time_zone",
            "stale_after_hours",
        ]
    );
    let unknown = serde_json::from_value::<BackupConfig>(json!({
        "sources": [{ "kind": "restic", "name": "a", "repository": "/r", "pasword_file": "/p" }]
    }));
    assert!(unknown.is_err());
}

#[test]
fn locations_are_redacted_and_credentials_resolve_by_name() {
    assert_eq!(
        redact_location("rest:https://u:secret@host:8000/repo"),
        "rest:https://***@host:8000/repo"
    );
    assert_eq!(redact_location("/srv/repo"), "/srv/repo");
    assert_eq!(redact_location("ssh://borg@host/./repo"), "ssh://borg@host/./repo");
    let missing = Secret::File("/nonexistent/pw".into()).resolve().expect_err("missing");
    assert_eq!(missing.message, "secret file /nonexistent/pw does not exist");
    let dir = tempfile::tempdir().expect("tempdir");
    let found = credential_in(Some(dir.path().as_os_str()), "restic-web1").expect("set");
    assert_eq!(found, dir.path().join("restic-web1"));
    let unset = credential_in(None, "restic-web1").expect_err("unset");
    assert_eq!(unset.message, "credential restic-web1: CREDENTIALS_DIRECTORY is not set");
    assert_eq!(unset.kind, FailureKind::NotFound);
}

#[tokio::test]
async fn bk05_bk08_bk09_file_sources_through_the_collector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |rel: &str| dir.path().join(rel);
    fs::write(path("mariabackup.log"), include_str!("fixtures/mariabackup/bk05-failed.log"))
        .expect("log");
    fs::create_dir(path("db")).expect("backup dir");
    fs::write(path("backup.tar.gz"), b"not a backup").expect("artifact");
    fs::write(path("wrapper.rc"), "0\n").expect("wrapper status");
    fs::write(
        path("pgbackrest.json"),
        include_str!("fixtures/pgbackrest/bk09-no-valid-backups.json"),
    )
    .expect("info");
    let rsnapshot = "[20/Aug/2026:03:30:01] /usr/bin/rsnapshot daily: started\n\
        [20/Aug/2026:03:30:12] /usr/bin/rsnapshot daily: completed, but with some warnings\n";
    fs::write(path("rsnapshot.log"), rsnapshot).expect("rsnapshot log");
    fs::write(path("rsnapshot.rc"), "2").expect("rsnapshot status");
    let with_errors = rsnapshot.replace("warnings", "errors");
    fs::write(path("rsnapshot-err.log"), with_errors).expect("rsnapshot log");
    fs::write(path("rsnapshot-err.rc"), "1").expect("rsnapshot status");
    let params = json!({ "sources": [
        { "kind": "mariabackup", "name": "db", "log": path("mariabackup.log"),
          "target_dir": path("db"), "time_zone": "UTC", "artifact": path("backup.tar.gz"),
          "wrapper_exit_code_file": path("wrapper.rc") },
        { "kind": "pgbackrest", "name": "pg", "stanza": "main",
          "info_file": path("pgbackrest.json") },
        { "kind": "log", "name": "snap", "path": path("rsnapshot.log"), "preset": "rsnapshot",
          "time_zone": "UTC", "exit_code_file": path("rsnapshot.rc") },
        { "kind": "log", "name": "gone", "path": path("missing.log"), "preset": "rsync" },
        { "kind": "log", "name": "snap-err", "path": path("rsnapshot-err.log"),
          "preset": "rsnapshot", "time_zone": "UTC", "exit_code_file": path("rsnapshot-err.rc") },
    ]});
    let now: DateTime<Utc> = "2026-08-20T12:00:00Z".parse().expect("now");
    let collection = collect(&settings(params), &ctx_at(now)).await;
    assert_eq!(collection.observations.len(), 4, "{:?}", collection.failures);
    let maria = &collection.observations[0];
    assert_eq!(maria.subject, "mariabackup:db");
    assert_eq!(maria.facts["result"], "failed");
    assert_eq!(maria.facts["detail"]["claims"]["wrapper_exit_code"], 0);
    assert_eq!(maria.facts["detail"]["claims"]["artifact_exists"], true);
    assert_eq!(maria.effective_at, None);
    assert_eq!(maria.facts["detail"]["checkpoints_present"], false);
    let pg = &collection.observations[1].facts;
    assert_eq!((pg["result"].clone(), pg["encrypted"].clone()), (json!("failed"), json!(true)));
    assert_eq!(pg["encryption"], "aes-256-cbc");
    assert_eq!(pg["last_success_utc"], Value::Null);
    assert_eq!(pg["detail"]["repositories"], 1);
    assert_eq!(pg["independent_copy"], false);
    let snap = &collection.observations[2].facts;
    assert_eq!(snap["result"], "warning");
    assert_eq!(snap["result_rank"], 2);
    let snap_err = &collection.observations[3].facts;
    assert_eq!(snap_err["result"], "failed");
    assert!(snap_err["result_rank"].as_u64() > snap["result_rank"].as_u64());
    assert_eq!(collection.failures.len(), 1);
    assert_eq!(collection.failures[0].subject, "log:gone");
    assert_eq!(collection.failures[0].kind, FailureKind::NotFound);
    assert!(collection.failures[0].message.starts_with("cannot read log "));
}

#[tokio::test]
async fn a_listing_cut_at_the_byte_budget_is_an_error_not_fewer_snapshots() {
    let repo = ResticFixture::new();
    repo.backup();
    let mut ctx = ctx_at(Utc::now());
    ctx.limits.max_read_bytes = 100;
    let params = json!({ "sources": [repo.source("files", json!({ "stats": false }))] });
    let collection = collect(&settings(params), &ctx).await;
    assert!(collection.observations.is_empty());
    let failure = &collection.failures[0];
    assert_eq!(failure.kind, FailureKind::Parse);
    assert_eq!(
        failure.message,
        "restic snapshots output is larger than the byte budget of 100 bytes; raise max_read_bytes"
    );
}

/// An executable script in `dir` (a test stand-in only where a real program cannot hang or
/// show its environment; it hands over to the real restic where it can).
fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script");
    let mut perms = fs::metadata(&path).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&path, perms).expect("chmod");
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn a_hanging_source_times_out_alone_and_the_others_are_collected() {
    let repo = ResticFixture::new();
    repo.backup();
    let hang = script(repo.dir.path(), "hang", "exec sleep 600");
    let borg = BorgFixture::new();
    borg.borg(&["create", &format!("{}::web1-1", borg.text("repo")), &borg.text("data")], "UTC");
    let params = json!({ "sources": [
        repo.source("hung", json!({ "program": hang })),
        repo.source("files", json!({})),
        borg.source("web1", json!({})),
    ]});
    let mut ctx = ctx_at(Utc::now());
    ctx.timeout = Duration::from_secs(30);
    let started = std::time::Instant::now();
    let collection = collect(&settings(params), &ctx).await;
    let elapsed = started.elapsed();
    assert_eq!(collection.failures.len(), 1, "{:?}", collection.failures);
    let hung = &collection.failures[0];
    assert_eq!((hung.subject.as_str(), hung.kind), ("restic:hung", FailureKind::Timeout));
    // Its fair share is a third of the 30 s, not the whole budget.
    assert!(hung.message.contains("timed out after 10.0 s"), "{}", hung.message);
    let subjects: Vec<&str> = collection.observations.iter().map(|o| o.subject.as_str()).collect();
    assert_eq!(subjects, ["restic:files", "borg:web1"]);
    assert_eq!(collection.observations[0].facts["snapshot_count"], 1);
    assert_eq!(collection.observations[1].facts["snapshot_count"], 1);
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
}

#[tokio::test]
async fn bk03_real_borg_near_empty_archive_and_absolute_floor() {
    let repo = BorgFixture::new();
    fs::create_dir(repo.path("almost")).expect("dir");
    fs::write(repo.path("almost/left-over"), "x").expect("one small file");
    assert_eq!(repo.create_recorded("web1-1", &repo.text("data"), "UTC"), 0);
    std::thread::sleep(Duration::from_millis(1100));
    // Exit 0 and a non-empty archive: only its size tells that the source was (mostly) gone.
    assert_eq!(repo.create_recorded("web1-2", &repo.text("almost"), "UTC"), 0);
    for stats in [true, false] {
        // Without `borg info` the sizes come from the recorded `borg create --json` stats.
        let extra = json!({ "runs_dir": repo.text("runs"), "stats": stats });
        let facts = only(&collect_one(repo.source("web1", extra), Utc::now()).await).facts.clone();
        let finding = &facts["findings"][0];
        assert_eq!(finding["kind"], "size_collapse", "{facts}");
        assert_eq!(finding["id"], "web1-2");
        assert_eq!(finding["reasons"], json!(["files_collapse", "bytes_collapse"]), "{finding}");
        assert_eq!(
            (finding["files"].clone(), finding["previous_files"].clone()),
            (json!(1), json!(50))
        );
        assert_eq!(facts["last_success"]["id"], "web1-1", "{facts}");
        assert_eq!(facts["result"], "warning");
        assert_eq!(facts["runs"]["success"], 1);
    }
    // Once seen, a collapse stays marked when no sizes are listed any more (previous facts).
    let seen = only(&collect_one(repo.source("web1", json!({})), Utc::now()).await).clone();
    let earlier = crate::PreviousObservation {
        collected_at: seen.collected_at,
        facts: Some(seen.facts.clone()),
        payload_sha256: String::new(),
    };
    let mut ctx = ctx_at(Utc::now());
    ctx.previous = crate::Previous::new([("borg:web1".to_string(), earlier)].into());
    let params = json!({ "sources": [repo.source("web1", json!({ "stats": false }))] });
    let facts = only(&collect(&settings(params), &ctx).await).facts.clone();
    assert_eq!(facts["findings"][0]["reasons"], json!(["seen_earlier"]), "{facts}");
    assert_eq!(facts["findings"][0]["first_seen_at"], seen.facts["findings"][0]["first_seen_at"]);
    assert_eq!(facts["last_success"]["id"], "web1-1");
    // A floor makes an archive that was always too small no success, with nothing to compare.
    let extra = json!({ "min_files": 60, "min_bytes": 1000 });
    let facts = only(&collect_one(repo.source("web1", extra), Utc::now()).await).facts.clone();
    assert_eq!(facts["findings_count"], 2, "{facts}");
    assert_eq!(facts["findings"][0]["id"], "web1-1");
    assert_eq!(facts["findings"][0]["reasons"], json!(["below_min_files"]));
    assert_eq!(facts["findings"][0]["min_files"], 60);
    assert_eq!(facts["last_success_utc"], Value::Null);
    assert_eq!(facts["fresh"], false);
}

#[tokio::test]
async fn borg_restore_test_finds_the_sample_in_an_archive_of_a_relative_path() {
    let repo = BorgFixture::new();
    // `borg create repo::x data` run inside the fixture stores data/f7, not tmp/…/data/f7.
    let target = format!("{}::web1-1", repo.text("repo"));
    let status = Command::new("borg")
        .args(["create", &target, "data"])
        .current_dir(repo.dir.path())
        .env("BORG_PASSCOMMAND", borg::passcommand(&repo.text("pw")))
        .env("BORG_BASE_DIR", repo.text("base"))
        .status()
        .expect("run borg");
    assert!(status.success(), "borg create of a relative path failed");
    let scratch = repo.path("scratch");
    fs::create_dir(&scratch).expect("scratch");
    let restore = json!({ "restore": { "path": repo.text("data/f7"), "scratch_dir": scratch } });
    let facts = only(&collect_one(repo.source("relative", restore.clone()), Utc::now()).await)
        .facts
        .clone();
    assert_eq!(facts["restore_test"]["passed"], true, "{facts}");
    assert_eq!(fs::read_dir(&scratch).expect("scratch").count(), 0);
    let listed = facts["commands"].as_array().expect("commands").iter().any(|c| {
        c["argv"].to_string().contains("--json-lines") && c["argv"].to_string().contains("f7$")
    });
    assert!(listed, "the sample was not looked up in the archive");
    // f70 does not exist: a name that only starts like the sample is not taken for it.
    let absent = json!({ "restore": { "path": repo.text("data/f70") } });
    let facts = only(&collect_one(repo.source("relative", absent), Utc::now()).await).facts.clone();
    assert_eq!(facts["restore_test"]["passed"], false);
    assert!(facts["restore_test"]["error"].as_str().expect("error").contains("is not in archive"));
}

#[tokio::test]
async fn restic_backend_credentials_come_from_files_and_never_reach_evidence() {
    const KEY_ID: &str = "AKIA-test-only-key-id-91c2";
    const KEY: &str = "test-only-secret-access-key-5e1f";
    let repo = ResticFixture::new();
    repo.backup();
    fs::write(repo.path("key-id"), format!("{KEY_ID}\n")).expect("key id file");
    fs::write(repo.path("key"), KEY).expect("key file");
    let dump = repo.path("child-env");
    // Records the environment the collector gave restic, then runs the real restic.
    let shim = script(
        repo.dir.path(),
        "restic-env",
        &format!("env > '{}'\nexec restic \"$@\"", dump.display()),
    );
    let files = json!({ "AWS_ACCESS_KEY_ID": repo.text("key-id"),
        "AWS_SECRET_ACCESS_KEY": repo.text("key") });
    let source = repo.source("s3like", json!({ "program": shim, "env_files": files.clone() }));
    let collection = collect_one(source, Utc::now()).await;
    let observation = only(&collection);
    assert_eq!(observation.facts["snapshot_count"], 1);
    let env = fs::read_to_string(&dump).expect("child environment");
    assert!(env.lines().any(|l| l == format!("AWS_ACCESS_KEY_ID={KEY_ID}")), "{env}");
    assert!(env.lines().any(|l| l == format!("AWS_SECRET_ACCESS_KEY={KEY}")), "{env}");
    let evidence = serde_json::to_string(observation).expect("serialize");
    assert!(!evidence.contains(KEY_ID) && !evidence.contains(KEY), "a credential leaked");

    // A backend that echoes the key in its error: the per-source message is scrubbed.
    let echo = script(
        repo.dir.path(),
        "restic-echo",
        "echo \"Fatal: access key $AWS_ACCESS_KEY_ID was rejected\" >&2\nexit 1",
    );
    let failing = repo.source("echo", json!({ "program": echo, "env_files": files }));
    let collection = collect_one(failing, Utc::now()).await;
    let message = &collection.failures[0].message;
    assert!(message.contains("access key *** was rejected"), "{message}");
    let missing =
        repo.source("nokey", json!({ "env_files": { "B2_ACCOUNT_KEY": repo.text("none") } }));
    let collection = collect_one(missing, Utc::now()).await;
    let message = &collection.failures[0].message;
    assert!(
        message.starts_with("B2_ACCOUNT_KEY: secret file ") && message.ends_with("does not exist")
    );
}

#[test]
fn backend_variables_are_limited_to_credentials_and_to_restic() {
    let keys = error_keys(json!({ "sources": [
        { "kind": "restic", "name": "a", "repository": "s3:h/b", "password_file": "/p",
          "env_files": { "LD_PRELOAD": "/x", "AWS_ACCESS_KEY_ID": "rel" },
          "env_credentials": { "RESTIC_PASSWORD": "pw", "AZURE_ACCOUNT_KEY": "a/b" } },
        { "kind": "borg", "name": "b", "repository": "/r", "env_files": { "AWS_X": "/x" } },
    ]}));
    assert_eq!(
        keys,
        [
            "sources[0].env_files.AWS_ACCESS_KEY_ID",
            "sources[0].env_files.LD_PRELOAD",
            "sources[0].env_credentials.AZURE_ACCOUNT_KEY",
            "sources[0].env_credentials.RESTIC_PASSWORD",
            "sources[1].env_files",
        ]
    );
}

/// Keeps a real `restic check` run as a timer job's run record (the `runs_dir` layout).
fn record_check(repo: &ResticFixture, name: &str) -> i32 {
    let env = repo.env();
    let out = setup(
        &["restic", "check", "--read-data"],
        &env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
    );
    let run = repo.path(&format!("checks/{name}"));
    keep_run(&run, &out)
}

/// Writes a program's output as a run record in `run` (the `runs_dir` layout); its exit code.
fn keep_run(run: &Path, out: &std::process::Output) -> i32 {
    fs::create_dir_all(run).expect("run dir");
    fs::write(run.join("stdout"), &out.stdout).expect("stdout");
    fs::write(run.join("stderr"), &out.stderr).expect("stderr");
    let code = out.status.code().unwrap_or(-1);
    fs::write(run.join("exit_code"), code.to_string()).expect("code");
    code
}

#[tokio::test]
async fn integrity_checks_run_by_a_timer_are_read_from_their_run_records() {
    let repo = ResticFixture::new();
    repo.backup();
    assert_eq!(record_check(&repo, "2026-08-19T03:00"), 0);
    let source = repo.source("files", json!({ "check_runs_dir": repo.text("checks") }));
    let later = Utc::now() + chrono::Duration::hours(5);
    let facts = only(&collect_one(source.clone(), later).await).facts.clone();
    assert_eq!(facts["integrity"]["passed"], true, "{facts}");
    let age = facts["integrity"]["age_hours"].as_f64().expect("age");
    assert!((4.9..5.1).contains(&age), "the check is dated by its record: {age}");
    damage_largest_file(&repo.path("repo/data"));
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(record_check(&repo, "2026-08-20T03:00"), 1);
    let facts = only(&collect_one(source, later).await).facts.clone();
    assert_eq!(facts["integrity"]["passed"], false, "{facts}");
    let missing = repo.source("x", json!({ "check_runs_dir": repo.text("nochecks") }));
    let collection = collect_one(missing, later).await;
    assert!(collection.failures[0].message.starts_with("cannot list check_runs_dir "));
}

#[tokio::test]
async fn bk06_real_repository_failed_run_and_success_ping_is_stale() {
    let repo = ResticFixture::new();
    let env = repo.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.push(("TZ", "UTC"));
    let src = repo.text("src");
    setup_ok(&["restic", "backup", "-q", "--time", "2026-08-18 02:00:03", &src], &env);
    let run = repo.path("runs/2026-08-20T020500Z");
    fs::create_dir_all(&run).expect("run dir");
    fs::write(run.join("stderr"), include_str!("fixtures/restic/bk06-stderr.txt")).expect("stderr");
    fs::write(run.join("exit_code"), "1\n").expect("exit code");
    fs::write(run.join("claim"), "success ping web1-files 2026-08-20T02:05:00Z").expect("claim");
    let code = run.join("exit_code").to_string_lossy().into_owned();
    setup_ok(&["touch", "-d", "2026-08-20T02:05:00Z", &code], &[]);
    let now: DateTime<Utc> = "2026-08-20T12:00:00Z".parse().expect("now");
    let source = repo.source("web1-files", json!({ "runs_dir": repo.text("runs") }));
    let facts = only(&collect_one(source, now).await).facts.clone();
    assert_eq!(facts["result"], "failed", "{facts}");
    assert_eq!(facts["last_run"]["at"], "2026-08-20T02:05:00.000Z");
    assert_eq!(facts["last_success_utc"], "2026-08-18T02:00:03.000Z");
    assert_eq!(facts["newest_success_age_hours"], 58.0);
    assert_eq!(facts["fresh"], false);
    let claim = facts["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["kind"] == "unverified_claim");
    assert_eq!(claim.expect("the ping is an unverified claim")["run_result"], "failed");
}

#[tokio::test]
async fn bk09_pgbackrest_off_host_comes_from_its_config_through_the_collector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |rel: &str| dir.path().join(rel);
    fs::write(path("info.json"), include_str!("fixtures/pgbackrest/ok-two-repos.json"))
        .expect("info");
    fs::write(path("pgbackrest.conf"), "[global]\nrepo1-path=/var/lib/pgbackrest\n")
        .expect("config");
    fs::create_dir(path("conf.d")).expect("conf.d");
    // The S3 repository is configured in an included file, as pgBackRest allows.
    fs::write(path("conf.d/s3.conf"), include_str!("fixtures/pgbackrest/pgbackrest-posix-s3.conf"))
        .expect("include");
    let source = |name: &str, extra: Value| {
        let mut source = json!({ "kind": "pgbackrest", "name": name, "stanza": "main",
            "info_file": path("info.json"), "config_file": path("pgbackrest.conf") });
        merge(&mut source, extra);
        source
    };
    let params = json!({ "sources": [
        source("derived", json!({})),
        source("forced", json!({ "off_host": false })),
        source("unreadable", json!({ "config_file": dir.path() })),
    ]});
    let now: DateTime<Utc> = "2026-08-20T12:00:00Z".parse().expect("now");
    let collection = collect(&settings(params), &ctx_at(now)).await;
    let derived = &collection.observations[0].facts;
    assert_eq!(derived["off_host"], true, "{derived}");
    assert_eq!(derived["detail"]["repository_locations"][1]["type"], "s3");
    assert_eq!(collection.observations[1].facts["off_host"], false);
    let failure = &collection.failures[0];
    assert_eq!(failure.subject, "pgbackrest:unreadable");
    assert!(failure.message.starts_with("cannot read pgbackrest config "), "{}", failure.message);
}

/// A stand-in S3 endpoint on 127.0.0.1 that keeps each request head and answers every
/// request with S3's "no such key" error, as a bucket without a restic repository does.
async fn empty_s3() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0_u8; 16 * 1024];
                let read = socket.read(&mut buffer).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buffer[..read]).into_owned();
                let is_head = head.starts_with("HEAD ");
                kept.lock().expect("heads").push(head);
                let body = concat!(
                    r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>"#,
                    "<Message>The specified key does not exist.</Message></Error>"
                );
                let response = format!(
                    "HTTP/1.1 404 Not Found\r\ncontent-type: application/xml\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{}",
                    body.len(),
                    if is_head { "" } else { body }
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (base, heads)
}

#[tokio::test]
async fn restic_s3_backend_signs_with_the_key_from_its_file_and_no_key_reaches_evidence() {
    const KEY_ID: &str = "AKIATESTONLY7Q2W";
    const KEY: &str = "test-only-s3-secret-key-0b7d";
    require("restic", "restic");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |rel: &str| dir.path().join(rel);
    fs::write(path("pw"), PASSWORD).expect("password");
    fs::write(path("key-id"), format!("{KEY_ID}\n")).expect("key id");
    fs::write(path("key"), format!("{KEY}\n")).expect("key");
    let (base, heads) = empty_s3().await;
    let files =
        json!({ "AWS_ACCESS_KEY_ID": path("key-id"), "AWS_SECRET_ACCESS_KEY": path("key") });
    let source = json!({ "kind": "restic", "name": "s3", "repository": format!("s3:{base}/bucket"),
        "password_file": path("pw"), "env_files": files });
    let collection = collect_one(source, Utc::now()).await;
    let failure = &collection.failures[0];
    assert_eq!(failure.kind, FailureKind::NotFound, "{}", failure.message);
    assert!(failure.message.contains("repository not found"), "{}", failure.message);
    let heads = heads.lock().expect("heads").clone();
    let signed = heads.iter().any(|h| h.contains(&format!("Credential={KEY_ID}/")));
    assert!(signed, "restic did not sign with the configured key id: {heads:?}");
    let evidence = format!("{collection:?}");
    assert!(!evidence.contains(KEY) && !evidence.contains(KEY_ID), "{evidence}");
}
