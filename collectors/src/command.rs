//! The `command` collector: runs one program from an argv list and reports what it returned.
//!
//! It owns starting the program (never through a shell), with a cleared environment, null
//! stdin and the run's timeout; reading stdout and stderr concurrently under a byte cap while
//! hashing all of it; and turning stdout into named facts by regex or JSON pointer. Raw output
//! never enters the facts, only digests and the selected values, because output may hold
//! secrets. A program that runs and exits non-zero is an observation (the exit code is a fact);
//! one that cannot be started, or does not finish in time, is a failure.
//!
//! It does not judge exit codes or values; checks in the agent do. Neighbours: the contract in
//! the crate root, the capped sink in `util`.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use regex::Regex;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use crate::util::ProcessGroup;
use crate::util::{compile_regex_table, millis, seconds_text, CappedSink, Captured};
use crate::{Collection, Context, Custody, FailureKind, Observation, ParamError};

/// The `PATH` a program gets unless the instance's `env` sets one; also where bare program
/// names are looked up.
pub const DEFAULT_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// The default cap on stdout and on stderr, each: 1 MiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 1024 * 1024;

/// Raw parameters of a `command` instance, as written in its `params` table.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// The program and its arguments; the program is an absolute path or a bare name looked up
    /// in the child's `PATH`. No shell is involved.
    pub argv: Vec<String>,
    /// The most bytes kept of stdout and of stderr, each; the rest is counted and hashed, then
    /// discarded. Default 1 MiB, never more than the run's byte budget.
    pub max_output_bytes: Option<u64>,
    /// Named regexes over stdout; each fact is the first capture group (or the whole match) of
    /// the first match, or null.
    #[serde(default)]
    pub regex: BTreeMap<String, String>,
    /// Named JSON pointers into stdout parsed as JSON; each fact is the value there, or null.
    #[serde(default)]
    pub json: BTreeMap<String, String>,
    /// Extra environment variables; the child otherwise gets only `PATH` and `LANG=C`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The working directory, absolute; default: the agent's.
    pub cwd: Option<String>,
}

/// Validated settings of a `command` instance.
#[derive(Clone)]
pub struct CommandSettings {
    argv: Vec<String>,
    max_output_bytes: u64,
    regex: BTreeMap<String, Regex>,
    json: BTreeMap<String, String>,
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
}

impl CommandConfig {
    /// Checks every parameter and returns the validated settings.
    ///
    /// # Errors
    ///
    /// Every problem found, not just the first, each naming its key (e.g. `json.version`).
    pub fn validate(self) -> Result<CommandSettings, Vec<ParamError>> {
        let mut errors = Vec::new();
        validate_argv(&self.argv, &mut errors);
        if self.max_output_bytes == Some(0) {
            errors.push(ParamError::new("max_output_bytes", "must be greater than 0"));
        }
        let regex = compile_regex_table("regex", self.regex, &mut errors);
        validate_json(&self.json, &regex, &mut errors);
        validate_env(&self.env, &mut errors);
        let cwd = self.cwd.map(PathBuf::from);
        if cwd.as_deref().is_some_and(|dir| !dir.is_absolute()) {
            errors.push(ParamError::new("cwd", "must be an absolute path"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(CommandSettings {
            argv: self.argv,
            max_output_bytes: self.max_output_bytes.unwrap_or(DEFAULT_MAX_OUTPUT_BYTES),
            regex,
            json: self.json,
            env: self.env,
            cwd,
        })
    }
}

/// Runs the program once; one observation if it ran to an exit, else one failure.
pub async fn collect(settings: &CommandSettings, ctx: &Context) -> Collection {
    let subject = settings.argv.join(" ");
    let started = Instant::now();
    let mut collection = Collection::default();
    match run(settings, ctx).await {
        Ok(ran) => {
            let observation = observe(subject, settings, ran, ctx, started.elapsed());
            collection.observations.push(observation);
        }
        Err(failure) => collection.fail(subject, failure.kind, failure.message),
    }
    collection
}

// Manual impls: `env` may hold secrets, so only its keys are shown.
impl fmt::Debug for CommandConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandConfig")
            .field("argv", &self.argv)
            .field("max_output_bytes", &self.max_output_bytes)
            .field("regex", &self.regex)
            .field("json", &self.json)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .finish()
    }
}

impl fmt::Debug for CommandSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandSettings")
            .field("argv", &self.argv)
            .field("max_output_bytes", &self.max_output_bytes)
            .field("regex", &self.regex)
            .field("json", &self.json)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .finish()
    }
}

