//! The restore test: a private scratch directory, and comparing what came back.
//!
//! Owns creating a fresh directory with mode 0700 for the restored data, hashing the restored
//! sample with SHA-256, comparing it with the live file or a recorded digest, describing the
//! result as facts, and removing the directory afterwards whatever happened. Running the
//! tool's restore command is the source module's job (restic `restore`, borg `extract`).

use std::fs::{self, DirBuilder, File};
use std::io::{self, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::times::rfc3339;

/// What to restore and what to compare it with.
#[derive(Debug, Clone)]
pub struct RestorePlan {
    /// The absolute path of the sample as it was backed up.
    pub path: PathBuf,
    /// A recorded SHA-256 (lowercase hex); without it the live file is hashed.
    pub sha256: Option<String>,
    /// Where the private scratch directory is made.
    pub scratch_parent: PathBuf,
}

/// A private directory that is removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Creates `beweis-restore-<pid>-<n>` under `parent` with mode 0700; never reuses one.
    ///
    /// # Errors
    ///
    /// The I/O error when no fresh directory can be made.
    pub fn create(parent: &Path) -> io::Result<Scratch> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        for _ in 0..16 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = parent.join(format!("beweis-restore-{}-{nanos}-{n}", std::process::id()));
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(Scratch { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(io::ErrorKind::AlreadyExists, "no fresh scratch directory name"))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a failure leaves a 0700 directory that the next run does not reuse.
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// SHA-256 of a file, streamed.
///
/// # Errors
///
/// The I/O error of opening or reading it.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

/// Where `original` lands under `root` when restored with its absolute path.
pub fn restored_location(root: &Path, original: &Path) -> PathBuf {
    root.join(original.strip_prefix("/").unwrap_or(original))
}

/// The file name of the sample, which the tools' listings are searched for.
///
/// # Errors
///
/// When the configured path has no file name.
pub fn sample_name(plan: &RestorePlan) -> Result<String, String> {
    let name = plan.path.file_name().map(|n| n.to_string_lossy().into_owned());
    name.ok_or_else(|| format!("sample path {} has no file name", plan.path.display()))
}

/// The stored path of the sample among the listed matches of its name, see [`best_match`].
///
/// # Errors
///
/// When none of them is the sample; the message names the `point` searched.
pub fn stored_sample(plan: &RestorePlan, stored: &[String], point: &str) -> Result<String, String> {
    best_match(&plan.path, stored)
        .ok_or_else(|| format!("sample {} is not in {point}", plan.path.display()))
}

/// The stored path that `original` ends with (component-wise), the longest (most specific)
/// first: a snapshot or archive taken from a relative path stores `data/a.txt` for
/// `/srv/data/a.txt`. Leading `/` in stored paths is ignored (restic has one, borg none).
pub fn best_match(original: &Path, stored: &[String]) -> Option<String> {
    stored
        .iter()
        .filter(|p| !p.trim_start_matches('/').is_empty())
        .filter(|p| original.ends_with(p.trim_start_matches('/')))
        .max_by_key(|p| p.len())
        .cloned()
}

/// Compares the restored file under `root` with the plan; the facts of the restore test.
pub fn compare(plan: &RestorePlan, root: &Path, snapshot: &str, at: DateTime<Utc>) -> Value {
    compare_file(plan, &restored_location(root, &plan.path), snapshot, at)
}

/// Compares the restored file at `restored` with the plan; the facts of the restore test.
pub fn compare_file(
    plan: &RestorePlan,
    restored: &Path,
    snapshot: &str,
    at: DateTime<Utc>,
) -> Value {
    let restored = sha256_file(restored);
    let (expected, basis) = match &plan.sha256 {
        Some(digest) => (Ok(digest.clone()), "recorded_digest"),
        None => (sha256_file(&plan.path), "live_file"),
    };
    let mut facts = json!({
        "performed": true,
        "at": rfc3339(at),
        "age_hours": 0.0,
        "snapshot": snapshot,
        "path": plan.path,
        "compared_with": basis,
        "restored_sha256": restored.as_ref().ok(),
        "expected_sha256": expected.as_ref().ok(),
    });
    let error = match (&restored, &expected) {
        (Err(e), _) => Some(format!("restored file missing or unreadable: {e}")),
        (_, Err(e)) => Some(format!("cannot read {}: {e}", plan.path.display())),
        (Ok(got), Ok(want)) if !got.eq_ignore_ascii_case(want) => {
            Some("digest differs".to_string())
        }
        _ => None,
    };
    facts["passed"] = json!(error.is_none());
    facts["error"] = json!(error);
    facts
}

/// The point to restore from (`newest`) and a fresh scratch directory, or the [`not_run`]
/// result that says why a restore cannot start; `noun` names the tool's points ("snapshot").
pub fn start(
    plan: &RestorePlan,
    newest: Option<String>,
    at: DateTime<Utc>,
    noun: &str,
) -> Result<(String, Scratch), Value> {
    let Some(newest) = newest else {
        return Err(not_run(plan, at, format!("no {noun} to restore from")));
    };
    match Scratch::create(&plan.scratch_parent) {
        Ok(scratch) => Ok((newest, scratch)),
        Err(e) => Err(not_run(plan, at, format!("cannot create scratch dir: {e}"))),
    }
}

/// The facts of a restore test that could not run to the comparison.
pub fn not_run(plan: &RestorePlan, at: DateTime<Utc>, error: String) -> Value {
    json!({
        "performed": true, "at": rfc3339(at), "age_hours": 0.0, "path": plan.path,
        "passed": false, "error": error,
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn scratch_is_private_and_removed() {
        let parent = tempfile::tempdir().expect("tempdir");
        let kept;
        {
            let scratch = Scratch::create(parent.path()).expect("scratch");
            let mode = fs::metadata(scratch.path()).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
            fs::write(scratch.path().join("x"), "data").expect("write");
            kept = scratch.path().to_path_buf();
        }
        assert!(!kept.exists());
    }

    #[test]
    fn compare_against_digest_and_live_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live = dir.path().join("live.txt");
        fs::write(&live, "hello\n").expect("write");
        let root = dir.path().join("root");
        let restored = restored_location(&root, &live);
        fs::create_dir_all(restored.parent().expect("parent")).expect("mkdir");
        fs::write(&restored, "hello\n").expect("write");
        let plan =
            RestorePlan { path: live.clone(), sha256: None, scratch_parent: dir.path().into() };
        let now = Utc::now();
        let facts = compare(&plan, &root, "abc", now);
        assert_eq!(facts["passed"], true, "{facts}");
        assert_eq!(
            facts["restored_sha256"],
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        let wrong = RestorePlan { sha256: Some("00".repeat(32)), ..plan };
        let facts = compare(&wrong, &root, "abc", now);
        assert_eq!(facts["passed"], false);
        assert_eq!(facts["error"], "digest differs");
        assert_eq!(facts["compared_with"], "recorded_digest");
    }
}
