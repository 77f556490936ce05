//! Matching the packages of one lockfile against the database, and the facts that result.
//!
//! Owns [`scan`]: each registry package is looked up by (ecosystem, normalised name) and
//! every record naming it is evaluated with `osv::evaluate`. Affected records of one package
//! are grouped by alias group into one [`Finding`] that lists every ID; records that could not
//! be evaluated are listed as not assessed; withdrawn records are listed as not applied;
//! unassessable packages are listed with the advisories that name them when the package is
//! the registry project (branch versions, unparsable versions). Severity comes from CVSS v3 or
//! v4 vectors (base score computed), a score given by the source, or the database label. It
//! does not read files (`lockfile`, `db`) or decide pass/fail (checks in the agent do).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::cvss::{base_score, Severity};
use super::db::Database;
use super::lockfile::Package;
use super::osv::{evaluate, Hit, Outcome, Record};
use super::version::{go_pseudo_version, Ecosystem, Version};

/// How `database_specific` bounds on open ranges are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// When true, a range with no closing event whose `database_specific` bound excludes the
    /// installed version is treated as not affected (marked `inferred`). Default false: the
    /// OSV specification's answer (affected) stands, with a warning.
    pub trust_database_specific_bounds: bool,
}

/// One vulnerability affecting one installed package.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Ecosystem of the package.
    pub ecosystem: Ecosystem,
    /// Name as written in the lockfile.
    pub name: String,
    /// Normalised name used for matching.
    pub normalised_name: String,
    /// Installed version.
    pub installed: String,
    /// Direct dependency, where known.
    pub direct: Option<bool>,
    /// Development dependency, where known.
    pub dev: Option<bool>,
    /// The matched records' IDs.
    pub records: BTreeSet<String>,
    /// Every ID of the vulnerability (matched IDs and their aliases).
    pub ids: BTreeSet<String>,
    /// Fixed versions named by the matched ranges.
    pub fixed: BTreeSet<String>,
    /// Severity rating, when any source gives one.
    pub severity: Option<Severity>,
    /// The highest base score.
    pub score: Option<f64>,
    /// The vector the score came from.
    pub vector: Option<String>,
    /// Earliest publication time of the matched records.
    pub published: Option<String>,
    /// RustSec informational kind (`unmaintained`, `unsound`, `notice`).
    pub informational: Option<String>,
    /// `high`, or `low` with a reason.
    pub confidence: String,
    /// Evidence and data-quality warnings.
    pub notes: Vec<String>,
    /// Whether `database_specific` bounds say "not affected" (see [`Policy`]).
    pub inferred_not_affected: bool,
    /// One-line summary of the first matched record.
    pub summary: Option<String>,
}

/// Everything one lockfile scan found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Registry packages compared (after removing duplicates).
    pub assessed: usize,
    /// Findings, one per (package, vulnerability).
    pub findings: Vec<Finding>,
    /// Findings dropped under [`Policy::trust_database_specific_bounds`].
    pub inferred_clean: Vec<Finding>,
    /// (package, version, advisory, reason) of records that could not be evaluated.
    pub not_assessed: Vec<(String, String, String, String)>,
    /// Unassessable packages with the advisories that name them.
    pub unassessable: Vec<(Package, String, Vec<String>)>,
    /// (package, advisory, withdrawn) of withdrawn records naming an installed package.
    pub withdrawn: Vec<(String, String, String)>,
    /// Data warnings met while matching.
    pub warnings: Vec<String>,
}

