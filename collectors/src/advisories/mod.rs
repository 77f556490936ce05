//! The `advisories` collector: packages locked in lockfiles, matched offline against OSV,
//! FriendsOfPHP and RubySec advisories.
//!
//! It owns configuration ([`AdvisoriesConfig`] → [`AdvisoriesSettings`]) and one collection:
//! load the configured advisory sources once (`db`), then for every configured lockfile path
//! or glob read and parse the file (`lockfile` and its readers), match its packages
//! (`findings`), and report one observation per lockfile whose facts include the findings,
//! counts by severity, unassessable packages, records that could not be evaluated, and the
//! database snapshot used (digest, record count, newest modified time, age). A lockfile that
//! cannot be read or parsed, and an advisory source that cannot be loaded, are per-subject
//! failures; everything else is still scanned. It never judges: "no findings at or above
//! high" is a check on `findings_at_or_above/high`. Matching is offline: the database is
//! local. An `osv-zip` source with a `refresh_url` is refreshed first, at most every
//! `refresh_hours` (`refresh`: changed ids from osv.dev's `modified_id.csv`, else the whole
//! export with If-Modified-Since; verified, atomic rename); a failed refresh keeps the last
//! good zip, the scan goes on with it, and the failure is in every observation's
//! `database.refresh` (and counted in `database.refresh_failed`).
//! First-seen times and fixes come from the previous observation (`history`).
//!
//! The issue's checks read these facts with the agent's generic judgements:
//! `fact_at_most /findings_at_or_above/high 0` (no findings at or above a severity),
//! `fact_at_most /oldest_fixable_finding_days N` (fixes applied within N days of
//! publication; counted from publication, never from `first_seen`) and
//! `fact_at_most /database/age_hours H` (database fresher than H hours).
//! Neighbours: `version` (orders), `osv` (evaluation), `cvss` (scores), `native` (imports).

pub mod cvss;
pub mod db;
pub mod findings;
pub mod history;
mod incremental;
pub mod lock_js;
pub mod lock_misc;
pub mod lock_py;
pub mod lockfile;
pub mod native;
pub mod osv;
pub mod refresh;
pub mod version;

#[cfg(test)]
mod cases;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::{Collection, Context, Custody, FailureKind, Observation, ParamError, Previous};

use db::{Database, Snapshot, Source, SourceKind};
use findings::{Policy, Report};
use lockfile::Format;
use refresh::RefreshPlan;

/// The most entries of each list kept in facts; counts always cover everything.
const MAX_LISTED: usize = 500;

/// The most lockfiles one glob may expand to.
const MAX_GLOB_MATCHES: usize = 10_000;

/// Raw parameters of an `advisories` instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisoriesConfig {
    /// Lockfiles: absolute paths or globs (format from the file name), or tables
    /// `{ path = "…", format = "composer" }`.
    pub lockfiles: Vec<LockfileSpec>,
    /// Advisory sources: `{ kind = "osv-dir" | "osv-zip" | "friends-of-php" | "ruby-sec",
    /// path = "…" }`; at least one.
    pub databases: Vec<DatabaseSpec>,
    /// Use `database_specific.last_known_affected_version_range` to close open ranges
    /// (results marked inferred). Default false: the OSV specification's answer stands.
    #[serde(default)]
    pub trust_database_specific_bounds: bool,
}

/// One configured lockfile entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum LockfileSpec {
    /// A path or glob; the format comes from the file name.
    Path(String),
    /// A path or glob with an explicit format.
    Typed {
        /// Path or glob.
        path: String,
        /// Format name, e.g. `composer`, `npm-lock`, `requirements`.
        format: Format,
    },
}

/// One configured advisory source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSpec {
    /// Source kind.
    pub kind: SourceKind,
    /// Absolute directory or zip path.
    pub path: String,
    /// For `osv-zip`: the URL of the export to refresh the zip from (e.g. an osv.dev
    /// per-ecosystem `all.zip` or a local mirror). Without it the zip is used as it is.
    pub refresh_url: Option<String>,
    /// Hours between refresh attempts; default 24.
    pub refresh_hours: Option<u64>,
}

/// Validated settings of an `advisories` instance.
#[derive(Debug, Clone)]
pub struct AdvisoriesSettings {
    lockfiles: Vec<(String, Option<Format>)>,
    sources: Vec<Source>,
    refreshes: Vec<(PathBuf, RefreshPlan)>,
    policy: Policy,
}

/// The most bytes one refresh download may have.
const MAX_DOWNLOAD_BYTES: u64 = 2 << 30;

