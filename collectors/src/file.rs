//! The `file` collector: presence, metadata, digest, regex facts and review date of files.
//!
//! It owns turning configured paths and glob patterns into one observation per file: whether it
//! exists, its permission bits, owner, modification time, SHA-256 of the whole content
//! (streamed, never held in memory), whether named regexes match any line, and the date the
//! document says it was last reviewed. Absence is a fact, not a failure; only what keeps a
//! subject from being observed (permission, timeout, cancellation) becomes a
//! [`SubjectFailure`](crate::SubjectFailure).
//!
//! It does not judge: whether a policy is too old or a setting is wrong is decided by checks in
//! the agent. Blocking file-system work runs on tokio's blocking pool and stops at the run's
//! deadline or cancellation. Neighbours: the contract in the crate root, helpers in `util`.

use std::collections::BTreeMap;
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use regex::Regex;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use crate::util::{
    compile_regex, compile_regex_table, millis, rfc3339, seconds_text, CappedSink, Captured,
};
use crate::{Collection, Context, Custody, FailureKind, Observation, ParamError};

/// Raw parameters of a `file` instance, as written in its `params` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Absolute paths or glob patterns (`*`, `?`, `[…]`) of the files to observe; at least one.
    pub paths: Vec<String>,
    /// Named regexes; each becomes the fact `matches.<name>`: whether any line matches.
    #[serde(default)]
    pub patterns: BTreeMap<String, String>,
    /// A regex whose first capture group holds the review date as `YYYY-MM-DD`. Without it,
    /// the date comes from a leading front-matter block (`reviewed:` or `last_reviewed:`) or a
    /// line such as `Reviewed: 2026-01-31`.
    pub reviewed_pattern: Option<String>,
    /// The most bytes of each file searched for patterns and the review date; the digest always
    /// covers the whole file. Default: the run's byte budget.
    pub max_bytes: Option<u64>,
    /// Whether to open and hash the files (default true). `false` reports metadata only (mode,
    /// owner, size, times), which needs no read permission: the way to observe `/etc/shadow`'s
    /// mode as an unprivileged agent.
    #[serde(default = "default_true")]
    pub content: bool,
}

fn default_true() -> bool {
    true
}

/// Validated settings of a `file` instance.
#[derive(Debug, Clone)]
pub struct FileSettings {
    targets: Vec<Target>,
    rules: Arc<ContentRules>,
}

impl FileConfig {
    /// Checks every parameter and returns the validated settings.
    ///
    /// # Errors
    ///
    /// Every problem found, not just the first, each naming its key (e.g. `patterns.no_root`).
    pub fn validate(self) -> Result<FileSettings, Vec<ParamError>> {
        let mut errors = Vec::new();
        let targets = validate_paths(&self.paths, &mut errors);
        let patterns = compile_regex_table("patterns", self.patterns, &mut errors);
        let reviewed = match self.reviewed_pattern {
            None => ReviewRule::Default,
            Some(source) => validate_reviewed_pattern(&source, &mut errors),
        };
        if self.max_bytes == Some(0) {
            errors.push(ParamError::new("max_bytes", "must be greater than 0"));
        }
        if !self.content && !(patterns.is_empty() && matches!(reviewed, ReviewRule::Default)) {
            let message = "patterns and reviewed_pattern need the content: remove content = false";
            errors.push(ParamError::new("content", message));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let rules =
            ContentRules { patterns, reviewed, max_bytes: self.max_bytes, content: self.content };
        Ok(FileSettings { targets, rules: Arc::new(rules) })
    }
}

/// Observes every configured path and glob; one observation per file found or missing.
pub async fn collect(settings: &FileSettings, ctx: &Context) -> Collection {
    let budget = Budget::new(ctx);
    let cap = settings.rules.max_bytes.unwrap_or(ctx.limits.max_read_bytes);
    let mut run = FileRun { ctx, budget, cap, rules: &settings.rules, out: Collection::default() };
    for target in &settings.targets {
        match target {
            Target::Literal(path) => {
                run.observe(path, Origin::Literal).await;
            }
            Target::Glob(pattern) => run.observe_glob(pattern).await,
        }
    }
    run.out
}

/// The largest number of paths one glob may expand to; the rest are reported, not observed.
const MAX_GLOB_MATCHES: usize = 10_000;

/// The size of one read while hashing.
const CHUNK_BYTES: usize = 64 * 1024;

/// One configured path: a literal path or a glob pattern.
#[derive(Debug, Clone)]
enum Target {
    Literal(PathBuf),
    Glob(String),
}

/// What is looked for inside each file.
#[derive(Debug, Clone)]
struct ContentRules {
    patterns: BTreeMap<String, Regex>,
    reviewed: ReviewRule,
    max_bytes: Option<u64>,
    /// Whether regular files are opened and hashed.
    content: bool,
}

/// How the review date is found.
#[derive(Debug, Clone)]
enum ReviewRule {
    /// Front matter, then a `Reviewed: YYYY-MM-DD` line.
    Default,
    /// The first capture group of a configured regex.
    Pattern(Regex),
}

/// Whether a path was configured literally or found by a glob; directories count only when
/// configured literally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Literal,
    Glob,
}