/// Matches `packages` against `db`.
pub fn scan(db: &Database, packages: &[Package], policy: Policy) -> Report {
    let mut report = Report::default();
    for package in dedupe(packages) {
        let norm = package.ecosystem.normalise_name(&package.name);
        let candidates = db.for_package(package.ecosystem, &norm);
        if let Some(u) = &package.unassessable {
            let ids = if same_project(&u.reason) { live_ids(db, candidates) } else { Vec::new() };
            report.unassessable.push((package.clone(), u.reason.clone(), ids));
            continue;
        }
        let installed = match Version::parse(package.ecosystem, &package.version) {
            Ok(v) => v,
            Err(error) => {
                let ids = live_ids(db, candidates);
                report.unassessable.push((package.clone(), error.to_string(), ids));
                continue;
            }
        };
        report.assessed += 1;
        scan_package(db, &package, &norm, &installed, candidates, policy, &mut report);
    }
    report
}

/// Reasons under which the package is still the registry project, so its advisories apply.
fn same_project(reason: &str) -> bool {
    reason.starts_with("branch version") || reason == "not pinned" || reason == "no version"
}

fn live_ids(db: &Database, candidates: &[usize]) -> Vec<String> {
    candidates
        .iter()
        .filter_map(|&i| db.records.get(i))
        .filter(|r| r.withdrawn.is_none())
        .map(|r| r.id.clone())
        .collect()
}

/// Drops exact duplicates (same ecosystem, normalised name, version and source state),
/// merging `direct` (any) and `dev` (all).
fn dedupe(packages: &[Package]) -> Vec<Package> {
    let mut seen: BTreeMap<(Ecosystem, String, String, bool), usize> = BTreeMap::new();
    let mut out: Vec<Package> = Vec::new();
    for p in packages {
        let key = (
            p.ecosystem,
            p.ecosystem.normalise_name(&p.name),
            p.version.clone(),
            p.unassessable.is_some(),
        );
        match seen.get(&key) {
            Some(&i) => {
                let kept = &mut out[i];
                kept.direct = merge(kept.direct, p.direct, |a, b| a || b);
                kept.dev = merge(kept.dev, p.dev, |a, b| a && b);
            }
            None => {
                seen.insert(key, out.len());
                out.push(p.clone());
            }
        }
    }
    out
}

fn merge(a: Option<bool>, b: Option<bool>, f: fn(bool, bool) -> bool) -> Option<bool> {
    match (a, b) {
        (Some(x), Some(y)) => Some(f(x, y)),
        (x, y) => x.or(y),
    }
}

fn scan_package(
    db: &Database,
    package: &Package,
    norm: &str,
    installed: &Version,
    candidates: &[usize],
    policy: Policy,
    report: &mut Report,
) {
    let mut groups: BTreeMap<usize, Finding> = BTreeMap::new();
    for &index in candidates {
        let Some(record) = db.records.get(index) else { continue };
        if let Some(when) = &record.withdrawn {
            report.withdrawn.push((package.name.clone(), record.id.clone(), when.clone()));
            continue;
        }
        match evaluate(record, package.ecosystem, norm, installed, &mut report.warnings) {
            Outcome::Affected(hit) => {
                let finding =
                    groups.entry(db.group(index)).or_insert_with(|| new_finding(package, norm));
                add_record(finding, record, hit);
            }
            Outcome::NotAssessed(reason) => report.not_assessed.push((
                package.name.clone(),
                package.version.clone(),
                record.id.clone(),
                reason,
            )),
            Outcome::NotAffected => {}
        }
    }
    for finding in groups.into_values() {
        if policy.trust_database_specific_bounds && finding.inferred_not_affected {
            report.inferred_clean.push(finding);
        } else {
            report.findings.push(finding);
        }
    }
}

fn new_finding(package: &Package, norm: &str) -> Finding {
    let (confidence, note) = confidence(package);
    Finding {
        ecosystem: package.ecosystem,
        name: package.name.clone(),
        normalised_name: norm.to_string(),
        installed: package.version.clone(),
        direct: package.direct,
        dev: package.dev,
        records: BTreeSet::new(),
        ids: BTreeSet::new(),
        fixed: BTreeSet::new(),
        severity: None,
        score: None,
        vector: None,
        published: None,
        informational: None,
        confidence,
        notes: note.into_iter().collect(),
        inferred_not_affected: false,
        summary: None,
    }
}

