//! The common shape of what every backup source found, and the facts derived from it.
//!
//! Owns the model shared by all sources — restore points (snapshots, archives, images), run
//! records, integrity and restore results — and the one place where the derived facts are
//! computed: newest successful backup, its age against `now`, retention span, size trend, runs
//! in the window, success on every day of the window. A point only counts as a success when
//! nothing marks it otherwise: a run record saying `partial` or `warning` for that snapshot,
//! or a finding such as an empty archive. It does not run tools or read files.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::times::{hours_between, rfc3339, Stamp};

/// The result of one backup run, or of a source as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunResult {
    /// Everything was saved.
    Success,
    /// Nothing known either way.
    Unknown,
    /// Saved, but the tool warned (borg rc 1, rsnapshot rc 2, rsync 23/24).
    Warning,
    /// A snapshot was written but some files were not read (restic rc 3).
    Partial,
    /// No usable backup was made.
    Failed,
}

impl RunResult {
    /// The name used in facts.
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Success => "success",
            RunResult::Unknown => "unknown",
            RunResult::Warning => "warning",
            RunResult::Partial => "partial",
            RunResult::Failed => "failed",
        }
    }

    /// A number that grows with severity, for `fact_at_most` checks: success 0 … failed 4.
    pub fn rank(self) -> u8 {
        self as u8
    }
}

/// One restore point: a snapshot, archive, backup set or provider image.
#[derive(Debug, Clone)]
pub struct Point {
    /// Identifier (snapshot id, archive name, backup label, image id).
    pub id: String,
    /// When it was taken.
    pub at: Stamp,
    /// Bytes it holds, when the tool says.
    pub bytes: Option<u64>,
    /// Files it holds, when the tool says.
    pub files: Option<u64>,
    /// Whether the repository itself marks it usable (not an error backup, not empty).
    pub good: bool,
    /// The job it belongs to, for comparing it with the previous point of the same job.
    pub job: Option<String>,
}

/// One recorded run of the backup program.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// When it finished, where known.
    pub at: Option<DateTime<Utc>>,
    /// What the run achieved.
    pub result: RunResult,
    /// The exit status the wrapper recorded.
    pub exit_code: Option<i32>,
    /// The snapshot or archive it wrote.
    pub snapshot_id: Option<String>,
    /// Why it is not a success: unreadable items, error lines (bounded).
    pub details: Vec<String>,
}

/// Result of an integrity check run in this collection.
#[derive(Debug, Clone)]
pub struct Integrity {
    /// Whether the check found the repository intact; `None` when it could not run (e.g. the
    /// repository was locked by a running backup), which is not a verdict on the data.
    pub passed: Option<bool>,
    /// When it ran.
    pub at: DateTime<Utc>,
    /// Error lines it printed (bounded).
    pub errors: Vec<String>,
}

/// Everything one source found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Source kind, e.g. `restic`.
    pub source: &'static str,
    /// Configured name.
    pub name: String,
    /// Repository or log location (never with credentials).
    pub location: String,
    /// Restore points, any order.
    pub points: Vec<Point>,
    /// Run records, any order.
    pub runs: Vec<RunRecord>,
    /// The result the repository itself states (pgBackRest status, provider), if any.
    pub stated_result: Option<RunResult>,
    /// Integrity check, when one ran.
    pub integrity: Option<Integrity>,
    /// Restore test result object, when one ran.
    pub restore_test: Option<Value>,
    /// Encryption mode or cipher as the tool names it.
    pub encryption: Option<String>,
    /// Whether the backup data is encrypted (borg `authenticated` modes are not).
    pub encrypted: Option<bool>,
    /// Whether the repository is on another host.
    pub off_host: Option<bool>,
    /// Whether the copy survives loss of this server and its provider account.
    pub independent_copy: Option<bool>,
    /// Observations that checks may want (size collapse, contradicting claims, …).
    pub findings: Vec<Value>,
    /// Every program run: argv, exit code, duration, output digests.
    pub commands: Vec<Value>,
    /// Index in `commands` of the listing the facts rest on; it goes into custody.
    pub primary_command: Option<usize>,
    /// Source-specific facts, merged under `detail`.
    pub detail: Map<String, Value>,
    /// Tool version, for custody.
    pub tool_version: Option<String>,
    /// The configured floor below which a point is empty whatever came before it.
    pub floor: Floor,
    /// Size findings of the previous observation of this source, with when they were first
    /// seen: a collapse stays marked after its point is no longer among the newest ones whose
    /// sizes the tools report.
    pub earlier_collapses: Vec<Value>,
}