/// How long to wait for a killed child to be reaped.
const REAP_TIMEOUT: Duration = Duration::from_secs(2);

/// The size of one read from a pipe.
const PIPE_CHUNK_BYTES: usize = 16 * 1024;

fn validate_argv(argv: &[String], errors: &mut Vec<ParamError>) {
    let Some(program) = argv.first() else {
        errors.push(ParamError::new("argv", "must name a program"));
        return;
    };
    if program.is_empty() {
        errors.push(ParamError::new("argv[0]", "must not be empty"));
    } else if program.contains('/') && !program.starts_with('/') {
        let message = format!("{program} must be an absolute path or a bare program name");
        errors.push(ParamError::new("argv[0]", message));
    }
    for (index, arg) in argv.iter().enumerate() {
        if arg.contains('\0') {
            errors.push(ParamError::new(format!("argv[{index}]"), "must not contain a nul byte"));
        }
    }
}

fn validate_json(
    pointers: &BTreeMap<String, String>,
    regex: &BTreeMap<String, Regex>,
    errors: &mut Vec<ParamError>,
) {
    for (name, pointer) in pointers {
        let key = format!("json.{name}");
        if name.is_empty() {
            errors.push(ParamError::new(key, "name must not be empty"));
        } else if !pointer.is_empty() && !pointer.starts_with('/') {
            let message = format!("json pointer {pointer} must be empty or start with /");
            errors.push(ParamError::new(key, message));
        } else if regex.contains_key(name) {
            errors.push(ParamError::new(key, "name is also used under regex"));
        }
    }
}

fn validate_env(env: &BTreeMap<String, String>, errors: &mut Vec<ParamError>) {
    for (name, value) in env {
        let key = format!("env.{name}");
        if name.is_empty() || name.contains(['=', '\0']) {
            errors.push(ParamError::new(key, "name must be non-empty without = or nul bytes"));
        } else if value.contains('\0') {
            errors.push(ParamError::new(key, "value must not contain a nul byte"));
        }
    }
}

/// Why the program did not run to an exit.
#[derive(Debug)]
struct Failure {
    kind: FailureKind,
    message: String,
}

impl Failure {
    fn new(kind: FailureKind, message: String) -> Failure {
        Failure { kind, message }
    }
}

/// A program that ran to an exit.
struct Ran {
    argv: Vec<String>,
    status: ExitStatus,
    stdout: Captured,
    stderr: Captured,
}

/// How the wait for the program ended.
enum Waited {
    Exited(io::Result<(Captured, Captured, ExitStatus)>),
    TimedOut,
    Cancelled,
}