/// ADV-12: a Go pseudo-version on v0.0.0 says nothing about which release the commit is in.
fn confidence(package: &Package) -> (String, Option<String>) {
    if package.ecosystem == Ecosystem::Go {
        if let Some(pseudo) = go_pseudo_version(&package.version) {
            let note = format!("commit {} at {}", pseudo.commit, pseudo.commit_time);
            if pseudo.zero_base {
                return ("low (pseudo-version on a v0.0.0 base)".to_string(), Some(note));
            }
            return ("high".to_string(), Some(note));
        }
    }
    ("high".to_string(), None)
}

fn add_record(finding: &mut Finding, record: &Record, hit: Hit) {
    let first = finding.records.is_empty();
    finding.records.insert(record.id.clone());
    finding.ids.insert(record.id.clone());
    finding.ids.extend(record.aliases.iter().cloned());
    finding.fixed.extend(hit.fixed);
    finding.notes.extend(hit.warnings.into_iter().map(|w| format!("{}: {w}", record.id)));
    finding.inferred_not_affected = if first {
        hit.inferred_not_affected
    } else {
        finding.inferred_not_affected && hit.inferred_not_affected
    };
    if finding.summary.is_none() {
        finding.summary = record.summary.clone();
    }
    if let Some(kind) = hit.informational {
        finding.informational.get_or_insert(kind);
    }
    if let Some(p) = &record.published {
        if finding.published.as_ref().is_none_or(|old| p < old) {
            finding.published = Some(p.clone());
        }
    }
    rate(finding, record);
}

/// Takes the highest of: computed CVSS v3/v4 base scores, a score given by the source, the
/// label. Other vector kinds (CVSS v2, Ubuntu priorities) are kept as the vector only.
fn rate(finding: &mut Finding, record: &Record) {
    let vectors = record.severity.iter().chain(record.affected.iter().flat_map(|a| &a.severity));
    for (kind, vector) in vectors {
        if kind != "CVSS_V3" && kind != "CVSS_V4" {
            if finding.vector.is_none() {
                finding.vector = Some(vector.clone());
            }
            continue;
        }
        match base_score(vector) {
            Ok(scored) if finding.score.is_none_or(|old| scored.score > old) => {
                finding.score = Some(scored.score);
                finding.vector = Some(vector.clone());
                finding.severity = Some(Severity::from_score(scored.score));
            }
            Ok(_) => {}
            Err(error) => finding.notes.push(format!("{}: bad cvss vector {error}", record.id)),
        }
    }
    if let Some(score) = record.given_score {
        if finding.score.is_none_or(|old| score > old) {
            finding.score = Some(score);
            finding.severity = Some(Severity::from_score(score));
        }
    }
    if finding.score.is_none() {
        let label = record.severity_label.as_deref().and_then(Severity::from_label);
        if label > finding.severity {
            finding.severity = label;
        }
    }
}

/// Days from an RFC 3339 time to `now`, rounded down; `None` when unparsable.
pub fn days_since(time: &str, now: DateTime<Utc>) -> Option<i64> {
    let then = DateTime::parse_from_rfc3339(time).ok()?;
    Some((now - then.with_timezone(&Utc)).num_days())
}

/// The JSON form of one finding.
pub fn finding_json(f: &Finding, now: DateTime<Utc>) -> Value {
    let days = f.published.as_deref().and_then(|p| days_since(p, now));
    json!({
        "ecosystem": f.ecosystem.osv_name(),
        "package": f.name,
        "normalised_name": f.normalised_name,
        "installed": f.installed,
        "direct": f.direct,
        "dev": f.dev,
        "records": f.records,
        "ids": f.ids,
        "fixed": f.fixed,
        "fix_available": !f.fixed.is_empty(),
        "severity": f.severity.map_or("unknown", Severity::as_str),
        "cvss_score": f.score,
        "cvss_vector": f.vector,
        "published": f.published,
        "days_since_published": days,
        "informational": f.informational,
        "counted": counted(f),
        "confidence": f.confidence,
        "notes": f.notes,
        "inferred_not_affected_by_database_specific": f.inferred_not_affected,
        "summary": f.summary,
    })
}