/// Absolute minimum size of a usable point of a source (`min_files`, `min_bytes`); a point
/// below it is a size finding and not a success, even without a previous point to compare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Floor {
    /// Fewest files a usable point holds.
    pub min_files: Option<u64>,
    /// Fewest bytes a usable point holds.
    pub min_bytes: Option<u64>,
}

/// Freshness and window policy of an instance.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// A newest success older than this is not fresh.
    pub stale_after_hours: f64,
    /// Days over which runs are counted and daily success is checked.
    pub window_days: u32,
}

/// The most day numbers listed in `window.missing_days_ago` (the count is always exact).
const MAX_MISSING_DAYS: usize = 100;

/// The most detail strings kept per run or check.
pub const MAX_DETAILS: usize = 20;

impl Report {
    /// The facts object and `effective_at` (the newest success).
    pub fn into_facts(
        mut self,
        now: DateTime<Utc>,
        policy: Policy,
    ) -> (Value, Option<DateTime<Utc>>) {
        self.points.sort_by_key(|p| p.at.utc);
        self.runs.sort_by_key(|r| r.at);
        let earlier = std::mem::take(&mut self.earlier_collapses);
        add_size_findings(&mut self.points, self.floor, &earlier, now, &mut self.findings);
        downgrade_empty_runs(&self.points, &mut self.runs);
        let successes = successes(&self.points, &self.runs);
        let newest = successes.last().copied();
        let mut facts = Map::new();
        facts.insert("source".into(), json!(self.source));
        facts.insert("name".into(), json!(self.name));
        facts.insert("location".into(), json!(self.location));
        self.insert_result(&mut facts);
        insert_success(&mut facts, newest, now, policy);
        facts.insert("snapshot_count".into(), json!(self.points.len()));
        facts.insert("success_count".into(), json!(successes.len()));
        insert_retention(&mut facts, &self.points);
        facts.insert("size".into(), size_trend(&self.points));
        facts.insert("runs".into(), self.run_counts(now, policy));
        facts.insert("window".into(), daily_window(&successes, now, policy.window_days));
        facts.insert("integrity".into(), integrity_facts(self.integrity.as_ref(), now));
        facts.insert("restore_test".into(), self.restore_test.clone().unwrap_or(Value::Null));
        facts.insert("encryption".into(), json!(self.encryption));
        facts.insert("encrypted".into(), json!(self.encrypted));
        facts.insert("off_host".into(), json!(self.off_host));
        facts.insert("independent_copy".into(), json!(self.independent_copy));
        let effective_at = newest.map(|p| p.at.utc);
        facts.insert("findings_count".into(), json!(self.findings.len()));
        facts.insert("findings".into(), Value::Array(self.findings));
        facts.insert("detail".into(), Value::Object(self.detail));
        facts.insert("commands".into(), Value::Array(self.commands));
        (Value::Object(facts), effective_at)
    }

    /// Replaces every occurrence of a secret value in the text the tools printed (errors,
    /// details, findings) with `***`, before any of it becomes a fact.
    pub fn scrub(&mut self, secrets: &[String]) {
        let owned: Vec<String> = secrets.iter().filter(|s| !s.is_empty()).cloned().collect();
        if owned.is_empty() {
            return;
        }
        if let Some(check) = &mut self.integrity {
            check.errors.iter_mut().for_each(|e| *e = scrub_text(e, &owned));
        }
        for run in &mut self.runs {
            run.details.iter_mut().for_each(|d| *d = scrub_text(d, &owned));
        }
        let values = self.findings.iter_mut().chain(self.commands.iter_mut());
        values.chain(self.restore_test.as_mut()).for_each(|v| scrub_value(v, &owned));
        self.detail.values_mut().for_each(|v| scrub_value(v, &owned));
        self.location = scrub_text(&self.location, &owned);
    }