impl AdvisoriesConfig {
    /// Checks every parameter and returns the validated settings.
    ///
    /// # Errors
    ///
    /// Every problem found, each naming its key (e.g. `lockfiles[2]`).
    pub fn validate(self) -> Result<AdvisoriesSettings, Vec<ParamError>> {
        let mut errors = Vec::new();
        if self.lockfiles.is_empty() {
            errors.push(ParamError::new("lockfiles", "must list at least one path"));
        }
        if self.databases.is_empty() {
            errors.push(ParamError::new("databases", "must list at least one source"));
        }
        let mut lockfiles = Vec::new();
        for (i, spec) in self.lockfiles.into_iter().enumerate() {
            let (path, format) = match spec {
                LockfileSpec::Path(path) => (path, None),
                LockfileSpec::Typed { path, format } => (path, Some(format)),
            };
            match check_path(&path, true) {
                Ok(()) => lockfiles.push((path, format)),
                Err(m) => errors.push(ParamError::new(format!("lockfiles[{i}]"), m)),
            }
        }
        let mut sources = Vec::new();
        let mut refreshes = Vec::new();
        for (i, spec) in self.databases.into_iter().enumerate() {
            if let Err(m) = check_path(&spec.path, false) {
                errors.push(ParamError::new(format!("databases[{i}].path"), m));
                continue;
            }
            match refresh_plan(&spec) {
                Ok(Some(plan)) => refreshes.push((PathBuf::from(&spec.path), plan)),
                Ok(None) => {}
                Err((key, m)) => errors.push(ParamError::new(format!("databases[{i}].{key}"), m)),
            }
            sources.push(Source { kind: spec.kind, path: spec.path.into() });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let policy = Policy { trust_database_specific_bounds: self.trust_database_specific_bounds };
        Ok(AdvisoriesSettings { lockfiles, sources, refreshes, policy })
    }
}

fn refresh_plan(spec: &DatabaseSpec) -> Result<Option<RefreshPlan>, (&'static str, String)> {
    let Some(url) = &spec.refresh_url else {
        if spec.refresh_hours.is_some() {
            return Err(("refresh_hours", "needs refresh_url".to_string()));
        }
        return Ok(None);
    };
    if spec.kind != SourceKind::OsvZip {
        return Err(("refresh_url", "only osv-zip sources can be refreshed".to_string()));
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(("refresh_url", format!("{url} is not an http(s) url")));
    }
    let hours = spec.refresh_hours.unwrap_or(24);
    if hours == 0 {
        return Err(("refresh_hours", "must be greater than 0".to_string()));
    }
    let interval = Duration::from_secs(hours.saturating_mul(3600));
    Ok(Some(RefreshPlan { url: url.clone(), interval, max_bytes: MAX_DOWNLOAD_BYTES }))
}

fn check_path(raw: &str, glob_ok: bool) -> Result<(), String> {
    if raw.contains('\0') {
        return Err("must not contain a nul byte".to_string());
    }
    if !Path::new(raw).is_absolute() {
        return Err(format!("{raw} is not an absolute path"));
    }
    if raw.contains(['*', '?', '[']) {
        if !glob_ok {
            return Err(format!("{raw}: globs are not allowed here"));
        }
        glob::Pattern::new(raw).map_err(|e| format!("invalid glob pattern {raw}: {}", e.msg))?;
    }
    Ok(())
}

/// Loads the database, scans every lockfile, one observation per lockfile.
pub async fn collect(settings: &AdvisoriesSettings, ctx: &Context) -> Collection {
    let mut refreshed = Vec::new();
    for (path, plan) in &settings.refreshes {
        let outcome = tokio::select! {
            outcome = refresh::refresh(path, plan, ctx.timeout / 2) => outcome,
            () = ctx.cancel.cancelled() => {
                return failed("advisories", FailureKind::Cancelled, "cancelled".to_string())
            }
        };
        let error = match &outcome {
            refresh::RefreshOutcome::Failed(message) => Some(message.clone()),
            _ => None,
        };
        refreshed.push(json!({
            "path": path.display().to_string(), "url": plan.url,
            "outcome": outcome.as_str(), "error": error,
        }));
    }
    let settings = settings.clone();
    let now = ctx.now;
    let cancel = ctx.cancel.clone();
    let max_bytes = ctx.limits.max_read_bytes;
    let task_cancel = cancel.clone();
    let previous = ctx.previous.clone();
    let task = tokio::task::spawn_blocking(move || {
        let run = Run { now, max_bytes, cancel: &task_cancel, previous: &previous };
        run_blocking(&settings, &run, refreshed)
    });
    tokio::select! {
        joined = tokio::time::timeout(ctx.timeout, task) => match joined {
            Ok(Ok(collection)) => collection,
            Ok(Err(error)) => {
                failed("advisories", FailureKind::Other, format!("scan task failed: {error}"))
            }
            Err(_) => {
                cancel.cancel();
                let message = format!("scan did not finish within {:?}", ctx.timeout);
                failed("advisories", FailureKind::Timeout, message)
            }
        },
        () = cancel.cancelled() => {
            failed("advisories", FailureKind::Cancelled, "cancelled".to_string())
        }
    }
}

fn failed(subject: &str, kind: FailureKind, message: String) -> Collection {
    let mut out = Collection::default();
    out.fail(subject, kind, message);
    out
}

/// What one collection runs with, besides the settings.
pub struct Run<'a> {
    /// The collection time.
    pub now: DateTime<Utc>,
    /// The most bytes read from one file.
    pub max_bytes: u64,
    /// Stops the scan between lockfiles.
    pub cancel: &'a CancellationToken,
    /// The previous observation of each lockfile (first-seen times, fixes).
    pub previous: &'a Previous,
}

