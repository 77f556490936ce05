//! Shared helpers of the integration tests: a temporary agent home, the beweis binary, a tiny
//! HTTP server on 127.0.0.1, and polling with a deadline.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A temporary directory holding a config file and a state directory.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn state(&self) -> PathBuf {
        self.path("state")
    }

    pub fn config(&self) -> PathBuf {
        self.path("beweis.toml")
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write file");
        path
    }

    /// A `beweis` command with `--config` and `--state-dir` set.
    pub fn beweis(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_beweis"));
        command
            .arg("--config")
            .arg(self.config())
            .arg("--state-dir")
            .arg(self.state())
            .args(args)
            .env("BEWEIS_LOG", "warn")
            .stdin(Stdio::null());
        command
    }

    /// Runs `beweis` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.beweis(args).output().expect("run beweis")
    }

    /// Runs `beweis ... --json` and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "beweis {args:?} failed: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!("beweis {args:?}: bad JSON ({e}): {}", String::from_utf8_lossy(&output.stdout))
        })
    }

    /// Starts the daemon; killed when the returned guard drops.
    pub fn daemon(&self) -> Daemon {
        let child = self
            .beweis(&["daemon"])
            .env("BEWEIS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(self.path("daemon.log")).expect("log")))
            .spawn()
            .expect("spawn daemon");
        let socket = self.state().join("control.sock");
        wait_for("daemon control socket", Duration::from_secs(30), || socket.exists());
        Daemon { child }
    }

    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
    }
}

/// A running daemon; SIGKILLed on drop if still running.
pub struct Daemon {
    pub child: Child,
}

impl Daemon {
    /// Sends a signal by name (`TERM`, `HUP`) with kill(1), argv only.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill(1) is needed to signal the daemon");
        assert!(status.success(), "kill -{name} failed");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` until it holds, panicking with `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1 answering every request with `response`.
pub struct HttpServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl HttpServer {
    pub fn start(response: &'static str) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 4096];
                        let _ = stream.read(&mut buf);
                        let _ = stream.write_all(response.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        HttpServer { port, stop }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Text of a process's stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Text of a process's stdout.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