    fn insert_result(&self, facts: &mut Map<String, Value>) {
        let last_run = self.runs.last();
        let (result, basis) = match (last_run, self.stated_result) {
            (Some(run), _) => (run.result, "run_record"),
            (None, Some(stated)) => (stated, "repository_status"),
            (None, None) => (RunResult::Unknown, "repository"),
        };
        facts.insert("result".into(), json!(result.as_str()));
        facts.insert("result_rank".into(), json!(result.rank()));
        facts.insert("result_basis".into(), json!(basis));
        facts.insert("last_run".into(), last_run.map_or(Value::Null, run_json));
    }

    fn run_counts(&self, now: DateTime<Utc>, policy: Policy) -> Value {
        let since = now - Duration::days(i64::from(policy.window_days));
        let in_window: Vec<&RunRecord> =
            self.runs.iter().filter(|run| run.at.is_none_or(|at| at > since)).collect();
        let count = |want: RunResult| in_window.iter().filter(|r| r.result == want).count();
        let clean =
            self.runs.iter().rev().take_while(|run| run.result == RunResult::Success).count();
        json!({
            "recorded": self.runs.len(),
            "in_window": in_window.len(),
            "success": count(RunResult::Success),
            "warning": count(RunResult::Warning),
            "partial": count(RunResult::Partial),
            "failed": count(RunResult::Failed),
            "unknown": count(RunResult::Unknown),
            "not_success": in_window.len() - count(RunResult::Success),
            "consecutive_success": clean,
        })
    }
}

/// Points that count as successful backups, oldest first: usable, and no run record says
/// the run that wrote them was not a success.
fn successes<'a>(points: &'a [Point], runs: &[RunRecord]) -> Vec<&'a Point> {
    let marked = |point: &Point| {
        runs.iter().any(|run| {
            run.result != RunResult::Success
                && run.snapshot_id.as_deref().is_some_and(|id| same_id(id, &point.id))
        })
    };
    points.iter().filter(|point| point.good && !marked(point)).collect()
}

/// Ids match when equal or when one is the short form (prefix) of the other.
fn same_id(a: &str, b: &str) -> bool {
    !a.is_empty() && !b.is_empty() && (a.starts_with(b) || b.starts_with(a))
}

fn run_json(run: &RunRecord) -> Value {
    json!({
        "at": run.at.map(rfc3339),
        "result": run.result.as_str(),
        "exit_code": run.exit_code,
        "snapshot_id": run.snapshot_id,
        "details": run.details,
    })
}

fn insert_success(
    facts: &mut Map<String, Value>,
    newest: Option<&Point>,
    now: DateTime<Utc>,
    policy: Policy,
) {
    let age = newest.map(|p| hours_between(p.at.utc, now));
    facts.insert("last_success_utc".into(), json!(newest.map(|p| rfc3339(p.at.utc))));
    let last = newest.map(|p| {
        let mut stamp = p.at.to_json();
        stamp["id"] = json!(p.id);
        stamp
    });
    facts.insert("last_success".into(), last.unwrap_or(Value::Null));
    facts.insert("newest_success_age_hours".into(), json!(age));
    facts.insert("stale_after_hours".into(), json!(policy.stale_after_hours));
    let fresh = age.is_some_and(|hours| hours <= policy.stale_after_hours);
    facts.insert("fresh".into(), json!(fresh));
}