/// The whole collection, synchronously (file reads and matching are CPU and disk bound).
pub fn run_blocking(
    settings: &AdvisoriesSettings,
    run: &Run<'_>,
    refreshed: Vec<Value>,
) -> Collection {
    let (now, max_bytes, cancel) = (run.now, run.max_bytes, run.cancel);
    let mut out = Collection::default();
    let started = Instant::now();
    let (database, source_failures) = db::load(&settings.sources, max_bytes);
    let load_ms = millis(started.elapsed());
    for failure in &source_failures {
        let kind = if failure.message.starts_with("cannot open") {
            FailureKind::NotFound
        } else {
            FailureKind::Parse
        };
        out.fail(failure.path.clone(), kind, format!("advisory source: {}", failure.message));
    }
    let mut db_facts = database_facts(&database.snapshot, now, load_ms, source_failures.len());
    let refresh_failed = refreshed.iter().filter(|r| r["outcome"] == "failed").count();
    db_facts["refresh"] = Value::Array(refreshed);
    db_facts["refresh_failed"] = json!(refresh_failed);
    let no_data = source_failures.len() == settings.sources.len();
    for (path, format) in expand(&settings.lockfiles, &mut out) {
        if cancel.is_cancelled() {
            out.fail(path.display().to_string(), FailureKind::Cancelled, "cancelled".to_string());
            continue;
        }
        let subject = path.display().to_string();
        if no_data {
            out.fail(subject, FailureKind::Other, "no advisory source could be loaded".to_string());
            continue;
        }
        let begun = Instant::now();
        match scan_file(&path, format, &database, settings.policy, max_bytes) {
            Ok((format, packages, report)) => {
                let mut facts = report_facts(format, &packages, &report, now);
                let basis = history::Basis::from_previous(run.previous.get(&subject));
                let complete = source_failures.is_empty();
                add_history(&mut facts, &path, (&packages, &report), &basis, complete, now);
                facts["database"] = db_facts.clone();
                let trust = settings.policy.trust_database_specific_bounds;
                facts["policy"] = json!({ "trust_database_specific_bounds": trust });
                out.observations.push(Observation {
                    subject,
                    collected_at: now,
                    effective_at: None,
                    facts,
                    custody: Custody {
                        argv: None,
                        exit_code: None,
                        duration_ms: millis(begun.elapsed()),
                        tool_version: Some(format!("beweis-advisories {}", crate::VERSION)),
                    },
                });
            }
            Err((kind, message)) => out.fail(subject, kind, message),
        }
    }
    out
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Expands literal paths and globs; a glob matching nothing is a not-found failure.
fn expand(
    specs: &[(String, Option<Format>)],
    out: &mut Collection,
) -> Vec<(PathBuf, Option<Format>)> {
    let mut files = Vec::new();
    for (raw, format) in specs {
        if !raw.contains(['*', '?', '[']) {
            files.push((PathBuf::from(raw), *format));
            continue;
        }
        let paths = match glob::glob(raw) {
            Ok(paths) => paths,
            Err(error) => {
                out.fail(raw.clone(), FailureKind::Other, format!("bad glob: {}", error.msg));
                continue;
            }
        };
        let mut found: Vec<PathBuf> =
            paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
        found.sort();
        if found.is_empty() {
            out.fail(raw.clone(), FailureKind::NotFound, "glob matched no lockfile".to_string());
        }
        if found.len() > MAX_GLOB_MATCHES {
            let message = format!(
                "glob matched {} files; only the first {MAX_GLOB_MATCHES} scanned",
                found.len()
            );
            out.fail(raw.clone(), FailureKind::Other, message);
            found.truncate(MAX_GLOB_MATCHES);
        }
        files.extend(found.into_iter().map(|p| (p, *format)));
    }
    files
}

type ScanResult = Result<(Format, Vec<lockfile::Package>, Report), (FailureKind, String)>;

/// Reads, parses and matches one lockfile.
pub fn scan_file(
    path: &Path,
    format: Option<Format>,
    database: &Database,
    policy: Policy,
    max_bytes: u64,
) -> ScanResult {
    let format = format.or_else(|| Format::detect(path)).ok_or_else(|| {
        (FailureKind::Other, "unknown lockfile format; name it with `format`".to_string())
    })?;
    let text = read_text(path, max_bytes)?;
    let read = |other: &Path| read_text(other, max_bytes).map_err(|(_, message)| message);
    let packages = lockfile::parse_file(format, path, &text, &read)
        .map_err(|e| (FailureKind::Parse, e.to_string()))?;
    let report = findings::scan(database, &packages, policy);
    Ok((format, packages, report))
}

fn read_text(path: &Path, max_bytes: u64) -> Result<String, (FailureKind, String)> {
    let file = std::fs::File::open(path).map_err(|e| {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => FailureKind::NotFound,
            std::io::ErrorKind::PermissionDenied => FailureKind::Permission,
            _ => FailureKind::Other,
        };
        (kind, format!("cannot open lockfile: {e}"))
    })?;
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| (FailureKind::Other, format!("cannot read lockfile: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        return Err((FailureKind::Other, format!("lockfile larger than {max_bytes} bytes")));
    }
    String::from_utf8(bytes).map_err(|_| (FailureKind::Parse, "lockfile is not utf-8".to_string()))
}

fn database_facts(s: &Snapshot, now: DateTime<Utc>, load_ms: u64, failed: usize) -> Value {
    let age_hours = s
        .newest_modified
        .as_deref()
        .and_then(|m| DateTime::parse_from_rfc3339(m).ok())
        .map(|m| (now - m.with_timezone(&Utc)).num_minutes() as f64 / 60.0);
    let sources: Vec<Value> = s
        .sources
        .iter()
        .map(|(path, kind, digest, n)| {
            json!({"path": path, "kind": format!("{kind:?}"), "sha256": digest, "records": n})
        })
        .collect();
    json!({
        "digest": s.digest,
        "records": s.records,
        "withdrawn": s.withdrawn,
        "newest_modified": s.newest_modified,
        "age_hours": age_hours,
        "sources": sources,
        "sources_failed": failed,
        "complete": failed == 0,
        "record_errors_count": s.record_errors.len(),
        "record_errors": capped(&s.record_errors),
        "warnings_count": s.warnings.len(),
        "warnings": capped(&s.warnings),
        "skipped_ecosystems": s.skipped_ecosystems,
        "load_ms": load_ms,
    })
}

fn capped(list: &[String]) -> Vec<&String> {
    list.iter().take(MAX_LISTED).collect()
}

/// First-seen and open times of every finding, and the findings fixed since the previous
/// observation (see `history`).
fn add_history(
    facts: &mut Value,
    path: &Path,
    (packages, report): (&[lockfile::Package], &Report),
    basis: &history::Basis,
    database_complete: bool,
    now: DateTime<Utc>,
) {
    let modified: Option<DateTime<Utc>> =
        std::fs::metadata(path).and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from);
    facts["lockfile_modified"] =
        json!(modified.map(|m| m.to_rfc3339_opts(SecondsFormat::Secs, true)));
    facts["history"] = basis.describe();
    let seen = history::first_seen(&report.findings, basis, now);
    history::open_times(facts, &report.findings, &seen, modified, now);
    let gone = history::fixed_since(&report.findings, packages, basis, database_complete, now);
    facts["fixed_since_previous"] =
        Value::Array(gone.entries.into_iter().take(MAX_LISTED).collect());
    facts["fixes_since_previous"] = json!(gone.fixes);
    facts["slowest_fix_days_after_publication_at_most"] = json!(gone.slowest_days);
    facts["history"]["carried"] = Value::Array(gone.carried);
}

