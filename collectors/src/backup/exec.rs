//! Running backup programs: argv only, a cleared environment, a deadline, a process group.
//!
//! Owns spawning one program (never through a shell) in its own process group with null stdin,
//! reading stdout and stderr concurrently under a byte cap, and killing the whole group when
//! the deadline passes or the run is cancelled. Secrets reach a program only through the
//! environment variables a source module sets (a password *file* path, never the password);
//! this module never logs or returns the environment. It does not interpret output.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::FailureKind;

/// The `PATH` programs get and bare program names are looked up in.
pub const DEFAULT_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// How long to wait for a killed group to be reaped.
const REAP_TIMEOUT: Duration = Duration::from_secs(2);

/// One program invocation to make.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Environment on top of `PATH`, `LANG=C` and `TZ=UTC`. May name secret *files*.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
}

impl Invocation {
    /// An invocation of `argv` with environment `env`.
    pub fn new(argv: Vec<String>, env: &[(String, String)]) -> Invocation {
        Invocation { argv, env: env.to_vec(), cwd: None }
    }
}

/// What a program did.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The argv that ran, program resolved.
    pub argv: Vec<String>,
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// The kept part of stdout.
    pub stdout: Vec<u8>,
    /// The kept part of stderr.
    pub stderr: Vec<u8>,
    /// Whether stdout was cut at the cap.
    pub stdout_truncated: bool,
    /// Wall time.
    pub duration: Duration,
}

impl Ran {
    /// The stderr text, lossily decoded.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// A JSON record for the `commands` fact: argv, exit code, duration, and the SHA-256 and
    /// length of the kept output, so the raw output a fact rests on can be matched later.
    pub fn record(&self) -> Value {
        json!({
            "argv": self.argv,
            "exit_code": self.code,
            "duration_ms": u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
            "stdout_sha256": hex::encode(Sha256::digest(&self.stdout)),
            "stdout_bytes": self.stdout.len(),
            "stdout_truncated": self.stdout_truncated,
            "stderr_sha256": hex::encode(Sha256::digest(&self.stderr)),
            "stderr_bytes": self.stderr.len(),
        })
    }
}

/// Why a program could not be run to an exit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExecError {
    /// The failure class.
    pub kind: FailureKind,
    /// Lowercase, names the program.
    pub message: String,
}

/// Limits for one invocation.
#[derive(Debug, Clone)]
pub struct Bounds {
    /// Wall-time limit.
    pub timeout: Duration,
    /// Bytes kept of stdout and of stderr.
    pub cap: usize,
    /// Stops the program early.
    pub cancel: CancellationToken,
}

/// Runs `call` to its exit, or kills its process group at the deadline.
pub async fn run(call: &Invocation, bounds: &Bounds) -> Result<Ran, ExecError> {
    let started = Instant::now();
    let program = resolve(&call.argv)?;
    let mut argv = call.argv.clone();
    argv[0] = program.to_string_lossy().into_owned();
    if bounds.cancel.is_cancelled() {
        return Err(error(FailureKind::Cancelled, format!("cancelled before {}", argv[0])));
    }
    let mut command = Command::new(&program);
    command
        .args(&argv[1..])
        .env_clear()
        .env("PATH", DEFAULT_PATH)
        .env("LANG", "C")
        .env("TZ", "UTC")
        .envs(call.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &call.cwd {
        command.current_dir(dir);
    }
    let mut child = command.spawn().map_err(|e| spawn_error(&argv[0], &e))?;
    // Kills the whole group when this call ends or its future is dropped.
    let group = crate::util::ProcessGroup::of(&child);
    let stdout = child.stdout.take().expect("stdout is piped at spawn");
    let stderr = child.stderr.take().expect("stderr is piped at spawn");
    let finished = async {
        let (out, err, status) = tokio::join!(
            read_capped(stdout, bounds.cap),
            read_capped(stderr, bounds.cap),
            child.wait()
        );
        (out, err, status)
    };
    let outcome = tokio::select! {
        biased;
        _ = bounds.cancel.cancelled() => Err(FailureKind::Cancelled),
        _ = tokio::time::sleep(bounds.timeout) => Err(FailureKind::Timeout),
        done = finished => Ok(done),
    };
    match outcome {
        Ok(((out, out_cut), (err, _), Ok(status))) => Ok(Ran {
            argv,
            code: status.code(),
            stdout: out,
            stderr: err,
            stdout_truncated: out_cut,
            duration: started.elapsed(),
        }),
        Ok((_, _, Err(e))) => {
            Err(error(FailureKind::Other, format!("waiting for {}: {e}", argv[0])))
        }
        Err(kind) => {
            if let Some(group) = &group {
                group.kill();
            }
            let _ = tokio::time::timeout(REAP_TIMEOUT, child.wait()).await;
            let what = if kind == FailureKind::Timeout {
                format!(
                    "timed out after {:.1} s; process group killed",
                    bounds.timeout.as_secs_f64()
                )
            } else {
                "cancelled; process group killed".to_string()
            };
            Err(error(kind, format!("{}: {what}", argv[0])))
        }
    }
}

fn error(kind: FailureKind, message: String) -> ExecError {
    ExecError { kind, message }
}

/// The program's path: absolute as given, or a bare name found in [`DEFAULT_PATH`].
fn resolve(argv: &[String]) -> Result<PathBuf, ExecError> {
    let Some(name) = argv.first() else {
        return Err(error(FailureKind::Other, "empty argv".to_string()));
    };
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    DEFAULT_PATH
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            error(FailureKind::NotFound, format!("program {name} not found in {DEFAULT_PATH}"))
        })
}

