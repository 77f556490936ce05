//! How long each finding has been open on this host, and which findings were fixed since the
//! previous observation of the same lockfile, from `ctx.previous`.
//!
//! Owns [`first_seen`], [`open_times`] and [`fixed_since`]. A finding is the same finding as
//! one of the previous observation when it names the same package (ecosystem and normalised
//! name) and shares at least one ID or alias with it. The installed version is deliberately
//! not part of that identity: an upgrade to another affected version is not a fix, so the
//! clock keeps running; and matching on any shared ID keeps the clock when a database adds a
//! new alias or twin record to the group. A matched finding keeps the earliest `first_seen`;
//! a new one gets the collection time. A finding that disappears and comes back later starts
//! anew.
//!
//! The open time is a lower bound: the finding is open since the later of its publication and
//! the earlier of `first_seen` and the lockfile's modification time (the file has held the
//! version at least since then). On the first observation (or when retention dropped the
//! previous facts) `first_seen` is only the start of observation, so checks about fix delays
//! must not use it: "fixes applied within N days of publication" is
//! `fact_at_most /oldest_fixable_finding_days N`, counted from publication, which a freshly
//! installed agent cannot make look younger. `fixed_since_previous` lists what went away and
//! how (`upgraded`, `removed`, or `advisory no longer applies` when the same version is still
//! installed, which is a data change, not a fix). It does not match or rate (`findings`).

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::findings::{counted, Finding};
use super::lockfile::Package;
use crate::PreviousObservation;

/// One finding as an earlier observation recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Remembered {
    /// OSV ecosystem name.
    pub ecosystem: String,
    /// Normalised package name.
    pub package: String,
    /// Installed version then.
    pub installed: String,
    /// Every ID of the vulnerability then.
    pub ids: BTreeSet<String>,
    /// When this host first showed it.
    pub first_seen: DateTime<Utc>,
    /// Publication time of the advisory, if known.
    pub published: Option<String>,
    /// Whether it counted (not an informational notice) and a fix was known.
    pub fixable: bool,
}

/// What the previous observation tells, or why it tells nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Basis {
    /// No earlier observation of this lockfile: first-seen times start now.
    FirstObservation,
    /// Retention dropped the previous facts; first-seen times start now.
    FactsDropped(DateTime<Utc>),
    /// The previous observation at that time, with its findings.
    Previous(DateTime<Utc>, Vec<Remembered>),
}

impl Basis {
    /// Reads the previous observation of a lockfile.
    pub fn from_previous(previous: Option<&PreviousObservation>) -> Basis {
        match previous {
            None => Basis::FirstObservation,
            Some(p) => match &p.facts {
                None => Basis::FactsDropped(p.collected_at),
                Some(facts) => Basis::Previous(p.collected_at, remembered(facts, p.collected_at)),
            },
        }
    }

    /// The facts' name of the basis.
    pub fn describe(&self) -> Value {
        let at = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        match self {
            Basis::FirstObservation => json!({"basis": "first observation"}),
            Basis::FactsDropped(t) => {
                json!({"basis": "previous facts dropped by retention", "previous_at": at(t)})
            }
            Basis::Previous(t, _) => json!({"basis": "previous observation", "previous_at": at(t)}),
        }
    }

    fn remembered(&self) -> &[Remembered] {
        match self {
            Basis::Previous(_, list) => list,
            _ => &[],
        }
    }
}

/// Findings of earlier facts: the listed `findings` and the `history.unlisted` overflow.
fn remembered(facts: &Value, fallback: DateTime<Utc>) -> Vec<Remembered> {
    let listed = facts["findings"].as_array().into_iter().flatten();
    let unlisted = facts["history"]["unlisted"].as_array().into_iter().flatten();
    let carried = facts["history"]["carried"].as_array().into_iter().flatten();
    listed.chain(unlisted).chain(carried).filter_map(|f| one_remembered(f, fallback)).collect()
}

fn one_remembered(f: &Value, fallback: DateTime<Utc>) -> Option<Remembered> {
    let text = |k: &str| f[k].as_str().map(str::to_string);
    let ids: BTreeSet<String> =
        f["ids"].as_array()?.iter().filter_map(Value::as_str).map(String::from).collect();
    let first_seen = text("first_seen")
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map_or(fallback, |t| t.with_timezone(&Utc));
    Some(Remembered {
        ecosystem: text("ecosystem")?,
        package: text("normalised_name")?,
        installed: text("installed").unwrap_or_default(),
        ids,
        first_seen,
        published: text("published"),
        fixable: f["counted"] != false && f["fix_available"] == true,
    })
}

fn same(f: &Finding, r: &Remembered) -> bool {
    f.ecosystem.osv_name() == r.ecosystem
        && f.normalised_name == r.package
        && !f.ids.is_disjoint(&r.ids)
}