fn validate_paths(paths: &[String], errors: &mut Vec<ParamError>) -> Vec<Target> {
    if paths.is_empty() {
        errors.push(ParamError::new("paths", "must list at least one path"));
    }
    let mut targets = Vec::new();
    for (index, raw) in paths.iter().enumerate() {
        match validate_path(raw) {
            Ok(target) => targets.push(target),
            Err(message) => errors.push(ParamError::new(format!("paths[{index}]"), message)),
        }
    }
    targets
}

fn validate_path(raw: &str) -> Result<Target, String> {
    if raw.contains('\0') {
        return Err("must not contain a nul byte".to_string());
    }
    if !Path::new(raw).is_absolute() {
        return Err(format!("{raw} is not an absolute path"));
    }
    if !raw.contains(['*', '?', '[']) {
        return Ok(Target::Literal(PathBuf::from(raw)));
    }
    glob::Pattern::new(raw)
        .map(|_| Target::Glob(raw.to_string()))
        .map_err(|error| format!("invalid glob pattern {raw}: {}", error.msg))
}

fn validate_reviewed_pattern(source: &str, errors: &mut Vec<ParamError>) -> ReviewRule {
    match compile_regex("reviewed_pattern", source) {
        Ok(regex) if regex.captures_len() >= 2 => return ReviewRule::Pattern(regex),
        Ok(_) => errors.push(ParamError::new(
            "reviewed_pattern",
            "needs a capture group around the YYYY-MM-DD date",
        )),
        Err(error) => errors.push(error),
    }
    ReviewRule::Default
}

/// State of one collection.
struct FileRun<'a> {
    ctx: &'a Context,
    budget: Budget,
    cap: u64,
    rules: &'a Arc<ContentRules>,
    out: Collection,
}