fn spawn_error(program: &str, e: &std::io::Error) -> ExecError {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            error(FailureKind::NotFound, format!("program {program} not found"))
        }
        std::io::ErrorKind::PermissionDenied => {
            error(FailureKind::Permission, format!("permission denied: cannot run {program}"))
        }
        _ => error(FailureKind::Other, format!("cannot run {program}: {e}")),
    }
}

/// Reads everything, keeping the first `cap` bytes; returns them and whether more came.
async fn read_capped(mut reader: impl AsyncRead + Unpin, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut cut = false;
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let read = match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => return (kept, cut),
            Ok(read) => read,
        };
        let room = cap.saturating_sub(kept.len());
        if read > room {
            cut = true;
        }
        kept.extend_from_slice(&buffer[..read.min(room)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(timeout: Duration) -> Bounds {
        Bounds { timeout, cap: 1024, cancel: CancellationToken::new() }
    }

    #[tokio::test]
    async fn runs_with_a_clean_environment() {
        let call = Invocation::new(vec!["env".into()], &[("A".into(), "1".into())]);
        let ran = run(&call, &bounds(Duration::from_secs(5))).await.expect("env runs");
        let text = String::from_utf8_lossy(&ran.stdout);
        let mut lines: Vec<_> = text.lines().collect();
        lines.sort_unstable();
        assert_eq!(lines, ["A=1", "LANG=C", &format!("PATH={DEFAULT_PATH}"), "TZ=UTC"]);
        assert_eq!(ran.code, Some(0));
        assert_eq!(ran.argv, ["/usr/bin/env"]);
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("grandchild-survived");
        let script = format!("(sleep 1; touch {}) & sleep 30", marker.display());
        let call = Invocation::new(vec!["sh".into(), "-c".into(), script], &[]);
        let started = Instant::now();
        let failure = run(&call, &bounds(Duration::from_millis(300))).await.expect_err("timeout");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(failure.kind, FailureKind::Timeout);
        assert_eq!(failure.message, "/usr/bin/sh: timed out after 0.3 s; process group killed");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!marker.exists(), "a grandchild outlived the deadline");
    }

    #[tokio::test]
    async fn missing_program_and_output_cap() {
        let missing = Invocation::new(vec!["beweis-no-such-tool".into()], &[]);
        let failure = run(&missing, &bounds(Duration::from_secs(5))).await.expect_err("missing");
        assert_eq!(failure.kind, FailureKind::NotFound);
        let big = Invocation::new(
            vec!["head".into(), "-c".into(), "5000".into(), "/dev/zero".into()],
            &[],
        );
        let ran = run(&big, &bounds(Duration::from_secs(5))).await.expect("head runs");
        assert_eq!(ran.stdout.len(), 1024);
        assert!(ran.stdout_truncated);
    }
}