/// First-seen time of each finding (same order): the earliest matching earlier one, or `now`.
pub fn first_seen(findings: &[Finding], basis: &Basis, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    findings
        .iter()
        .map(|f| {
            basis
                .remembered()
                .iter()
                .filter(|r| same(f, r))
                .map(|r| r.first_seen)
                .min()
                .map_or(now, |t| t.min(now))
        })
        .collect()
}

/// The lower bound of how long a finding has been open, from its first-seen time, the
/// lockfile's modification time and the publication time.
pub fn open_since(
    first_seen: DateTime<Utc>,
    lockfile_modified: Option<DateTime<Utc>>,
    published: Option<&str>,
) -> DateTime<Utc> {
    let present = lockfile_modified.map_or(first_seen, |m| m.min(first_seen));
    let published =
        published.and_then(|p| DateTime::parse_from_rfc3339(p).ok()).map(|p| p.with_timezone(&Utc));
    published.map_or(present, |p| p.max(present))
}

/// `open_days_at_least` and `first_seen` of every finding in `facts["findings"]` (listed in
/// the same order as `findings`), `oldest_open_days_at_least`, and the overflow of first-seen
/// times for findings beyond the listed ones (so that the next run still knows them).
pub fn open_times(
    facts: &mut Value,
    findings: &[Finding],
    seen: &[DateTime<Utc>],
    lockfile_modified: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) {
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut oldest = 0;
    let mut unlisted = Vec::new();
    let listed = facts["findings"].as_array().map_or(0, Vec::len);
    for (i, (finding, first)) in findings.iter().zip(seen).enumerate() {
        let since = open_since(*first, lockfile_modified, finding.published.as_deref());
        let days = (now - since).num_days().max(0);
        if counted(finding) {
            oldest = oldest.max(days);
        }
        if i < listed {
            let entry = &mut facts["findings"][i];
            entry["first_seen"] = json!(stamp(*first));
            entry["open_since_at_least"] = json!(stamp(since));
            entry["open_days_at_least"] = json!(days);
        } else {
            unlisted.push(json!({
                "ecosystem": finding.ecosystem.osv_name(),
                "normalised_name": finding.normalised_name,
                "installed": finding.installed,
                "ids": finding.ids,
                "first_seen": stamp(*first),
                "published": finding.published,
                "counted": counted(finding),
                "fix_available": !finding.fixed.is_empty(),
            }));
        }
    }
    facts["oldest_open_days_at_least"] = json!(oldest);
    facts["history"]["unlisted"] = Value::Array(unlisted);
}

/// What went away since the previous observation.
#[derive(Debug, Default)]
pub struct Gone {
    /// One entry per finding that went away, with how.
    pub entries: Vec<Value>,
    /// How many of them are fixes (`upgraded`, `removed`) of fixable findings.
    pub fixes: usize,
    /// The slowest of those fixes in days after publication, at most (the fix happened
    /// between the previous observation and now).
    pub slowest_days: Option<i64>,
    /// Findings whose version is still installed although no advisory matched it now, kept
    /// (with their first-seen time) while the database is incomplete, so that a source that
    /// failed to load once does not restart their clocks.
    pub carried: Vec<Value>,
}