impl FileRun<'_> {
    /// Observes one path; returns whether it was a file or directory that counted.
    async fn observe(&mut self, path: &Path, origin: Origin) -> bool {
        let subject = path.to_string_lossy().into_owned();
        let started = Instant::now();
        let owned = path.to_path_buf();
        let rules = Arc::clone(self.rules);
        let cap = self.cap;
        let result =
            self.budget.run(move |cancel| inspect(&owned, origin, &rules, cap, cancel)).await;
        match result {
            Ok(Inspected::Seen { facts, effective_at }) => {
                self.push(subject, facts, effective_at, started);
                true
            }
            Ok(Inspected::SkippedDir) => false,
            Ok(Inspected::Failed(kind, message)) => {
                self.out.fail(subject, kind, message);
                true
            }
            Err(stop) => {
                let (kind, message) = stop.describe(&subject, self.budget.timeout);
                self.out.fail(subject, kind, message);
                true
            }
        }
    }

    async fn observe_glob(&mut self, pattern: &str) {
        let started = Instant::now();
        let owned = pattern.to_string();
        let expansion = match self.budget.run(move |cancel| expand_glob(&owned, cancel)).await {
            Ok(expansion) => expansion,
            Err(stop) => {
                let (kind, message) = stop.describe(pattern, self.budget.timeout);
                self.out.fail(pattern, kind, message);
                return;
            }
        };
        for (subject, kind, message) in &expansion.failures {
            self.out.fail(subject.clone(), *kind, message.clone());
        }
        let mut counted = 0;
        for path in &expansion.paths {
            if self.observe(path, Origin::Glob).await {
                counted += 1;
            }
        }
        if counted == 0 && expansion.failures.is_empty() && !self.budget.cancel.is_cancelled() {
            let facts = json!({ "exists": false, "matched": 0 });
            self.push(pattern.to_string(), facts, None, started);
        }
    }

    fn push(
        &mut self,
        subject: String,
        facts: Value,
        effective_at: Option<DateTime<Utc>>,
        started: Instant,
    ) {
        let custody = Custody { duration_ms: millis(started.elapsed()), ..Custody::default() };
        self.out.observations.push(Observation {
            subject,
            collected_at: self.ctx.now,
            effective_at,
            facts,
            custody,
        });
    }
}

/// The run's deadline and cancellation, applied to each blocking step.
struct Budget {
    deadline: tokio::time::Instant,
    timeout: Duration,
    cancel: CancellationToken,
}

/// Why a blocking step did not finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Timeout,
    Cancelled,
    Crashed,
}

impl Budget {
    fn new(ctx: &Context) -> Budget {
        let deadline = tokio::time::Instant::now() + ctx.timeout;
        Budget { deadline, timeout: ctx.timeout, cancel: ctx.cancel.clone() }
    }

    /// Runs `work` on the blocking pool; on deadline or cancellation, signals it to stop and
    /// returns without waiting for it.
    async fn run<T, F>(&self, work: F) -> Result<T, Stop>
    where
        F: FnOnce(&CancellationToken) -> T + Send + 'static,
        T: Send + 'static,
    {
        if self.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        let token = self.cancel.child_token();
        let inner = token.clone();
        let task = tokio::task::spawn_blocking(move || work(&inner));
        let _stop_when_done = token.drop_guard();
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(Stop::Cancelled),
            _ = tokio::time::sleep_until(self.deadline) => Err(Stop::Timeout),
            joined = task => joined.map_err(|_| Stop::Crashed),
        }
    }
}

impl Stop {
    fn describe(self, subject: &str, timeout: Duration) -> (FailureKind, String) {
        match self {
            Stop::Timeout => (
                FailureKind::Timeout,
                format!("{subject} not read: timed out after {} s", seconds_text(timeout)),
            ),
            Stop::Cancelled => (FailureKind::Cancelled, format!("{subject} not read: cancelled")),
            Stop::Crashed => {
                (FailureKind::Other, format!("{subject} not read: internal error in reader"))
            }
        }
    }
}

/// The paths a glob expanded to, and what kept it from expanding fully.
struct Expansion {
    paths: Vec<PathBuf>,
    failures: Vec<(String, FailureKind, String)>,
}

fn expand_glob(pattern: &str, cancel: &CancellationToken) -> Expansion {
    let mut expansion = Expansion { paths: Vec::new(), failures: Vec::new() };
    let options = glob::MatchOptions { require_literal_separator: true, ..Default::default() };
    let entries = match glob::glob_with(pattern, options) {
        Ok(entries) => entries,
        Err(error) => {
            let message = format!("invalid glob pattern {pattern}: {}", error.msg);
            expansion.failures.push((pattern.to_string(), FailureKind::Other, message));
            return expansion;
        }
    };
    for entry in entries {
        if cancel.is_cancelled() {
            break;
        }
        if expansion.paths.len() == MAX_GLOB_MATCHES {
            let message =
                format!("{pattern} matched more than {MAX_GLOB_MATCHES} paths; rest skipped");
            expansion.failures.push((pattern.to_string(), FailureKind::Other, message));
            break;
        }
        match entry {
            Ok(path) => expansion.paths.push(path),
            Err(error) => {
                let subject = error.path().to_string_lossy().into_owned();
                let (kind, message) = io_failure(error.path(), "list", error.error());
                expansion.failures.push((subject, kind, message));
            }
        }
    }
    expansion
}