fn report_facts(
    format: Format,
    packages: &[lockfile::Package],
    report: &Report,
    now: DateTime<Utc>,
) -> Value {
    let (by_severity, at_or_above, informational) = findings::counts(&report.findings);
    let oldest_fixable = report
        .findings
        .iter()
        .filter(|f| !f.fixed.is_empty() && findings::counted(f))
        .filter_map(|f| f.published.as_deref().and_then(|p| findings::days_since(p, now)))
        .max()
        .unwrap_or(0);
    let list = |items: &[findings::Finding]| -> Vec<Value> {
        items.iter().take(MAX_LISTED).map(|f| findings::finding_json(f, now)).collect()
    };
    let unassessable: Vec<Value> = report
        .unassessable
        .iter()
        .take(MAX_LISTED)
        .map(|(p, reason, ids)| {
            let detail = p.unassessable.as_ref().map(|u| &u.detail);
            json!({
                "ecosystem": p.ecosystem.osv_name(), "package": p.name, "version": p.version,
                "reason": reason, "detail": detail, "dev": p.dev, "direct": p.direct,
                "advisories_not_comparable": ids,
            })
        })
        .collect();
    let not_assessed: Vec<Value> = report
        .not_assessed
        .iter()
        .take(MAX_LISTED)
        .map(|(p, v, id, why)| json!({"package": p, "version": v, "advisory": id, "reason": why}))
        .collect();
    let withdrawn: Vec<Value> = report
        .withdrawn
        .iter()
        .take(MAX_LISTED)
        .map(|(p, id, when)| json!({"package": p, "advisory": id, "withdrawn": when}))
        .collect();
    json!({
        "format": format.as_str(),
        "packages_total": packages.len(),
        "packages_assessed": report.assessed,
        "unassessable_count": report.unassessable.len(),
        "unassessable": unassessable,
        "findings_count": report.findings.len(),
        "findings": list(&report.findings),
        "findings_by_severity": by_severity,
        "findings_at_or_above": at_or_above,
        "informational_count": informational,
        "oldest_fixable_finding_days": oldest_fixable,
        "inferred_not_affected": list(&report.inferred_clean),
        "not_assessed_count": report.not_assessed.len(),
        "not_assessed": not_assessed,
        "withdrawn_not_applied": withdrawn,
        "warnings_count": report.warnings.len(),
        "warnings": capped(&report.warnings),
        "scanned_at": now.to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/advisories");

    fn spec() -> DatabaseSpec {
        DatabaseSpec {
            kind: SourceKind::OsvZip,
            path: "/var/lib/osv/all.zip".to_string(),
            refresh_url: None,
            refresh_hours: None,
        }
    }

    fn config(lockfiles: Vec<LockfileSpec>, extra_sources: &[(&str, String)]) -> AdvisoriesConfig {
        let mut databases = vec![
            DatabaseSpec { kind: SourceKind::OsvDir, path: format!("{DIR}/osv"), ..spec() },
            DatabaseSpec {
                kind: SourceKind::FriendsOfPhp,
                path: format!("{DIR}/native/friendsofphp"),
                ..spec()
            },
            DatabaseSpec {
                kind: SourceKind::RubySec,
                path: format!("{DIR}/native/rubysec"),
                ..spec()
            },
        ];
        for (kind, path) in extra_sources {
            let kind = if *kind == "zip" { SourceKind::OsvZip } else { SourceKind::OsvDir };
            databases.push(DatabaseSpec { kind, path: path.clone(), ..spec() });
        }
        AdvisoriesConfig { lockfiles, databases, trust_database_specific_bounds: false }
    }

    fn typed(path: &str, format: Format) -> LockfileSpec {
        LockfileSpec::Typed { path: format!("{DIR}/lockfiles/{path}"), format }
    }

    fn context() -> Context {
        Context {
            now: DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
                .expect("fixed time")
                .with_timezone(&Utc),
            timeout: Duration::from_secs(60),
            cancel: CancellationToken::new(),
            limits: Limits::default(),
            previous: Default::default(),
        }
    }

    async fn collect_all(cfg: AdvisoriesConfig) -> Collection {
        let settings = cfg.validate().expect("valid config");
        collect(&settings, &context()).await
    }

    fn facts_of<'a>(out: &'a Collection, suffix: &str) -> &'a Value {
        &out.observations
            .iter()
            .find(|o| o.subject.ends_with(suffix))
            .unwrap_or_else(|| panic!("no observation for {suffix}: {:?}", out.failures))
            .facts
    }

    fn finding_ids(facts: &Value, package: &str) -> Vec<Vec<String>> {
        facts["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["normalised_name"] == package)
            .map(|f| {
                f["ids"]
                    .as_array()
                    .expect("ids")
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .collect()
    }

    fn has_id(facts: &Value, package: &str, id: &str) -> bool {
        finding_ids(facts, package).iter().any(|ids| ids.iter().any(|i| i == id))
    }

    #[tokio::test]
    async fn real_lockfiles_against_real_advisories() {
        let cfg = config(
            vec![
                typed(
                    "requirements/scanner--image-python-fixture/requirements.txt",
                    Format::Requirements,
                ),
                typed(
                    "requirements/scalibr--with-versions/with_versions.txt",
                    Format::Requirements,
                ),
                typed(
                    "poetry/scalibr--multiple-packages-v2/multiple-packages.v2.lock",
                    Format::PoetryLock,
                ),
                typed("cargo/scalibr--real-rust-project/Cargo.lock", Format::CargoLock),
                typed("cargo/scanner--deprecated-vuln/Cargo.lock", Format::CargoLock),
                typed("composer/scanner--locks-many-with-insecure/composer.lock", Format::Composer),
                typed("gemfile/scalibr--rails/rails.lock", Format::GemfileLock),
                typed("gomod/scanner--call-analysis-go-project/go.mod", Format::GoMod),
                typed(
                    "package-lock-v2/scanner--fix-in-place-npm/package-lock.json",
                    Format::NpmLock,
                ),
                typed("yarn-v1/scanner--locks-insecure/my-yarn.lock", Format::YarnLock),
            ],
            &[],
        );
        let out = collect_all(cfg).await;
        assert!(out.failures.is_empty(), "{:?}", out.failures);
        assert_eq!(out.observations.len(), 10);

        let req = facts_of(&out, "image-python-fixture/requirements.txt");
        for id in ["PYSEC-2018-66", "PYSEC-2019-179", "PYSEC-2023-62"] {
            assert!(has_id(req, "flask", id), "flask {id}: {req:#}");
        }
        assert_eq!(finding_ids(req, "flask").len(), 3, "Flask and flask are one package");
        assert!(has_id(req, "urllib3", "PYSEC-2023-212"));
        assert!(has_id(req, "idna", "PYSEC-2024-60"));
        let nltk = facts_of(&out, "with_versions.txt");
        for id in ["PYSEC-2019-106", "PYSEC-2021-356", "PYSEC-2021-859", "PYSEC-2022-5"] {
            assert!(has_id(nltk, "nltk", id), "git-first ranges must not hide {id}");
        }

        let poetry = facts_of(&out, "multiple-packages.v2.lock");
        assert!(finding_ids(poetry, "redis").is_empty(), "PYSEC-2023-73 is withdrawn");
        assert_eq!(poetry["withdrawn_not_applied"][0]["advisory"], "PYSEC-2023-73");

        let smallvec = facts_of(&out, "real-rust-project/Cargo.lock");
        assert!(finding_ids(smallvec, "smallvec").is_empty(), "0.6.14 is the fixed bound");
        let net2 = facts_of(&out, "deprecated-vuln/Cargo.lock");
        assert!(has_id(net2, "net2", "RUSTSEC-2020-0016"));
        assert!(has_id(net2, "net2", "RUSTSEC-2020-0078"));
        // 0016 (unmaintained, no score) is a notice; 0078 (unsound, CVSS 5.5) counts.
        assert_eq!(net2["informational_count"], 1);
        assert_eq!(net2["findings_at_or_above"]["medium"], 1);
        assert_eq!(net2["findings_at_or_above"]["high"], 0);
        assert_eq!(net2["findings_by_severity"]["unknown"], 0);
        assert!(net2["unassessable_count"].as_u64().expect("count") >= 1);

        let composer = facts_of(&out, "locks-many-with-insecure/composer.lock");
        let fly = finding_ids(composer, "league/flysystem");
        assert_eq!(fly.len(), 1, "GHSA and FriendsOfPHP twins are one finding: {fly:?}");
        assert!(fly[0].contains(&"GHSA-9f46-5r25-5wfm".to_string()));
        assert!(fly[0].contains(&"FriendsOfPHP/league/flysystem/CVE-2021-32708".to_string()));

        let gems = facts_of(&out, "rails.lock");
        let rack = finding_ids(gems, "rack");
        let twin: Vec<_> =
            rack.iter().filter(|ids| ids.contains(&"GHSA-wq4h-7r42-5hrr".to_string())).collect();
        assert_eq!(twin.len(), 1, "{rack:?}");
        assert!(twin[0].contains(&"RubySec/rack/CVE-2022-30123".to_string()));

        let gomod = facts_of(&out, "call-analysis-go-project/go.mod");
        let gogo = finding_ids(gomod, "github.com/gogo/protobuf");
        assert_eq!(gogo.len(), 1);
        assert!(gogo[0].contains(&"GO-2021-0053".to_string()));
        assert!(gogo[0].contains(&"GHSA-c3h9-896r-86jm".to_string()));

        let npm = facts_of(&out, "fix-in-place-npm/package-lock.json");
        assert!(has_id(npm, "semver", "GHSA-c2qf-rxjj-qqgw"));
        let semver = npm["findings"]
            .as_array()
            .expect("f")
            .iter()
            .find(|f| f["package"] == "semver")
            .expect("semver");
        assert_eq!(semver["severity"], "medium");
        assert_eq!(semver["cvss_score"], 5.3);
        assert_eq!(semver["fixed"], json!(["5.7.2"]));
        // Published 2023-06-21T06:30:28Z; the context's now is 2026-12-01.
        assert_eq!(semver["days_since_published"], 1258);
        let oldest = npm["oldest_fixable_finding_days"].as_i64().expect("days");
        assert!(oldest >= 1258, "{oldest}");
        assert!(semver["open_days_at_least"].as_i64().is_some());
        assert!(npm["lockfile_modified"].is_string());
        let yarn = facts_of(&out, "my-yarn.lock");
        assert!(has_id(yarn, "ansi-html", "GHSA-whgm-jr23-g3j9"));

        let db = &req["database"];
        assert_eq!(db["complete"], true);
        assert_eq!(db["digest"].as_str().expect("digest").len(), 64);
        assert!(db["records"].as_u64().expect("records") > 200);
        assert!(db["age_hours"].as_f64().expect("age") > 0.0);
        assert!(req["findings_at_or_above"]["high"].as_u64().is_some());
    }

    #[tokio::test]
    async fn corrupt_lockfile_and_truncated_zip_fail_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = dir.path().join("composer.lock");
        std::fs::write(&bad, "{\"packages\": [").expect("write");
        let zip = dir.path().join("osv.zip");
        std::fs::write(&zip, b"PK\x03\x04truncated").expect("write");
        let odd = dir.path().join("odd");
        std::fs::create_dir(&odd).expect("mkdir");
        let record = r#"{"id":"TEST-RANGE-1","modified":"2026-01-01T00:00:00Z","affected":[
            {"package":{"ecosystem":"crates.io","name":"net2"},
             "ranges":[{"type":"CALVER","events":[{"introduced":"0"}]}]}]}"#;
        std::fs::write(odd.join("TEST-RANGE-1.json"), record).expect("write");
        let good = LockfileSpec::Path(format!(
            "{DIR}/lockfiles/cargo/scanner--deprecated-vuln/Cargo.lock"
        ));
        let cfg = config(
            vec![LockfileSpec::Path(bad.display().to_string()), good],
            &[("zip", zip.display().to_string()), ("dir", odd.display().to_string())],
        );
        let out = collect_all(cfg).await;
        assert_eq!(out.observations.len(), 1);
        let facts = &out.observations[0].facts;
        let warning = format!(
            "TEST-RANGE-1 ({}): unknown range type CALVER; its packages are reported as not \
             assessed",
            odd.join("TEST-RANGE-1.json").display()
        );
        assert!(facts["database"]["warnings"].as_array().expect("w").contains(&json!(warning)));
        let not_assessed = facts["not_assessed"].as_array().expect("not assessed");
        assert!(not_assessed.iter().any(|n| n["advisory"] == "TEST-RANGE-1"), "{not_assessed:?}");
        assert!(has_id(facts, "net2", "RUSTSEC-2020-0016"), "other records still apply");
        assert_eq!(out.failures.len(), 2, "{:?}", out.failures);
        let lock =
            out.failures.iter().find(|f| f.subject.ends_with("composer.lock")).expect("lock");
        assert_eq!(lock.kind, FailureKind::Parse);
        assert!(lock.message.starts_with("composer: invalid json"), "{}", lock.message);
        let z = out.failures.iter().find(|f| f.subject.ends_with("osv.zip")).expect("zip");
        assert!(z.message.contains("not a readable zip archive"), "{}", z.message);
        assert_eq!(out.observations[0].facts["database"]["complete"], false);
    }

    #[tokio::test]
    async fn globs_expand_and_empty_globs_and_cancellation_are_reported() {
        let glob = LockfileSpec::Path(format!("{DIR}/lockfiles/cargo/*/Cargo.lock"));
        let none = LockfileSpec::Path(format!("{DIR}/lockfiles/cargo/*/no.lock"));
        let out = collect_all(config(vec![glob.clone(), none], &[])).await;
        assert_eq!(out.observations.len(), 2, "only files named Cargo.lock");
        assert_eq!(out.failures.len(), 1);
        assert_eq!(out.failures[0].kind, FailureKind::NotFound);
        let settings = config(vec![glob], &[]).validate().expect("valid");
        let ctx = context();
        ctx.cancel.cancel();
        let out = collect(&settings, &ctx).await;
        assert!(out.observations.is_empty());
        assert_eq!(out.failures[0].kind, FailureKind::Cancelled);
    }

    fn requirements_run(lock: &Path, text: &str, previous: crate::Previous) -> Collection {
        std::fs::write(lock, text).expect("write lockfile");
        let spec =
            LockfileSpec::Typed { path: lock.display().to_string(), format: Format::Requirements };
        let settings = config(vec![spec], &[]).validate().expect("valid");
        let ctx = Context { previous, ..context() };
        let out = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(collect(&settings, &ctx));
        assert!(out.failures.is_empty(), "{:?}", out.failures);
        out
    }

    fn finding<'a>(facts: &'a Value, package: &str, id: &str) -> &'a Value {
        facts["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| {
                f["normalised_name"] == package
                    && f["ids"].as_array().expect("ids").contains(&json!(id))
            })
            .unwrap_or_else(|| panic!("no {package} {id} finding: {facts:#}"))
    }

    #[test]
    fn first_seen_is_carried_from_the_previous_observation_and_fixes_are_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = dir.path().join("requirements.txt");
        let subject = lock.display().to_string();
        let first = requirements_run(&lock, "flask==0.12.2\nidna==2.7\n", Default::default());
        let facts = &first.observations[0].facts;
        assert_eq!(facts["history"]["basis"], "first observation");
        assert_eq!(finding(facts, "flask", "PYSEC-2018-66")["first_seen"], "2026-12-01T00:00:00Z");

        // The agent stored that observation 61 days earlier; a new alias joined the flask
        // group since (the ids differ), idna was upgraded past its fix, urllib3 is new.
        let mut earlier = facts.clone();
        for f in earlier["findings"].as_array_mut().expect("findings") {
            f["first_seen"] = json!("2026-10-01T00:00:00Z");
            if f["normalised_name"] == "flask" {
                f["ids"] = json!(["PYSEC-2018-66", "OLD-ALIAS-ONLY-THEN"]);
            }
        }
        let at =
            DateTime::parse_from_rfc3339("2026-10-01T00:00:00Z").expect("t").with_timezone(&Utc);
        let observation = |facts| crate::PreviousObservation {
            collected_at: at,
            facts,
            payload_sha256: "0".repeat(64),
        };
        let previous = crate::Previous::new(
            [(subject.clone(), observation(Some(earlier)))].into_iter().collect(),
        );
        let second =
            requirements_run(&lock, "flask==0.12.2\nidna==3.7\nurllib3==1.24.3\n", previous);
        let facts = &second.observations[0].facts;
        assert_eq!(facts["history"]["basis"], "previous observation");
        let flask = finding(facts, "flask", "PYSEC-2018-66");
        assert_eq!(flask["first_seen"], "2026-10-01T00:00:00Z");
        assert_eq!(flask["open_days_at_least"], 61);
        let urllib3 = finding(facts, "urllib3", "PYSEC-2023-212");
        assert_eq!(urllib3["first_seen"], "2026-12-01T00:00:00Z");
        assert_eq!(urllib3["open_days_at_least"], 0);
        let fixed = facts["fixed_since_previous"].as_array().expect("fixed");
        assert_eq!(fixed.len(), 1, "{fixed:?}");
        assert_eq!(fixed[0]["package"], "idna");
        assert_eq!(fixed[0]["how"], "upgraded");
        assert_eq!(fixed[0]["installed_now"], json!(["3.7"]));
        assert_eq!(facts["fixes_since_previous"], 1);
        // PYSEC-2024-60 was published 2024-07-07T18:15:00Z; fixed by 2026-12-01 at the latest.
        assert_eq!(facts["slowest_fix_days_after_publication_at_most"], 876);
        // The check "fixes applied within N days of publication" reads publication age, not
        // first_seen: flask (published 2018) stays far over any N although first seen lately.
        assert!(facts["oldest_fixable_finding_days"].as_i64().expect("days") > 3000);

        let dropped = crate::Previous::new([(subject, observation(None))].into_iter().collect());
        let third = requirements_run(&lock, "flask==0.12.2\n", dropped);
        let facts = &third.observations[0].facts;
        assert_eq!(facts["history"]["basis"], "previous facts dropped by retention");
        assert_eq!(finding(facts, "flask", "PYSEC-2018-66")["first_seen"], "2026-12-01T00:00:00Z");
        assert_eq!(facts["fixes_since_previous"], 0);
    }

    #[test]
    fn a_failed_refresh_keeps_the_last_good_zip_and_is_reported() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let zip_path = dir.path().join("pypi.zip");
        {
            let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).expect("create"));
            zip.start_file("LOCAL-1.json", zip::write::SimpleFileOptions::default())
                .expect("start");
            let record = r#"{"id":"LOCAL-1","modified":"2026-01-01T00:00:00Z","affected":[
                {"package":{"ecosystem":"PyPI","name":"left-pad"},"versions":["1.0"]}]}"#;
            zip.write_all(record.as_bytes()).expect("write");
            zip.finish().expect("finish");
        }
        let good = std::fs::read(&zip_path).expect("read");
        let old = std::time::SystemTime::now() - Duration::from_secs(3 * 3600);
        std::fs::File::options()
            .write(true)
            .open(&zip_path)
            .expect("open")
            .set_modified(old)
            .expect("mtime");
        // A loopback server that answers with half of a zip.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = format!("http://{}/all.zip", listener.local_addr().expect("addr"));
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("accept");
            let mut request = [0u8; 4096];
            let _ = std::io::Read::read(&mut socket, &mut request);
            let body = b"PK\x03\x04\x14\x00\x00\x00half";
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).expect("head");
            socket.write_all(body).expect("body");
        });
        let lock = dir.path().join("requirements.txt");
        std::fs::write(&lock, "left-pad==1.0\n").expect("write");
        let cfg = AdvisoriesConfig {
            lockfiles: vec![LockfileSpec::Path(lock.display().to_string())],
            databases: vec![DatabaseSpec {
                kind: SourceKind::OsvZip,
                path: zip_path.display().to_string(),
                refresh_url: Some(url),
                refresh_hours: Some(1),
            }],
            trust_database_specific_bounds: false,
        };
        let out = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(collect_all(cfg));
        server.join().expect("server");
        assert!(out.failures.is_empty(), "{:?}", out.failures);
        let facts = &out.observations[0].facts;
        assert_eq!(facts["database"]["refresh_failed"], 1);
        let refresh = &facts["database"]["refresh"][0];
        assert_eq!(refresh["outcome"], "failed");
        assert!(refresh["error"].as_str().expect("error").contains("not a zip"), "{refresh}");
        assert_eq!(std::fs::read(&zip_path).expect("read"), good, "the last good zip stays");
        assert!(has_id(facts, "left-pad", "LOCAL-1"), "scanned with the last good data");
    }

    #[test]
    fn config_errors_name_their_keys() {
        let cfg = AdvisoriesConfig {
            lockfiles: vec![LockfileSpec::Path("relative/composer.lock".to_string())],
            databases: vec![
                DatabaseSpec { kind: SourceKind::OsvDir, path: "/x/*".to_string(), ..spec() },
                DatabaseSpec { refresh_url: Some("ftp://x".to_string()), ..spec() },
            ],
            trust_database_specific_bounds: false,
        };
        let errors = cfg.validate().expect_err("invalid");
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, vec!["lockfiles[0]", "databases[0].path", "databases[1].refresh_url"]);
        let toml_cfg: AdvisoriesConfig = toml::from_str(
            "lockfiles = [\"/srv/*/composer.lock\",\n\
             { path = \"/srv/req.txt\", format = \"requirements\" }]\n\
             databases = [{ kind = \"osv-zip\", path = \"/var/lib/osv/all.zip\" }]\n",
        )
        .expect("toml parses");
        assert!(toml_cfg.validate().is_ok());
    }
}