async fn run(settings: &CommandSettings, ctx: &Context) -> Result<Ran, Failure> {
    if ctx.cancel.is_cancelled() {
        return Err(Failure::new(FailureKind::Cancelled, "cancelled before start".into()));
    }
    let search_path = settings.env.get("PATH").map_or(DEFAULT_PATH, String::as_str);
    let program = resolve_program(&settings.argv[0], search_path).await?;
    if let Some(dir) = &settings.cwd {
        check_cwd(dir).await?;
    }
    let mut child = spawn(settings, &program)?;
    let Some(group) = ProcessGroup::of(&child) else {
        return Err(Failure::new(FailureKind::Other, "spawned program has no pid".into()));
    };
    let cap = settings.max_output_bytes.min(ctx.limits.max_read_bytes);
    let waited = wait_capped(&mut child, cap, ctx, &group).await;
    let (stdout, stderr, status) = match waited {
        Waited::Exited(Ok(exited)) => exited,
        Waited::Exited(Err(error)) => {
            reap(&mut child, &group).await;
            let message = format!("cannot read output of {}: {error}", program.display());
            return Err(Failure::new(FailureKind::Other, message));
        }
        Waited::TimedOut => {
            reap(&mut child, &group).await;
            let secs = seconds_text(ctx.timeout);
            let message = format!("timed out after {secs} s; process killed");
            return Err(Failure::new(FailureKind::Timeout, message));
        }
        Waited::Cancelled => {
            reap(&mut child, &group).await;
            return Err(Failure::new(FailureKind::Cancelled, "cancelled; process killed".into()));
        }
    };
    let mut argv = settings.argv.clone();
    argv[0] = program.to_string_lossy().into_owned();
    Ok(Ran { argv, status, stdout, stderr })
}

/// Finds a bare program name in `search_path`; absolute paths are used as given.
async fn resolve_program(name: &str, search_path: &str) -> Result<PathBuf, Failure> {
    if name.starts_with('/') {
        return Ok(PathBuf::from(name));
    }
    let mut not_executable = None;
    // Relative and empty PATH entries are ignored: the agent's directory is never searched.
    for dir in search_path.split(':').filter(|dir| dir.starts_with('/')) {
        let candidate = Path::new(dir).join(name);
        match tokio::fs::metadata(&candidate).await {
            Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => {
                return Ok(candidate);
            }
            Ok(meta) if meta.is_file() => {
                not_executable.get_or_insert(candidate);
            }
            _ => {}
        }
    }
    match not_executable {
        Some(path) => {
            let message = format!("{} is not executable", path.display());
            Err(Failure::new(FailureKind::Permission, message))
        }
        None => {
            let message = format!("program {name} not found in PATH {search_path}");
            Err(Failure::new(FailureKind::NotFound, message))
        }
    }
}

async fn check_cwd(dir: &Path) -> Result<(), Failure> {
    match tokio::fs::metadata(dir).await {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => {
            let message = format!("working directory {} is not a directory", dir.display());
            Err(Failure::new(FailureKind::NotFound, message))
        }
        Err(error) => Err(io_failure(&format!("use working directory {}", dir.display()), &error)),
    }
}