/// The outcome of inspecting one path.
enum Inspected {
    Seen { facts: Value, effective_at: Option<DateTime<Utc>> },
    SkippedDir,
    Failed(FailureKind, String),
}

fn inspect(
    path: &Path,
    origin: Origin,
    rules: &ContentRules,
    cap: u64,
    cancel: &CancellationToken,
) -> Inspected {
    let link = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if is_absent(&error) => return absent(false),
        Err(error) => return failed(io_failure(path, "inspect", &error)),
    };
    let is_symlink = link.file_type().is_symlink();
    let meta = if is_symlink {
        match fs::metadata(path) {
            Ok(meta) => meta,
            Err(error) if is_absent(&error) => return absent(true),
            Err(error) => return failed(io_failure(path, "inspect", &error)),
        }
    } else {
        link
    };
    if meta.is_dir() && origin == Origin::Glob {
        return Inspected::SkippedDir;
    }
    if !meta.is_file() || !rules.content {
        let facts = Value::Object(metadata_facts(&meta, is_symlink));
        return Inspected::Seen { facts, effective_at: None };
    }
    read_file(path, is_symlink, rules, cap, cancel)
}

fn read_file(
    path: &Path,
    is_symlink: bool,
    rules: &ContentRules,
    cap: u64,
    cancel: &CancellationToken,
) -> Inspected {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) => return failed(io_failure(path, "open", &error)),
    };
    // Metadata of the opened file, so that size and digest describe the same file.
    let meta = match file.metadata() {
        Ok(meta) => meta,
        Err(error) => return failed(io_failure(path, "inspect", &error)),
    };
    let captured = match hash_stream(&mut file, cap, cancel) {
        Ok(Some(captured)) => captured,
        Ok(None) => {
            let message = format!("{} not read: cancelled", path.display());
            return Inspected::Failed(FailureKind::Cancelled, message);
        }
        Err(error) => return failed(io_failure(path, "read", &error)),
    };
    content_facts(&meta, is_symlink, rules, captured)
}