/// Findings of the previous observation that are gone now, each with how it went away; only
/// `upgraded` and `removed` are fixes. `database_complete` is false when a source failed.
pub fn fixed_since(
    findings: &[Finding],
    packages: &[Package],
    basis: &Basis,
    database_complete: bool,
    now: DateTime<Utc>,
) -> Gone {
    let Basis::Previous(previous_at, list) = basis else { return Gone::default() };
    let mut out = Gone::default();
    for gone in list.iter().filter(|r| !findings.iter().any(|f| same(f, r))) {
        let versions: Vec<&str> = packages
            .iter()
            .filter(|p| p.ecosystem.osv_name() == gone.ecosystem)
            .filter(|p| p.ecosystem.normalise_name(&p.name) == gone.package)
            .map(|p| p.version.as_str())
            .collect();
        let how = if versions.contains(&gone.installed.as_str()) {
            "advisory no longer applies"
        } else if versions.is_empty() {
            "removed"
        } else {
            "upgraded"
        };
        let days = gone.published.as_deref().and_then(|p| super::findings::days_since(p, now));
        if how != "advisory no longer applies" && gone.fixable {
            out.fixes += 1;
            out.slowest_days = out.slowest_days.max(days);
        }
        if how == "advisory no longer applies" && !database_complete {
            out.carried.push(json!({
                "ecosystem": gone.ecosystem, "normalised_name": gone.package,
                "installed": gone.installed, "ids": gone.ids, "published": gone.published,
                "first_seen": gone.first_seen.to_rfc3339_opts(SecondsFormat::Secs, true),
                "counted": true, "fix_available": gone.fixable,
            }));
        }
        out.entries.push(json!({
            "ecosystem": gone.ecosystem, "package": gone.package, "ids": gone.ids,
            "installed_before": gone.installed, "installed_now": versions, "how": how,
            "first_seen": gone.first_seen.to_rfc3339_opts(SecondsFormat::Secs, true),
            "published": gone.published,
            "fixed_after": previous_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "days_after_publication_at_most": days,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisories::version::Ecosystem;

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("time").with_timezone(&Utc)
    }

    fn finding(name: &str, version: &str, ids: &[&str]) -> Finding {
        Finding {
            ecosystem: Ecosystem::PyPi,
            name: name.to_string(),
            normalised_name: name.to_string(),
            installed: version.to_string(),
            direct: None,
            dev: None,
            records: ids.iter().take(1).map(|s| s.to_string()).collect(),
            ids: ids.iter().map(|s| s.to_string()).collect(),
            fixed: ["9.9".to_string()].into_iter().collect(),
            severity: None,
            score: None,
            vector: None,
            published: Some("2026-06-01T00:00:00Z".to_string()),
            informational: None,
            confidence: "high".to_string(),
            notes: Vec::new(),
            inferred_not_affected: false,
            summary: None,
        }
    }

    fn remembered(name: &str, version: &str, ids: &[&str], first: &str) -> Remembered {
        Remembered {
            ecosystem: "PyPI".to_string(),
            package: name.to_string(),
            installed: version.to_string(),
            ids: ids.iter().map(|s| s.to_string()).collect(),
            first_seen: time(first),
            published: Some("2026-06-01T00:00:00Z".to_string()),
            fixable: true,
        }
    }

    #[test]
    fn identity_is_package_and_any_shared_id_not_the_version() {
        let now = time("2026-12-01T00:00:00Z");
        let basis = Basis::Previous(
            time("2026-11-30T00:00:00Z"),
            vec![
                remembered("a", "1.0", &["CVE-1", "GHSA-1"], "2026-07-01T00:00:00Z"),
                remembered("b", "1.0", &["CVE-2"], "2026-08-01T00:00:00Z"),
            ],
        );
        let now_findings = vec![
            finding("a", "1.1", &["PYSEC-1", "CVE-1"]), // upgraded, still affected, new record
            finding("b", "1.0", &["CVE-3"]),            // same package, another vulnerability
        ];
        let seen = first_seen(&now_findings, &basis, now);
        assert_eq!(seen, vec![time("2026-07-01T00:00:00Z"), now]);
        // a's clock runs from first_seen (after publication), b's from now.
        let since = open_since(seen[0], None, now_findings[0].published.as_deref());
        assert_eq!(since, time("2026-07-01T00:00:00Z"));
        let modified = Some(time("2026-01-01T00:00:00Z"));
        assert_eq!(
            open_since(now, modified, Some("2026-06-01T00:00:00Z")),
            time("2026-06-01T00:00:00Z"),
            "the lockfile held the version since January; the advisory exists since June"
        );
    }

    #[test]
    fn vanished_findings_are_fixes_only_when_the_version_changed() {
        let now = time("2026-12-01T00:00:00Z");
        let basis = Basis::Previous(
            time("2026-11-30T00:00:00Z"),
            vec![
                remembered("up", "1.0", &["CVE-1"], "2026-07-01T00:00:00Z"),
                remembered("gone", "1.0", &["CVE-2"], "2026-07-01T00:00:00Z"),
                remembered("same", "1.0", &["CVE-3"], "2026-07-01T00:00:00Z"),
            ],
        );
        let packages = vec![
            Package::registry(Ecosystem::PyPi, "up", "2.0"),
            Package::registry(Ecosystem::PyPi, "same", "1.0"),
        ];
        let complete = fixed_since(&[], &packages, &basis, true, now);
        let how: Vec<&str> = complete.entries.iter().filter_map(|e| e["how"].as_str()).collect();
        assert_eq!(how, vec!["upgraded", "removed", "advisory no longer applies"]);
        assert_eq!(complete.fixes, 2);
        assert_eq!(complete.slowest_days, Some(183));
        assert!(complete.carried.is_empty());

        // With a source missing, "same" is carried and keeps its first-seen time next run.
        let partial = fixed_since(&[], &packages, &basis, false, now);
        assert_eq!(partial.carried.len(), 1);
        let facts = json!({"findings": [], "history": {"carried": partial.carried}});
        let next = Basis::Previous(now, super::remembered(&facts, now));
        let back = first_seen(&[finding("same", "1.0", &["CVE-3"])], &next, now);
        assert_eq!(back, vec![time("2026-07-01T00:00:00Z")]);
        assert_eq!(fixed_since(&[], &packages, &Basis::FirstObservation, true, now).fixes, 0);
    }
}