fn insert_retention(facts: &mut Map<String, Value>, points: &[Point]) {
    let (Some(oldest), Some(newest)) = (points.first(), points.last()) else {
        facts.insert("oldest_utc".into(), Value::Null);
        facts.insert("retention_span_days".into(), Value::Null);
        return;
    };
    let span_hours = hours_between(oldest.at.utc, newest.at.utc);
    facts.insert("oldest_utc".into(), json!(rfc3339(oldest.at.utc)));
    facts.insert("retention_span_days".into(), json!((span_hours / 24.0 * 100.0).round() / 100.0));
}

/// Latest and previous size of the newest point (null when the tool does not say).
fn size_trend(points: &[Point]) -> Value {
    let latest = points.last();
    let previous = latest.and_then(|l| previous_of_job(points, points.len() - 1, l.job.as_deref()));
    let bytes = |p: Option<&Point>| p.and_then(|p| p.bytes);
    let files = |p: Option<&Point>| p.and_then(|p| p.files);
    let ratio = match (bytes(latest), bytes(previous)) {
        (Some(now), Some(before)) if before > 0 => {
            Some(((now as f64 / before as f64) * 1000.0).round() / 1000.0)
        }
        _ => None,
    };
    json!({
        "latest_bytes": bytes(latest),
        "previous_bytes": bytes(previous),
        "change_ratio": ratio,
        "latest_files": files(latest),
        "previous_files": files(previous),
    })
}

fn previous_of_job<'a>(points: &'a [Point], index: usize, job: Option<&str>) -> Option<&'a Point> {
    points[..index].iter().rev().find(|p| p.job.as_deref() == job)
}

/// A point that holds no files, fell below the configured floor, or whose file count or size
/// fell below a tenth of the previous point of the same job is a finding ("the source may have
/// gone missing") and does not count as a success. A point an earlier observation found so
/// stays so (reason `seen_earlier`) when its sizes are no longer listed; each finding keeps
/// when it was first seen.
fn add_size_findings(
    points: &mut [Point],
    floor: Floor,
    earlier: &[Value],
    now: DateTime<Utc>,
    findings: &mut Vec<Value>,
) {
    for index in 0..points.len() {
        let previous = previous_of_job(points, index, points[index].job.as_deref());
        let point = &points[index];
        let before = earlier.iter().find(|f| f["id"].as_str().is_some_and(|id| id == point.id));
        let mut reasons = size_problems(point, previous, floor);
        if reasons.is_empty() && before.is_some() {
            reasons.push("seen_earlier");
        }
        if reasons.is_empty() {
            continue;
        }
        let first_seen = before.and_then(|f| f["first_seen_at"].as_str()).map(String::from);
        findings.push(json!({
            "kind": "size_collapse",
            "message": "backup source missing or size collapse",
            "reasons": reasons,
            "id": point.id,
            "previous_id": previous.map(|p| p.id.clone()),
            "files": point.files, "previous_files": previous.and_then(|p| p.files),
            "bytes": point.bytes, "previous_bytes": previous.and_then(|p| p.bytes),
            "min_files": floor.min_files, "min_bytes": floor.min_bytes,
            "first_seen_at": first_seen.unwrap_or_else(|| rfc3339(now)),
        }));
        points[index].good = false;
    }
}

/// Whether a reason is a fact about the point itself, not about the configured floor (a
/// floor that was lowered must not keep old points marked).
fn carried(reason: &Value) -> bool {
    ["no_files", "files_collapse", "bytes_collapse", "seen_earlier"].iter().any(|r| reason == r)
}

/// The size findings in an earlier observation's facts, to carry into this one.
pub fn earlier_collapses(facts: Option<&Value>) -> Vec<Value> {
    let findings = facts.and_then(|f| f["findings"].as_array());
    findings
        .into_iter()
        .flatten()
        .filter(|f| f["kind"] == "size_collapse" && f["id"].is_string())
        .filter(|f| f["reasons"].as_array().is_some_and(|r| r.iter().any(carried)))
        .cloned()
        .collect()
}