fn content_facts(
    meta: &Metadata,
    is_symlink: bool,
    rules: &ContentRules,
    captured: Captured,
) -> Inspected {
    let text = String::from_utf8_lossy(&captured.kept);
    let matches: Map<String, Value> = rules
        .patterns
        .iter()
        .map(|(name, regex)| (name.clone(), Value::Bool(text.lines().any(|l| regex.is_match(l)))))
        .collect();
    let reviewed = rules.reviewed.find(&text);
    let mut facts = metadata_facts(meta, is_symlink);
    facts.insert("sha256".into(), Value::String(captured.sha256));
    facts.insert("truncated".into(), Value::Bool(captured.truncated));
    facts.insert("matches".into(), Value::Object(matches));
    let reviewed_at = reviewed.map(|date| date.format("%Y-%m-%d").to_string());
    facts.insert("reviewed_at".into(), reviewed_at.map_or(Value::Null, Value::String));
    let effective_at = reviewed.and_then(|date| date.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
    Inspected::Seen { facts: Value::Object(facts), effective_at }
}

/// Hashes the whole stream, keeping the first `cap` bytes; `None` when cancelled.
fn hash_stream(
    reader: &mut impl Read,
    cap: u64,
    cancel: &CancellationToken,
) -> io::Result<Option<Captured>> {
    let mut sink = CappedSink::new(cap);
    let mut buffer = vec![0_u8; CHUNK_BYTES];
    loop {
        if cancel.is_cancelled() {
            return Ok(None);
        }
        match reader.read(&mut buffer) {
            Ok(0) => return Ok(Some(sink.finish())),
            Ok(read) => sink.push(&buffer[..read]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

fn metadata_facts(meta: &Metadata, is_symlink: bool) -> Map<String, Value> {
    let modified_at = meta.modified().ok().map(|time| rfc3339(DateTime::<Utc>::from(time)));
    let mut facts = Map::new();
    facts.insert("exists".into(), Value::Bool(true));
    facts.insert("file_type".into(), Value::from(file_type_name(meta)));
    facts.insert("is_dir".into(), Value::Bool(meta.is_dir()));
    facts.insert("symlink".into(), Value::Bool(is_symlink));
    facts.insert("size".into(), Value::from(meta.size()));
    facts.insert("mode".into(), Value::String(format!("{:04o}", meta.mode() & 0o7777)));
    facts.insert("uid".into(), Value::from(meta.uid()));
    facts.insert("gid".into(), Value::from(meta.gid()));
    facts.insert("modified_at".into(), modified_at.map_or(Value::Null, Value::String));
    facts
}

fn file_type_name(meta: &Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_file() {
        "file"
    } else if kind.is_dir() {
        "dir"
    } else if kind.is_fifo() {
        "fifo"
    } else if kind.is_socket() {
        "socket"
    } else if kind.is_char_device() {
        "char_device"
    } else if kind.is_block_device() {
        "block_device"
    } else {
        "other"
    }
}

fn absent(is_symlink: bool) -> Inspected {
    let facts = if is_symlink {
        json!({ "exists": false, "symlink": true })
    } else {
        json!({ "exists": false })
    };
    Inspected::Seen { facts, effective_at: None }
}

fn is_absent(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

fn failed((kind, message): (FailureKind, String)) -> Inspected {
    Inspected::Failed(kind, message)
}

/// Classifies an I/O error while doing `action` on `path`.
fn io_failure(path: &Path, action: &str, error: &io::Error) -> (FailureKind, String) {
    let path = path.display();
    match error.kind() {
        io::ErrorKind::PermissionDenied => {
            (FailureKind::Permission, format!("permission denied: cannot {action} {path}"))
        }
        io::ErrorKind::NotFound => {
            (FailureKind::NotFound, format!("cannot {action} {path}: it disappeared"))
        }
        _ => (FailureKind::Other, format!("cannot {action} {path}: {error}")),
    }
}

impl ReviewRule {
    fn find(&self, text: &str) -> Option<NaiveDate> {
        match self {
            ReviewRule::Default => front_matter_date(text).or_else(|| review_line_date(text)),
            ReviewRule::Pattern(regex) => regex
                .captures_iter(text)
                .find_map(|caps| caps.get(1).and_then(|m| strict_date(m.as_str()))),
        }
    }
}

/// The `reviewed:` or `last_reviewed:` date of a leading `---` front-matter block.
fn front_matter_date(text: &str) -> Option<NaiveDate> {
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    for line in lines {
        let line = line.trim_end();
        if line == "---" || line == "..." {
            return None;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        if key == "reviewed" || key == "last_reviewed" {
            return leading_date(value.trim().trim_start_matches(['"', '\'']));
        }
    }
    None
}

/// The first date on a line such as `Reviewed: 2026-01-31` or `**Last reviewed:** 2026-01-31`.
fn review_line_date(text: &str) -> Option<NaiveDate> {
    static LINE: OnceLock<Regex> = OnceLock::new();
    let line = LINE.get_or_init(|| {
        Regex::new(concat!(
            // optional list, quote or emphasis marks, then "reviewed", "last reviewed", …
            r"(?im)^[ \t>#*_-]*(?:last[ _-]?)?reviewed(?:[ _-](?:on|at))?",
            // a colon inside or after emphasis, an optional quote, then the date
            r#"[ \t*_]*:[ \t*_"']*(\d{4}-\d{2}-\d{2})\b"#,
        ))
        .expect("the review line regex is a valid constant")
    });
    line.captures_iter(text).find_map(|caps| caps.get(1).and_then(|m| strict_date(m.as_str())))
}

/// A date at the start of `value`, not followed by another digit.
fn leading_date(value: &str) -> Option<NaiveDate> {
    let date = strict_date(value.get(..10)?)?;
    let rest = &value[10..];
    (!rest.starts_with(|c: char| c.is_ascii_digit())).then_some(date)
}

/// Parses exactly `YYYY-MM-DD`.
fn strict_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes.iter().enumerate().all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    shaped.then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()).flatten()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::Limits;

    fn ctx() -> Context {
        Context {
            now: Utc::now(),
            timeout: Duration::from_secs(10),
            cancel: CancellationToken::new(),
            limits: Limits::default(),
            previous: Default::default(),
        }
    }

    fn settings(params: Value) -> FileSettings {
        let config: FileConfig = serde_json::from_value(params).expect("test params deserialize");
        config.validate().expect("test params are valid")
    }

    async fn run(params: Value) -> Collection {
        collect(&settings(params), &ctx()).await
    }

    fn write(path: &Path, content: &str, mode: u32) {
        fs::write(path, content).expect("write test file");
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod test file");
    }

    fn only_observation(collection: &Collection) -> &Observation {
        assert!(collection.failures.is_empty(), "{:?}", collection.failures);
        assert_eq!(collection.observations.len(), 1, "{:?}", collection.observations);
        &collection.observations[0]
    }

    /// Whether this process runs with effective uid 0 (then permission bits do not stop it).
    fn running_as_root() -> bool {
        let status = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
        let uid_line = status.lines().find(|l| l.starts_with("Uid:")).expect("uid line");
        uid_line.split_whitespace().nth(2) == Some("0")
    }

    #[tokio::test]
    async fn metadata_only_needs_no_read_permission() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("shadow");
        write(&path, "root:*:19000::::::\n", 0o000);
        let collection = run(json!({ "paths": [path], "content": false })).await;
        let facts = &only_observation(&collection).facts;
        assert_eq!(facts["mode"], "0000");
        assert_eq!(facts["size"], 19);
        assert!(facts.get("sha256").is_none(), "content must not be read: {facts}");
        let config: FileConfig = serde_json::from_value(
            json!({ "paths": ["/etc/x"], "content": false, "patterns": { "a": "b" } }),
        )
        .expect("deserialize");
        let errors = config.validate().expect_err("patterns need content");
        assert_eq!(errors[0].key, "content");
    }

    #[tokio::test]
    async fn present_file_reports_metadata_digest_and_matches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sshd_config");
        write(&path, "Port 22\nPermitRootLogin no\n", 0o640);
        let params = json!({
            "paths": [path],
            "patterns": { "no_root": "^PermitRootLogin\\s+no$", "password": "^PasswordAuth" },
        });
        let collection = run(params).await;
        let observation = only_observation(&collection);
        let facts = &observation.facts;
        let own = fs::metadata(&path).expect("metadata");
        assert_eq!(observation.subject, path.to_string_lossy());
        assert_eq!(facts["exists"], true);
        assert_eq!(facts["size"], 27);
        assert_eq!(facts["mode"], "0640");
        assert_eq!(facts["uid"], own.uid());
        assert_eq!(facts["gid"], own.gid());
        assert_eq!(facts["symlink"], false);
        assert_eq!(facts["is_dir"], false);
        assert_eq!(facts["truncated"], false);
        // sha256 of "Port 22\nPermitRootLogin no\n"
        assert_eq!(
            facts["sha256"],
            "21f261d76ad5b2ec1f58b5650caf2ed93775f928c7fe428b31ccc3b7b41d463c"
        );
        assert_eq!(facts["matches"], json!({ "no_root": true, "password": false }));
        assert_eq!(facts["reviewed_at"], Value::Null);
        assert_eq!(observation.effective_at, None);
        let modified = facts["modified_at"].as_str().expect("modified_at is a string");
        assert!(DateTime::parse_from_rfc3339(modified).is_ok(), "{modified}");
        assert!(modified.ends_with('Z'), "{modified}");
    }

    #[tokio::test]
    async fn absent_literal_path_is_a_fact() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("missing.md");
        let collection = run(json!({ "paths": [path] })).await;
        let observation = only_observation(&collection);
        assert_eq!(observation.facts, json!({ "exists": false }));
    }

    #[tokio::test]
    async fn glob_without_matches_reports_the_pattern() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pattern = format!("{}/*.policy", dir.path().display());
        let collection = run(json!({ "paths": [pattern] })).await;
        let observation = only_observation(&collection);
        assert_eq!(observation.subject, pattern);
        assert_eq!(observation.facts, json!({ "exists": false, "matched": 0 }));
    }

    #[tokio::test]
    async fn glob_observes_files_and_skips_directories() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(&dir.path().join("b.conf"), "b", 0o644);
        write(&dir.path().join("a.conf"), "a", 0o600);
        fs::create_dir(dir.path().join("c.conf")).expect("mkdir");
        let pattern = format!("{}/*.conf", dir.path().display());
        let collection = run(json!({ "paths": [pattern] })).await;
        assert!(collection.failures.is_empty(), "{:?}", collection.failures);
        let subjects: Vec<_> = collection.observations.iter().map(|o| o.subject.clone()).collect();
        let expected: Vec<_> = ["a.conf", "b.conf"]
            .iter()
            .map(|name| dir.path().join(name).to_string_lossy().into_owned())
            .collect();
        assert_eq!(subjects, expected);
        assert_eq!(collection.observations[0].facts["mode"], "0600");
    }

    #[tokio::test]
    async fn literal_directory_has_no_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let collection = run(json!({ "paths": [dir.path()] })).await;
        let facts = &only_observation(&collection).facts;
        assert_eq!(facts["is_dir"], true);
        assert_eq!(facts["file_type"], "dir");
        assert_eq!(facts.get("sha256"), None);
    }

    #[tokio::test]
    async fn symlink_is_followed_and_recorded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        write(&target, "abc", 0o644);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).expect("symlink");
        let collection = run(json!({ "paths": [link, dangling] })).await;
        assert!(collection.failures.is_empty(), "{:?}", collection.failures);
        let facts = &collection.observations[0].facts;
        assert_eq!(facts["symlink"], true);
        assert_eq!(facts["size"], 3);
        assert_eq!(
            facts["sha256"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(collection.observations[1].facts, json!({ "exists": false, "symlink": true }));
    }

    #[tokio::test]
    async fn unreadable_file_is_a_permission_failure_unless_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        write(&path, "x", 0o000);
        let collection = run(json!({ "paths": [path] })).await;
        if running_as_root() {
            // Root bypasses permission bits, so the file is read and its mode recorded.
            let observation = only_observation(&collection);
            assert_eq!(observation.facts["mode"], "0000");
            assert_eq!(observation.facts["size"], 1);
        } else {
            assert!(collection.observations.is_empty(), "{:?}", collection.observations);
            let failure = &collection.failures[0];
            assert_eq!(failure.kind, FailureKind::Permission);
            assert_eq!(failure.subject, path.to_string_lossy());
            assert!(failure.message.contains(&*path.to_string_lossy()), "{}", failure.message);
        }
    }

    #[test]
    fn permission_errors_are_classified_and_name_the_path() {
        let error = io::Error::from(io::ErrorKind::PermissionDenied);
        let (kind, message) = io_failure(Path::new("/etc/shadow"), "open", &error);
        assert_eq!(kind, FailureKind::Permission);
        assert_eq!(message, "permission denied: cannot open /etc/shadow");
    }

    #[tokio::test]
    async fn review_dates_from_front_matter_lines_and_patterns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let front = dir.path().join("front.md");
        write(&front, "---\ntitle: Backup\nlast_reviewed: \"2026-01-31\"\n---\n# Backup\n", 0o644);
        let line = dir.path().join("line.md");
        write(&line, "# Access policy\n\n**Reviewed:** 2025-11-02\n", 0o644);
        let bad = dir.path().join("bad.md");
        write(&bad, "Reviewed: 2026-02-30\n", 0o644);
        let collection = run(json!({ "paths": [front, line, bad] })).await;
        assert!(collection.failures.is_empty(), "{:?}", collection.failures);
        let dates: Vec<_> =
            collection.observations.iter().map(|o| o.facts["reviewed_at"].clone()).collect();
        assert_eq!(dates, [json!("2026-01-31"), json!("2025-11-02"), Value::Null]);
        let midnight = DateTime::parse_from_rfc3339("2026-01-31T00:00:00Z").expect("time");
        assert_eq!(collection.observations[0].effective_at, Some(midnight.to_utc()));

        let custom = dir.path().join("custom.txt");
        write(&custom, "Stand: 2024-06-01\nReviewed: 2026-01-01\n", 0o644);
        let params = json!({ "paths": [custom], "reviewed_pattern": "Stand: (\\S+)" });
        let collection = run(params).await;
        assert_eq!(only_observation(&collection).facts["reviewed_at"], "2024-06-01");
    }

    #[test]
    fn front_matter_must_lead_the_file() {
        assert_eq!(front_matter_date("intro\n---\nreviewed: 2026-01-31\n---\n"), None);
        assert_eq!(front_matter_date("---\ntitle: x\n---\nreviewed: 2026-01-31\n"), None);
        let date = NaiveDate::from_ymd_opt(2026, 1, 31);
        assert_eq!(front_matter_date("---\nreviewed: 2026-01-31T10:00:00Z\n---\n"), date);
        assert_eq!(review_line_date("Not reviewed: 2026-01-31\n"), None);
        assert_eq!(review_line_date("- Last reviewed on: 2026-01-31\n"), date);
    }

    #[tokio::test]
    async fn cap_limits_matching_but_not_the_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big");
        write(&path, "aaaaaaaa\nsecret\n", 0o644);
        let params = json!({
            "paths": [path],
            "patterns": { "secret": "secret", "a": "^a+$" },
            "max_bytes": 8,
        });
        let collection = run(params).await;
        let facts = &only_observation(&collection).facts;
        assert_eq!(facts["truncated"], true);
        assert_eq!(facts["size"], 16);
        assert_eq!(facts["matches"], json!({ "a": true, "secret": false }));
        // sha256 of the whole "aaaaaaaa\nsecret\n", not of the first 8 bytes
        assert_eq!(
            facts["sha256"],
            "ffea0d1cfd7159286034301ce5a706d90c0f10edd04769d60b793f69af5d07bc"
        );
    }

    #[test]
    fn validation_reports_every_error_by_key() {
        let config: FileConfig = serde_json::from_value(json!({
            "paths": ["relative/path", "/etc/[x", "/etc/ok"],
            "patterns": { "no_root": "(" },
            "reviewed_pattern": "Reviewed: \\d+",
            "max_bytes": 0,
        }))
        .expect("deserialize");
        let errors = config.validate().expect_err("invalid params");
        let keys: Vec<_> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            ["paths[0]", "paths[1]", "patterns.no_root", "reviewed_pattern", "max_bytes"]
        );
        let empty: FileConfig = serde_json::from_value(json!({ "paths": [] })).expect("parse");
        let errors = empty.validate().expect_err("no paths");
        assert_eq!(errors, [ParamError::new("paths", "must list at least one path")]);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let result = serde_json::from_value::<FileConfig>(json!({ "paths": ["/x"], "max": 1 }));
        let message = result.expect_err("unknown key").to_string();
        assert!(message.contains("unknown field `max`"), "{message}");
    }

    #[tokio::test]
    async fn cancelled_run_reports_each_subject_as_cancelled() {
        let ctx = ctx();
        ctx.cancel.cancel();
        let settings = settings(json!({ "paths": ["/etc/hostname", "/etc/*.conf"] }));
        let collection = collect(&settings, &ctx).await;
        assert!(collection.observations.is_empty());
        let kinds: Vec<_> = collection.failures.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [FailureKind::Cancelled, FailureKind::Cancelled]);
    }
}