fn spawn(settings: &CommandSettings, program: &Path) -> Result<Child, Failure> {
    let mut command = Command::new(program);
    command
        .args(&settings.argv[1..])
        .env_clear()
        .env("PATH", DEFAULT_PATH)
        .env("LANG", "C")
        .envs(&settings.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so that a timeout kills what the program started, too.
        .process_group(0);
    if let Some(dir) = &settings.cwd {
        command.current_dir(dir);
    }
    command.spawn().map_err(|error| io_failure(&format!("run {}", program.display()), &error))
}

fn io_failure(action: &str, error: &io::Error) -> Failure {
    match error.kind() {
        io::ErrorKind::NotFound => {
            Failure::new(FailureKind::NotFound, format!("cannot {action}: not found"))
        }
        io::ErrorKind::PermissionDenied => {
            Failure::new(FailureKind::Permission, format!("permission denied: cannot {action}"))
        }
        _ => Failure::new(FailureKind::Other, format!("cannot {action}: {error}")),
    }
}

/// How long a program's descendants may keep its pipes open after it exited.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

/// Waits for exit while draining both pipes, bounded by the run's timeout and cancellation.
/// When the program exits but a descendant keeps its output open, the group is killed after
/// [`DRAIN_AFTER_EXIT`] so that the run does not wait for the timeout.
async fn wait_capped(child: &mut Child, cap: u64, ctx: &Context, group: &ProcessGroup) -> Waited {
    let stdout = child.stdout.take().expect("stdout is piped at spawn");
    let stderr = child.stderr.take().expect("stderr is piped at spawn");
    let out = tokio::spawn(read_capped(stdout, cap));
    let err = tokio::spawn(read_capped(stderr, cap));
    let status = tokio::select! {
        biased;
        _ = ctx.cancel.cancelled() => return Waited::Cancelled,
        _ = tokio::time::sleep(ctx.timeout) => return Waited::TimedOut,
        status = child.wait() => status,
    };
    let mut readers = Box::pin(async { (out.await, err.await) });
    let (out, err) = match tokio::time::timeout(DRAIN_AFTER_EXIT, &mut readers).await {
        Ok(done) => done,
        Err(_) => {
            group.kill();
            match tokio::time::timeout(REAP_TIMEOUT, readers).await {
                Ok(done) => done,
                Err(_) => return Waited::TimedOut,
            }
        }
    };
    let joined = |r: Result<io::Result<Captured>, tokio::task::JoinError>| {
        r.map_err(|e| io::Error::other(format!("output reader failed: {e}")))?
    };
    Waited::Exited((|| Ok((joined(out)?, joined(err)?, status?)))())
}

/// Kills the child's process group and reaps the child, bounded in time.
async fn reap(child: &mut Child, group: &ProcessGroup) {
    group.kill();
    // The child may have exited already; then there is nothing to kill.
    let _ = child.start_kill();
    let _ = tokio::time::timeout(REAP_TIMEOUT, child.wait()).await;
}

async fn read_capped(mut reader: impl AsyncRead + Unpin, cap: u64) -> io::Result<Captured> {
    let mut sink = CappedSink::new(cap);
    let mut buffer = vec![0_u8; PIPE_CHUNK_BYTES];
    loop {
        let read = reader.read(&mut buffer).await?;
        if read == 0 {
            return Ok(sink.finish());
        }
        sink.push(&buffer[..read]);
    }
}

fn observe(
    subject: String,
    settings: &CommandSettings,
    ran: Ran,
    ctx: &Context,
    elapsed: Duration,
) -> Observation {
    let mut facts = Map::new();
    facts.insert("exit_code".into(), json!(ran.status.code()));
    facts.insert("signal".into(), json!(ran.status.signal()));
    facts.insert("stdout_sha256".into(), json!(ran.stdout.sha256));
    facts.insert("stdout_bytes".into(), json!(ran.stdout.total));
    facts.insert("truncated".into(), json!(ran.stdout.truncated));
    facts.insert("stderr_sha256".into(), json!(ran.stderr.sha256));
    facts.insert("stderr_bytes".into(), json!(ran.stderr.total));
    facts.insert("stderr_truncated".into(), json!(ran.stderr.truncated));
    let (selected, json_error) = output_facts(settings, &ran.stdout.kept);
    facts.insert("facts".into(), Value::Object(selected));
    if let Some(error) = json_error {
        facts.insert("json_error".into(), Value::String(error));
    }
    let custody = Custody {
        argv: Some(ran.argv),
        exit_code: ran.status.code(),
        duration_ms: millis(elapsed),
        tool_version: None,
    };
    Observation {
        subject,
        collected_at: ctx.now,
        effective_at: None,
        facts: Value::Object(facts),
        custody,
    }
}

/// The regex and JSON facts drawn from the kept part of stdout, and a JSON parse error.
fn output_facts(settings: &CommandSettings, stdout: &[u8]) -> (Map<String, Value>, Option<String>) {
    let text = String::from_utf8_lossy(stdout);
    let mut facts: Map<String, Value> = settings
        .regex
        .iter()
        .map(|(name, regex)| (name.clone(), regex_fact(regex, &text)))
        .collect();
    if settings.json.is_empty() {
        return (facts, None);
    }
    let parsed = serde_json::from_slice::<Value>(stdout);
    for (name, pointer) in &settings.json {
        let value = parsed.as_ref().ok().and_then(|doc| doc.pointer(pointer)).cloned();
        facts.insert(name.clone(), value.unwrap_or(Value::Null));
    }
    let error = parsed.err().map(|error| format!("stdout is not json: {error}"));
    (facts, error)
}

fn regex_fact(regex: &Regex, text: &str) -> Value {
    let Some(caps) = regex.captures(text) else {
        return Value::Null;
    };
    let found = caps.get(1).or_else(|| caps.get(0));
    found.map_or(Value::Null, |m| Value::String(m.as_str().to_string()))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::Limits;

    fn ctx(timeout: Duration) -> Context {
        Context {
            now: Utc::now(),
            timeout,
            cancel: CancellationToken::new(),
            limits: Limits::default(),
            previous: Default::default(),
        }
    }

    fn settings(params: Value) -> CommandSettings {
        let config: CommandConfig =
            serde_json::from_value(params).expect("test params deserialize");
        config.validate().expect("test params are valid")
    }

    async fn run_params(params: Value) -> Collection {
        collect(&settings(params), &ctx(Duration::from_secs(10))).await
    }

    fn only_observation(collection: &Collection) -> &Observation {
        assert!(collection.failures.is_empty(), "{:?}", collection.failures);
        assert_eq!(collection.observations.len(), 1);
        &collection.observations[0]
    }

    #[tokio::test]
    async fn echo_records_digest_not_output() {
        let collection = run_params(json!({ "argv": ["/bin/echo", "hello", "world"] })).await;
        let observation = only_observation(&collection);
        assert_eq!(observation.subject, "/bin/echo hello world");
        let facts = &observation.facts;
        assert_eq!(facts["exit_code"], 0);
        assert_eq!(facts["signal"], Value::Null);
        assert_eq!(facts["stdout_bytes"], 12);
        assert_eq!(facts["truncated"], false);
        // sha256 of "hello world\n"
        assert_eq!(
            facts["stdout_sha256"],
            "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"
        );
        // sha256 of the empty string
        assert_eq!(
            facts["stderr_sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(facts["facts"], json!({}));
        assert!(!facts.to_string().contains("hello"), "raw output leaked into facts");
        let custody = &observation.custody;
        assert_eq!(custody.argv, Some(vec!["/bin/echo".into(), "hello".into(), "world".into()]));
        assert_eq!(custody.exit_code, Some(0));
    }

    #[tokio::test]
    async fn nonzero_exit_is_an_observation_and_bare_names_resolve() {
        let collection = run_params(json!({ "argv": ["sh", "-c", "exit 3"] })).await;
        let observation = only_observation(&collection);
        assert_eq!(observation.subject, "sh -c exit 3");
        assert_eq!(observation.facts["exit_code"], 3);
        assert_eq!(observation.custody.exit_code, Some(3));
        let argv = observation.custody.argv.as_ref().expect("argv in custody");
        assert!(argv[0].starts_with('/') && argv[0].ends_with("/sh"), "{}", argv[0]);
    }

    #[tokio::test]
    async fn killed_by_signal_has_no_exit_code() {
        let collection = run_params(json!({ "argv": ["sh", "-c", "kill -9 $$"] })).await;
        let facts = &only_observation(&collection).facts;
        assert_eq!(facts["exit_code"], Value::Null);
        assert_eq!(facts["signal"], 9);
    }

    #[tokio::test]
    async fn timeout_kills_the_program_promptly() {
        let settings = settings(json!({ "argv": ["sleep", "5"] }));
        let started = Instant::now();
        let collection = collect(&settings, &ctx(Duration::from_millis(200))).await;
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
        assert!(collection.observations.is_empty());
        let failure = &collection.failures[0];
        assert_eq!(failure.kind, FailureKind::Timeout);
        assert_eq!(failure.subject, "sleep 5");
        assert_eq!(failure.message, "timed out after 0.2 s; process killed");
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().expect("temp dir");
        let marker = dir.path().join("grandchild-survived");
        // The shell starts a grandchild that would write the marker after 1.5 s.
        let script = format!("(sleep 1.5; echo alive > {}) & wait", marker.display());
        let settings = settings(json!({ "argv": ["sh", "-c", script] }));
        let collection = collect(&settings, &ctx(Duration::from_millis(200))).await;
        assert_eq!(collection.failures[0].kind, FailureKind::Timeout);
        tokio::time::sleep(Duration::from_millis(2000)).await;
        assert!(!marker.exists(), "a process started by the command outlived its timeout");
    }

    #[tokio::test]
    async fn a_descendant_holding_the_output_open_is_killed_after_exit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let marker = dir.path().join("orphan-survived");
        let script = format!("(sleep 2; echo alive > {}) & echo started", marker.display());
        let settings = settings(json!({ "argv": ["sh", "-c", script] }));
        let started = Instant::now();
        let collection = collect(&settings, &ctx(Duration::from_secs(20))).await;
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
        assert!(collection.failures.is_empty(), "{:?}", collection.failures);
        assert_eq!(collection.observations[0].facts["exit_code"], 0);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(!marker.exists(), "a process started by the command outlived it");
    }

    #[tokio::test]
    async fn dropping_the_collection_kills_the_group() {
        let dir = tempfile::tempdir().expect("temp dir");
        let marker = dir.path().join("survived-drop");
        let script = format!("(sleep 1.5; echo alive > {}) & wait", marker.display());
        let settings = settings(json!({ "argv": ["sh", "-c", script] }));
        let context = ctx(Duration::from_secs(20));
        let dropped =
            tokio::time::timeout(Duration::from_millis(300), collect(&settings, &context));
        assert!(dropped.await.is_err(), "the outer timeout must fire first");
        tokio::time::sleep(Duration::from_millis(2000)).await;
        assert!(!marker.exists(), "dropping the future must kill the process group");
    }

    #[tokio::test]
    async fn missing_programs_are_not_found() {
        let bare = run_params(json!({ "argv": ["beweis-no-such-program"] })).await;
        assert_eq!(bare.failures[0].kind, FailureKind::NotFound);
        assert!(bare.failures[0].message.contains("beweis-no-such-program"));
        let absolute = run_params(json!({ "argv": ["/nonexistent/beweis-prog"] })).await;
        assert_eq!(absolute.failures[0].kind, FailureKind::NotFound);
        assert_eq!(absolute.failures[0].message, "cannot run /nonexistent/beweis-prog: not found");
    }

    #[tokio::test]
    async fn non_executable_program_is_a_permission_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("tool");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").expect("write script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let absolute = run_params(json!({ "argv": [script] })).await;
        assert_eq!(absolute.failures[0].kind, FailureKind::Permission);
        let path = dir.path().to_string_lossy();
        let bare = run_params(json!({ "argv": ["tool"], "env": { "PATH": path } })).await;
        assert_eq!(bare.failures[0].kind, FailureKind::Permission);
        assert!(bare.failures[0].message.ends_with("tool is not executable"));
    }

    #[tokio::test]
    async fn regex_and_json_facts_from_stdout() {
        let params = json!({
            "argv": ["/bin/echo", "{\"version\":\"1.2.3\",\"items\":[1,2]}"],
            "regex": { "ver": "\"version\":\"([0-9.]+)\"", "word": "items", "none": "zzz" },
            "json": { "version": "/version", "second": "/items/1", "missing": "/nope" },
        });
        let collection = run_params(params).await;
        let facts = &only_observation(&collection).facts;
        let expected = json!({
            "ver": "1.2.3", "word": "items", "none": null,
            "version": "1.2.3", "second": 2, "missing": null,
        });
        assert_eq!(facts["facts"], expected);
        assert_eq!(facts.get("json_error"), None);
    }

    #[tokio::test]
    async fn invalid_json_is_a_fact_of_the_run() {
        let params = json!({
            "argv": ["sh", "-c", "echo not json; exit 1"],
            "json": { "version": "/version" },
            "regex": { "word": "(json)" },
        });
        let collection = run_params(params).await;
        let facts = &only_observation(&collection).facts;
        assert_eq!(facts["exit_code"], 1);
        assert_eq!(facts["facts"], json!({ "version": null, "word": "json" }));
        let error = facts["json_error"].as_str().expect("json_error is a string");
        assert!(error.starts_with("stdout is not json: "), "{error}");
    }

    #[tokio::test]
    async fn output_cap_counts_and_hashes_everything() {
        let params = json!({
            "argv": ["head", "-c", "5000", "/dev/zero"],
            "max_output_bytes": 100,
            "regex": { "all": "(?s)^(.*)$" },
        });
        let collection = run_params(params).await;
        let facts = &only_observation(&collection).facts;
        assert_eq!(facts["truncated"], true);
        assert_eq!(facts["stdout_bytes"], 5000);
        // sha256 of 5000 zero bytes
        assert_eq!(
            facts["stdout_sha256"],
            "7ca5bd879f393d9dd05b14f38add9c0fc6b67928f7f2d261b2e47a32ee8219e3"
        );
        let kept = facts["facts"]["all"].as_str().expect("regex fact");
        assert_eq!(kept.len(), 100);
    }

    #[tokio::test]
    async fn environment_is_cleared_and_cwd_applied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let env_params = json!({
            "argv": ["env"],
            "env": { "BEWEIS_TEST": "1" },
            "regex": {
                "path": "(?m)^PATH=(.*)$", "lang": "(?m)^LANG=(.*)$",
                "home": "(?m)^HOME=(.*)$", "extra": "(?m)^BEWEIS_TEST=(.*)$",
            },
        });
        let collection = run_params(env_params).await;
        let expected = json!({ "path": DEFAULT_PATH, "lang": "C", "home": null, "extra": "1" });
        assert_eq!(only_observation(&collection).facts["facts"], expected);

        let pwd_params = json!({ "argv": ["pwd"], "cwd": dir.path(), "regex": { "dir": "(.+)" } });
        let collection = run_params(pwd_params).await;
        let dir_text = dir.path().to_string_lossy();
        assert_eq!(only_observation(&collection).facts["facts"]["dir"], *dir_text);
    }

    #[tokio::test]
    async fn cancelled_run_does_not_start() {
        let ctx = ctx(Duration::from_secs(10));
        ctx.cancel.cancel();
        let collection = collect(&settings(json!({ "argv": ["/bin/echo"] })), &ctx).await;
        assert_eq!(collection.failures[0].kind, FailureKind::Cancelled);
    }

    #[test]
    fn validation_reports_every_error_by_key() {
        let config: CommandConfig = serde_json::from_value(json!({
            "argv": ["bin/tool", "a\u{0}b"],
            "max_output_bytes": 0,
            "regex": { "v": "(" , "dup": "x" },
            "json": { "p": "version", "dup": "/x" },
            "env": { "A=B": "x" },
            "cwd": "relative",
        }))
        .expect("deserialize");
        let errors = config.validate().expect_err("invalid params");
        let keys: Vec<_> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "argv[0]",
                "argv[1]",
                "max_output_bytes",
                "regex.v",
                "json.dup",
                "json.p",
                "env.A=B",
                "cwd"
            ]
        );
        let empty: CommandConfig = serde_json::from_value(json!({ "argv": [] })).expect("parse");
        assert_eq!(empty.validate().expect_err("empty")[0].key, "argv");
    }

    #[test]
    fn debug_output_hides_env_values() {
        let settings = settings(json!({ "argv": ["true"], "env": { "TOKEN": "s3cret" } }));
        let shown = format!("{settings:?}");
        assert!(shown.contains("TOKEN") && !shown.contains("s3cret"), "{shown}");
    }
}