/// Why a point is (almost) empty, in words stable enough for checks; empty when it is not.
fn size_problems(point: &Point, previous: Option<&Point>, floor: Floor) -> Vec<&'static str> {
    let mut reasons = Vec::new();
    let below =
        |value: Option<u64>, min: Option<u64>| matches!((value, min), (Some(v), Some(m)) if v < m);
    let collapsed = |now: Option<u64>, before: Option<u64>| match (now, before) {
        (Some(now), Some(before)) => before > 0 && now.saturating_mul(10) < before,
        _ => false,
    };
    if point.files == Some(0) {
        reasons.push("no_files");
    }
    if below(point.files, floor.min_files) {
        reasons.push("below_min_files");
    }
    if below(point.bytes, floor.min_bytes) {
        reasons.push("below_min_bytes");
    }
    if point.files != Some(0) && collapsed(point.files, previous.and_then(|p| p.files)) {
        reasons.push("files_collapse");
    }
    if collapsed(point.bytes, previous.and_then(|p| p.bytes)) {
        reasons.push("bytes_collapse");
    }
    reasons
}

/// A run that exited cleanly but wrote a point found (almost) empty is a `warning`, not a
/// `success`: its source was probably missing.
fn downgrade_empty_runs(points: &[Point], runs: &mut [RunRecord]) {
    for run in runs.iter_mut().filter(|r| r.result == RunResult::Success) {
        let Some(id) = run.snapshot_id.as_deref() else {
            continue;
        };
        if points.iter().any(|p| !p.good && same_id(id, &p.id)) {
            run.result = RunResult::Warning;
            run.details.push(format!("{id} is empty or collapsed in size (see findings)"));
        }
    }
}

/// Fills the sizes a point lacks from what the run that wrote it reported (`borg create
/// --json` stats, the `restic backup --json` summary), so a collapse is seen even where the
/// repository listing carries no sizes.
pub fn fill_sizes(points: &mut [Point], id: &str, files: Option<u64>, bytes: Option<u64>) {
    for point in points.iter_mut().filter(|p| same_id(id, &p.id)) {
        point.files = point.files.or(files);
        point.bytes = point.bytes.or(bytes);
    }
}

/// For each of the last `days` 24-hour periods ending at `now`, whether a success falls in it.
fn daily_window(successes: &[&Point], now: DateTime<Utc>, days: u32) -> Value {
    let mut missing = Vec::new();
    for day in 0..days {
        let end = now - Duration::days(i64::from(day));
        let start = end - Duration::days(1);
        if !successes.iter().any(|p| p.at.utc > start && p.at.utc <= end) {
            missing.push(day);
        }
    }
    let with_success = days as usize - missing.len();
    let every_day = missing.is_empty();
    missing.truncate(MAX_MISSING_DAYS);
    json!({
        "days": days,
        "days_with_success": with_success,
        "every_day": every_day,
        "missing_days_ago": missing,
    })
}

fn integrity_facts(integrity: Option<&Integrity>, now: DateTime<Utc>) -> Value {
    match integrity {
        None => json!({ "checked": false, "passed": null, "checked_at": null, "age_hours": null }),
        Some(check) => json!({
            "checked": check.passed.is_some(),
            "passed": check.passed,
            "checked_at": rfc3339(check.at),
            "age_hours": hours_between(check.at, now),
            "errors": check.errors,
        }),
    }
}

/// `text` with each non-empty secret replaced by `***`, ignoring ASCII case (messages are
/// lowercased on the way, and a secret must not survive that).
pub fn scrub_text(text: &str, secrets: &[String]) -> String {
    secrets.iter().filter(|s| !s.is_empty()).fold(text.to_string(), |t, s| scrub_one(&t, s))
}

fn scrub_one(text: &str, secret: &str) -> String {
    // ASCII lowercasing keeps byte offsets, so matches in the folded copy index the original.
    let folded = text.to_ascii_lowercase();
    let needle = secret.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, _) in folded.match_indices(&needle) {
        if start < last {
            continue;
        }
        out.push_str(&text[last..start]);
        out.push_str("***");
        last = start + needle.len();
    }
    out.push_str(&text[last..]);
    out
}

