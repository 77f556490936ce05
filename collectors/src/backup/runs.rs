//! Reading the records a backup wrapper leaves of each run.
//!
//! A repository cannot tell a partial snapshot from a full one later, and a wrapper's exit
//! status or success ping proves nothing, so the collector reads what the wrapper captured at
//! run time. The layout is one directory per run under the configured `runs_dir`:
//!
//! ```text
//! <runs_dir>/<run>/exit_code   the program's exit status, e.g. `3` (its mtime dates the run)
//! <runs_dir>/<run>/stdout      the program's stdout (e.g. `restic backup --json`)
//! <runs_dir>/<run>/stderr      the program's stderr
//! <runs_dir>/<run>/claim       optional: what the wrapper or a monitoring ping claimed
//! ```
//!
//! This module owns reading those files within a byte cap; the source modules classify them.
//! A claim is never taken as proof: when it says success and the run was not, a finding is
//! recorded.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::exec::Ran;
use super::report::{Integrity, RunRecord, RunResult};
use super::times::rfc3339;

/// The most run directories read, newest by name first.
pub const MAX_RUNS: usize = 200;

/// The most bytes read of each captured file.
const MAX_CAPTURE_BYTES: u64 = 4 * 1024 * 1024;

/// One captured run as the wrapper left it.
#[derive(Debug, Clone)]
pub struct Captured {
    /// The run directory.
    pub dir: PathBuf,
    /// When the run finished (mtime of `exit_code`).
    pub at: Option<DateTime<Utc>>,
    /// The recorded exit status; `None` when absent or unreadable.
    pub exit_code: Option<i32>,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
    /// What the wrapper or monitor claimed, trimmed.
    pub claim: Option<String>,
}

/// Reads up to [`MAX_RUNS`] run directories, newest (by name) first.
///
/// # Errors
///
/// A message naming `dir` when it cannot be listed.
pub fn read_runs(dir: &Path) -> Result<Vec<Captured>, String> {
    let entries =
        fs::read_dir(dir).map_err(|e| format!("cannot list runs_dir {}: {e}", dir.display()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort_unstable();
    dirs.reverse();
    Ok(dirs.into_iter().take(MAX_RUNS).map(|run| read_run(&run)).collect())
}

fn read_run(dir: &Path) -> Captured {
    let code_path = dir.join("exit_code");
    let at =
        fs::metadata(&code_path).and_then(|meta| meta.modified()).ok().map(DateTime::<Utc>::from);
    let exit_code = read_capped(&code_path).and_then(|text| parse_exit_code(&text));
    Captured {
        dir: dir.to_path_buf(),
        at,
        exit_code,
        stdout: read_capped(&dir.join("stdout")).unwrap_or_default(),
        stderr: read_capped(&dir.join("stderr")).unwrap_or_default(),
        claim: read_capped(&dir.join("claim"))
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty()),
    }
}

/// The newest integrity check a job outside the collector recorded in `dir` (same layout:
/// `exit_code` dates it, `stdout` and `stderr` hold the check's output), judged by the source's
/// own reading of its check output (`read`). Runs without a readable `exit_code` are skipped.
///
/// # Errors
///
/// A message naming `dir` when it cannot be listed.
pub fn latest_check(
    dir: &Path,
    read: impl Fn(&Ran, DateTime<Utc>) -> Integrity,
) -> Result<Option<Integrity>, String> {
    let runs = read_runs(dir).map_err(|e| e.replace("runs_dir", "check_runs_dir"))?;
    let newest = runs.into_iter().filter(|run| run.exit_code.is_some()).max_by_key(|run| run.at);
    Ok(newest.and_then(|run| {
        let at = run.at?;
        let ran = Ran {
            argv: Vec::new(),
            code: run.exit_code,
            stdout: run.stdout.into_bytes(),
            stderr: run.stderr.into_bytes(),
            stdout_truncated: false,
            duration: std::time::Duration::ZERO,
        };
        Some(read(&ran, at))
    }))
}

/// Accepts `3`, `rc=3` or `exit 3` forms.
pub fn parse_exit_code(text: &str) -> Option<i32> {
    let digits = text.trim().trim_start_matches(|c: char| !c.is_ascii_digit() && c != '-');
    digits.parse().ok()
}

fn read_capped(path: &Path) -> Option<String> {
    let file = fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_CAPTURE_BYTES).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Whether a claim text states success.
fn claims_success(claim: &str) -> bool {
    let lower = claim.to_ascii_lowercase();
    ["success", "ok", "completed", "exit 0", "rc=0"].iter().any(|word| lower.contains(word))
        && !lower.contains("fail")
        && !lower.contains("error")
}

/// A finding for each run whose claim says success while the run was not a success.
pub fn claim_findings(captured: &[Captured], records: &[RunRecord]) -> Vec<Value> {
    captured
        .iter()
        .zip(records)
        .filter_map(|(run, record)| {
            let claim = run.claim.as_deref()?;
            (claims_success(claim) && record.result != RunResult::Success).then(|| {
                json!({
                    "kind": "unverified_claim",
                    "message": "a claim of success contradicts the run record",
                    "claim": claim.chars().take(200).collect::<String>(),
                    "run_result": record.result.as_str(),
                    "run_at": record.at.map(rfc3339),
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_in_several_forms() {
        assert_eq!(parse_exit_code("3\n"), Some(3));
        assert_eq!(parse_exit_code("rc=24"), Some(24));
        assert_eq!(parse_exit_code("exit 0"), Some(0));
        assert_eq!(parse_exit_code(""), None);
        assert_eq!(parse_exit_code("ok"), None);
    }

    #[test]
    fn runs_are_read_newest_first_and_claims_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, code, claim) in
            [("2026-08-19", "0", None), ("2026-08-20", "1", Some("success ping"))]
        {
            let run = dir.path().join(name);
            fs::create_dir(&run).expect("mkdir");
            fs::write(run.join("exit_code"), code).expect("write");
            fs::write(run.join("stderr"), "Fatal: unable to open config file").expect("write");
            if let Some(claim) = claim {
                fs::write(run.join("claim"), claim).expect("write");
            }
        }
        let runs = read_runs(dir.path()).expect("read");
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].exit_code, Some(1));
        assert!(runs[0].at.is_some());
        let record = RunRecord {
            at: runs[0].at,
            result: RunResult::Failed,
            exit_code: Some(1),
            snapshot_id: None,
            details: vec![],
        };
        let findings = claim_findings(&runs[..1], &[record]);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0]["kind"], "unverified_claim");
        assert!(read_runs(&dir.path().join("none")).expect_err("missing").contains("runs_dir"));
    }
}