/// Whether a finding counts as a vulnerability: everything except RustSec informational
/// notices (unmaintained, unsound, notice) that carry no severity. An informational record
/// with a CVSS score (e.g. an unsound crate with CVEs) counts at that severity.
pub fn counted(f: &Finding) -> bool {
    f.informational.is_none() || f.severity.is_some()
}

/// Counts by severity: `by_severity` (exact, `unknown` for counted findings without any
/// severity) and `at_or_above` (cumulative, `unknown` excluded); uncounted informational
/// notices are counted apart.
pub fn counts(findings: &[Finding]) -> (Value, Value, usize) {
    let mut by: BTreeMap<&str, usize> =
        ["none", "low", "medium", "high", "critical", "unknown"].iter().map(|k| (*k, 0)).collect();
    let mut informational = 0;
    for f in findings {
        if !counted(f) {
            informational += 1;
            continue;
        }
        *by.entry(f.severity.map_or("unknown", Severity::as_str)).or_default() += 1;
    }
    let mut at_or_above = serde_json::Map::new();
    for level in Severity::ALL {
        let n: usize = findings.iter().filter(|f| f.severity.is_some_and(|s| s >= level)).count();
        at_or_above.insert(level.as_str().to_string(), json!(n));
    }
    (json!(by), Value::Object(at_or_above), informational)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisories::db::Snapshot;
    use crate::advisories::osv::parse_osv;

    fn record(id: &str, name: &str, severity: &str) -> Record {
        let text = format!(
            r#"{{"id":"{id}","modified":"2026-01-01T00:00:00Z","severity":[{severity}],
            "affected":[{{"package":{{"ecosystem":"npm","name":"{name}"}},
            "ranges":[{{"type":"SEMVER",
                "events":[{{"introduced":"0"}},{{"fixed":"2.0.0"}}]}}]}}]}}"#
        );
        parse_osv(text.as_bytes(), id).expect("record parses")
    }

    #[test]
    fn cvss_v4_scores_feed_the_same_counts_as_v3() {
        let v4 = r#"{"type":"CVSS_V4","score":
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}"#;
        let v3 = r#"{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L"}"#;
        let bad = r#"{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L"}"#;
        let db = Database::from_records(
            vec![
                record("V4-ONLY", "a", v4),
                record("V3-ONLY", "b", v3),
                record("BOTH", "c", &format!("{v3},{v4}")),
                record("BAD-V4", "d", bad),
            ],
            Snapshot::default(),
        );
        let packages: Vec<Package> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| Package::registry(Ecosystem::Npm, n, "1.0.0"))
            .collect();
        let report = scan(&db, &packages, Policy::default());
        let of = |name: &str| report.findings.iter().find(|f| f.name == name).expect(name);
        assert_eq!(of("a").score, Some(9.3));
        assert_eq!(of("a").severity, Some(Severity::Critical));
        assert_eq!(of("b").severity, Some(Severity::Medium));
        assert_eq!(of("c").score, Some(9.3), "the higher of the v3 and v4 base scores");
        assert!(of("c").vector.as_deref().is_some_and(|v| v.starts_with("CVSS:4.0/")));
        assert_eq!(of("d").severity, None);
        assert!(of("d").notes.iter().any(|n| n.contains("missing base metric")), "{:?}", of("d"));
        let (by, at_or_above, _) = counts(&report.findings);
        assert_eq!(by["critical"], 2);
        assert_eq!(by["medium"], 1);
        assert_eq!(by["unknown"], 1);
        assert_eq!(at_or_above["critical"], 2);
        assert_eq!(at_or_above["medium"], 3);
    }
}