fn scrub_value(value: &mut Value, secrets: &[String]) {
    match value {
        Value::String(text) => *text = scrub_text(text, secrets),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, secrets)),
        Value::Object(map) => map.values_mut().for_each(|v| scrub_value(v, secrets)),
        _ => {}
    }
}

/// Keeps the first [`MAX_DETAILS`] non-empty trimmed lines matching `keep`.
pub fn detail_lines(text: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && keep(line))
        .take(MAX_DETAILS)
        .map(|line| line.chars().take(300).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::times::{parse_iso, Zone};

    fn point(id: &str, at: &str, files: Option<u64>, bytes: Option<u64>) -> Point {
        Point {
            id: id.into(),
            at: parse_iso(at, Zone::Utc).expect("time"),
            bytes,
            files,
            good: true,
            job: Some("web1".into()),
        }
    }

    fn now() -> DateTime<Utc> {
        parse_iso("2026-08-20T12:00:00Z", Zone::Utc).expect("now").utc
    }

    const POLICY: Policy = Policy { stale_after_hours: 26.0, window_days: 3 };

    #[test]
    fn warning_run_and_empty_archive_do_not_count_as_success() {
        let mut report = Report { source: "borg", ..Report::default() };
        report.points.push(point("web1-1", "2026-08-19T02:00:00Z", Some(50), Some(50_000)));
        report.points.push(point("web1-2", "2026-08-20T02:00:00Z", Some(0), Some(300)));
        report.runs.push(RunRecord {
            at: Some(now() - Duration::hours(10)),
            result: RunResult::Warning,
            exit_code: Some(1),
            snapshot_id: Some("web1-2".into()),
            details: vec![],
        });
        let (facts, effective) = report.into_facts(now(), POLICY);
        assert_eq!(facts["result"], "warning");
        assert_eq!(facts["last_success_utc"], "2026-08-19T02:00:00.000Z");
        assert_eq!(effective.map(rfc3339).as_deref(), Some("2026-08-19T02:00:00.000Z"));
        assert_eq!(facts["newest_success_age_hours"], 34.0);
        assert_eq!(facts["fresh"], false);
        assert_eq!(facts["findings"][0]["kind"], "size_collapse");
        assert_eq!(facts["findings"][0]["previous_files"], 50);
        assert_eq!(facts["size"]["change_ratio"], 0.006);
        assert_eq!(facts["runs"]["warning"], 1);
        assert_eq!(facts["runs"]["consecutive_success"], 0);
        assert_eq!(facts["window"]["missing_days_ago"], json!([0, 2]));
    }

    #[test]
    fn near_empty_points_and_the_floor_are_findings_and_not_successes() {
        let mut report = Report { source: "restic", ..Report::default() };
        report.points.push(point("a", "2026-08-18T02:00:00Z", Some(50), Some(50_000)));
        // Not zero, but near it: 2 of 50 files, 300 of 50 000 bytes.
        report.points.push(point("b", "2026-08-19T02:00:00Z", Some(2), Some(300)));
        report.points.push(point("c", "2026-08-20T02:00:00Z", Some(2), Some(300)));
        report.runs.push(RunRecord {
            at: Some(now() - Duration::hours(34)),
            result: RunResult::Success,
            exit_code: Some(0),
            snapshot_id: Some("b".into()),
            details: vec![],
        });
        let (facts, _) = report.clone().into_facts(now(), POLICY);
        assert_eq!(facts["findings_count"], 1, "{facts}");
        assert_eq!(facts["findings"][0]["reasons"], json!(["files_collapse", "bytes_collapse"]));
        assert_eq!(facts["findings"][0]["id"], "b");
        assert_eq!(facts["last_run"]["result"], "warning");
        // The next point of the same size is compared with b: no new collapse.
        assert_eq!(facts["last_success"]["id"], "c");
        // An absolute floor catches what stays small, with or without a previous point.
        report.floor = Floor { min_files: Some(10), min_bytes: Some(1_000) };
        report.points.remove(0);
        let (facts, effective) = report.into_facts(now(), POLICY);
        assert_eq!(facts["findings_count"], 2, "{facts}");
        assert_eq!(facts["findings"][0]["reasons"], json!(["below_min_files", "below_min_bytes"]));
        assert_eq!(facts["findings"][0]["previous_id"], Value::Null);
        assert_eq!(facts["last_success_utc"], Value::Null);
        assert_eq!(effective, None);
    }

    #[test]
    fn a_collapse_stays_marked_once_its_sizes_are_no_longer_listed() {
        let mut report = Report { source: "restic", ..Report::default() };
        report.points.push(point("a", "2026-08-18T02:00:00Z", Some(50), Some(50_000)));
        report.points.push(point("b", "2026-08-19T02:00:00Z", Some(0), Some(0)));
        let (first, _) = report.clone().into_facts(now(), POLICY);
        assert_eq!(first["findings"][0]["first_seen_at"], "2026-08-20T12:00:00.000Z");
        // A day later restic lists sizes only for the two newest snapshots: b has none.
        let mut later = report;
        later.points[1].files = None;
        later.points[1].bytes = None;
        later.points.push(point("c", "2026-08-20T02:00:00Z", Some(50), Some(50_000)));
        later.earlier_collapses = earlier_collapses(Some(&first));
        let (facts, _) = later.clone().into_facts(now() + Duration::days(1), POLICY);
        assert_eq!(facts["findings_count"], 1, "{facts}");
        assert_eq!(facts["findings"][0]["reasons"], json!(["seen_earlier"]));
        assert_eq!(facts["findings"][0]["first_seen_at"], "2026-08-20T12:00:00.000Z");
        assert_eq!(facts["success_count"], 2);
        later.earlier_collapses.clear();
        assert_eq!(later.into_facts(now(), POLICY).0["success_count"], 3);
        assert!(earlier_collapses(None).is_empty());
    }

    #[test]
    fn sizes_from_run_records_fill_gaps_and_secrets_are_scrubbed() {
        let mut points = vec![point("0333ea97aaaa", "2026-08-20T02:00:00Z", None, None)];
        fill_sizes(&mut points, "0333ea97", Some(0), Some(12));
        assert_eq!((points[0].files, points[0].bytes), (Some(0), Some(12)));
        fill_sizes(&mut points, "0333ea97", Some(5), None);
        assert_eq!(points[0].files, Some(0), "a size the repository gave is kept");
        let mut report = Report { location: "s3:h/b".into(), ..Report::default() };
        report.integrity = Some(Integrity {
            passed: Some(false),
            at: now(),
            errors: vec!["key SeCrEt bad".into()],
        });
        report.findings.push(json!({ "nested": ["SeCrEt!"] }));
        report.scrub(&["SeCrEt".to_string(), String::new()]);
        let (facts, _) = report.into_facts(now(), POLICY);
        assert!(!facts.to_string().contains("SeCrEt"), "{facts}");
        assert_eq!(facts["integrity"]["errors"][0], "key *** bad");
        assert_eq!(facts["findings"][0]["nested"][0], "***!");
        assert_eq!(scrub_text("fatal: secret x", &["SeCrEt".into()]), "fatal: *** x");
    }

    #[test]
    fn unknown_sizes_stay_null_and_an_empty_report_is_not_fresh() {
        let mut report = Report { source: "restic", ..Report::default() };
        report.points.push(point("a", "2026-08-20T01:30:00Z", None, None));
        let (facts, _) = report.into_facts(now(), POLICY);
        assert_eq!(facts["size"]["latest_bytes"], Value::Null);
        assert_eq!(facts["result"], "unknown");
        assert_eq!(facts["fresh"], true);
        let (empty, effective) = Report::default().into_facts(now(), POLICY);
        assert_eq!(empty["fresh"], false);
        assert_eq!(empty["last_success_utc"], Value::Null);
        assert_eq!(effective, None);
        assert_eq!(empty["window"]["days_with_success"], 0);
    }
}
