//! OSV records and the OSV schema's evaluation of one installed version against them.
//!
//! Owns the advisory model shared by every source (OSV JSON, and the FriendsOfPHP and RubySec
//! imports in `native`, which produce the same [`Record`]s), and [`evaluate`]: does this record
//! affect this package at this version, is it not affected, or can it not be assessed (and
//! why). Ranges are walked over their events sorted by the ecosystem's order; GIT ranges are
//! skipped without hiding later ranges; an unknown range type or an unparsable event makes the
//! answer "not assessed", never "not affected". It does not load files (`db`) and does not
//! group or count findings (`findings`).

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::Value;

use std::rc::Rc;

use super::version::{parse_cached, Ecosystem, Version};

/// One advisory, from any source.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The advisory ID, e.g. `GHSA-…`, `PYSEC-…`.
    pub id: String,
    /// Other IDs of the same vulnerability.
    pub aliases: Vec<String>,
    /// Last modification time, RFC 3339 as written.
    pub modified: String,
    /// Publication time, RFC 3339 as written.
    pub published: Option<String>,
    /// Withdrawal time; a withdrawn record is never applied.
    pub withdrawn: Option<String>,
    /// One-line summary.
    pub summary: Option<String>,
    /// Severity vectors: (type, vector), e.g. (`CVSS_V3`, `CVSS:3.1/…`).
    pub severity: Vec<(String, String)>,
    /// `database_specific.severity` (GHSA: LOW, MODERATE, HIGH, CRITICAL).
    pub severity_label: Option<String>,
    /// A base score given by the source without a vector (RubySec `cvss_v3`).
    pub given_score: Option<f64>,
    /// The packages it affects.
    pub affected: Vec<Affected>,
    /// Where the record was read from (file or zip entry).
    pub origin: String,
}

/// One `affected[]` entry.
#[derive(Debug, Clone)]
pub struct Affected {
    /// The ecosystem, or its name when it is not one this collector orders.
    pub ecosystem: Result<Ecosystem, String>,
    /// The package name as written.
    pub name: String,
    /// The name normalised for its ecosystem (PEP 503 for PyPI).
    pub norm_name: String,
    /// Exact affected versions.
    pub versions: Vec<String>,
    /// How affected versions are described.
    pub rules: Vec<Rule>,
    /// RustSec `informational` kind (`unmaintained`, `unsound`, `notice`).
    pub informational: Option<String>,
    /// Per-entry severity vectors.
    pub severity: Vec<(String, String)>,
}

/// One way of describing affected versions.
#[derive(Debug, Clone)]
pub enum Rule {
    /// An OSV `SEMVER` or `ECOSYSTEM` range.
    Range(Range),
    /// An OSV `GIT` range: commits, not versions; skipped.
    Git,
    /// A range type this collector does not know.
    Unknown(String),
    /// Affected when any conjunction of requirements holds (FriendsOfPHP branches).
    AnyOf(Vec<Vec<Requirement>>),
    /// Affected unless some conjunction holds (RubySec patched and unaffected versions).
    NoneOf(Vec<Vec<Requirement>>),
}

/// An OSV range's events.
#[derive(Debug, Clone, Default)]
pub struct Range {
    /// The events in data order.
    pub events: Vec<Event>,
    /// `database_specific.last_known_affected_version_range`, e.g. `< 15.5.1`.
    pub last_known_affected: Option<String>,
}

/// An OSV range event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `introduced`; `"0"` means before every version.
    Introduced(String),
    /// `fixed`.
    Fixed(String),
    /// `last_affected`.
    LastAffected(String),
    /// `limit`: an upper gate.
    Limit(String),
}

impl Event {
    fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

/// A version requirement of a native advisory: `op version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The operator.
    pub op: Op,
    /// The version text.
    pub version: String,
}

/// Requirement operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// RubyGems `~>`.
    Pessimistic,
}

/// Parses `">= 1.2, < 2"`-style text into requirements (comma or space separated).
pub fn parse_requirements(text: &str) -> Result<Vec<Requirement>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (op, rest) = [
            ("~>", Op::Pessimistic),
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("!=", Op::Ne),
            ("==", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=", Op::Eq),
        ]
        .into_iter()
        .find_map(|(sym, op)| part.strip_prefix(sym).map(|rest| (op, rest)))
        .unwrap_or((Op::Eq, part));
        let version = rest.trim();
        if version.is_empty() || version.contains(char::is_whitespace) {
            return Err(format!("bad requirement {part:?}"));
        }
        out.push(Requirement { op, version: version.to_string() });
    }
    if out.is_empty() {
        return Err(format!("empty requirement {text:?}"));
    }
    Ok(out)
}

/// The answer of one record for one installed version.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The version is affected.
    Affected(Hit),
    /// The version is not affected.
    NotAffected,
    /// The record could not be evaluated for this version; the reason names what.
    NotAssessed(String),
}

/// Details of an affected match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hit {
    /// The first fixed version above the installed one, when the data names one.
    pub fixed: Option<String>,
    /// Data-quality warnings about the matching range.
    pub warnings: Vec<String>,
    /// Whether `database_specific` bounds would say "not affected".
    pub inferred_not_affected: bool,
    /// RustSec informational kind, if any.
    pub informational: Option<String>,
}

/// Evaluates `record` for package `name` (already normalised) of `eco` at `installed`.
/// Entries of other ecosystems or names are ignored; warnings about bad data are pushed.
pub fn evaluate(
    record: &Record,
    eco: Ecosystem,
    norm_name: &str,
    installed: &Version,
    warnings: &mut Vec<String>,
) -> Outcome {
    let mut not_assessed: Option<String> = None;
    let mut affected: Option<Hit> = None;
    let entries =
        record.affected.iter().filter(|a| a.ecosystem == Ok(eco) && a.norm_name == norm_name);
    for entry in entries {
        match evaluate_entry(record, entry, eco, installed, warnings) {
            Outcome::Affected(hit) => {
                let better = match &affected {
                    None => true,
                    Some(old) => old.fixed.is_none() && hit.fixed.is_some(),
                };
                if better {
                    affected = Some(hit);
                }
            }
            Outcome::NotAssessed(reason) => not_assessed = not_assessed.or(Some(reason)),
            Outcome::NotAffected => {}
        }
    }
    match (affected, not_assessed) {
        (Some(hit), _) => Outcome::Affected(hit),
        (None, Some(reason)) => Outcome::NotAssessed(reason),
        (None, None) => Outcome::NotAffected,
    }
}

fn evaluate_entry(
    record: &Record,
    entry: &Affected,
    eco: Ecosystem,
    installed: &Version,
    warnings: &mut Vec<String>,
) -> Outcome {
    let mut not_assessed = None;
    let mut listed_match = false;
    for listed in &entry.versions {
        match parse_cached(eco, listed) {
            Ok(v) => listed_match |= v.as_ref() == installed,
            Err(error) => {
                warnings.push(format!("{}: versions[] entry {error}, ignored", record.id))
            }
        }
    }
    let mut affected: Option<Hit> = listed_match.then(Hit::default);
    for rule in &entry.rules {
        let outcome = match rule {
            Rule::Git => continue,
            Rule::Unknown(kind) => {
                Outcome::NotAssessed(format!("{}: unknown range type {kind}", record.id))
            }
            Rule::Range(range) => evaluate_range(&record.id, range, eco, installed),
            Rule::AnyOf(sets) => evaluate_any_of(&record.id, sets, eco, installed),
            Rule::NoneOf(sets) => evaluate_none_of(&record.id, sets, eco, installed),
        };
        match outcome {
            Outcome::Affected(hit) => {
                if affected.as_ref().is_none_or(|h| h.fixed.is_none()) {
                    affected = Some(hit);
                }
            }
            Outcome::NotAssessed(reason) => not_assessed = not_assessed.or(Some(reason)),
            Outcome::NotAffected => {}
        }
    }
    match (affected, not_assessed) {
        (Some(mut hit), _) => {
            hit.informational = entry.informational.clone();
            Outcome::Affected(hit)
        }
        (None, Some(reason)) => {
            warnings.push(reason.clone());
            Outcome::NotAssessed(reason)
        }
        (None, None) => Outcome::NotAffected,
    }
}

/// The OSV walk: sort events by version (`introduced: "0"` first), then each event at or
/// below the installed version sets the state.
fn evaluate_range(id: &str, range: &Range, eco: Ecosystem, installed: &Version) -> Outcome {
    let mut events: Vec<(Option<Rc<Version>>, &Event)> = Vec::with_capacity(range.events.len());
    for event in &range.events {
        if matches!(event, Event::Introduced(v) if v == "0") {
            events.push((None, event));
            continue;
        }
        match parse_cached(eco, event.version()) {
            Ok(v) => events.push((Some(v), event)),
            Err(_) => {
                return Outcome::NotAssessed(format!(
                    "{id}: event version {} is not a {} version, range not evaluated",
                    event.version(),
                    eco.scheme()
                ))
            }
        }
    }
    events.sort_by(|a, b| match (&a.0, &b.0) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(y),
    });
    let mut affected = false;
    let mut closed_after = false;
    for (version, event) in &events {
        let order = version.as_ref().map_or(Ordering::Greater, |v| installed.cmp(v.as_ref()));
        match event {
            Event::Introduced(_) if order != Ordering::Less => affected = true,
            Event::Fixed(_) if order != Ordering::Less => affected = false,
            Event::LastAffected(_) if order == Ordering::Greater => affected = false,
            Event::Limit(_) if order != Ordering::Less => return Outcome::NotAffected,
            _ => {}
        }
    }
    if !affected {
        return Outcome::NotAffected;
    }
    let mut hit = Hit::default();
    for (version, event) in &events {
        let above = version.as_ref().is_some_and(|v| installed < v.as_ref());
        match event {
            Event::Fixed(text) if above && hit.fixed.is_none() => {
                hit.fixed = Some(text.clone());
                closed_after = true;
            }
            Event::LastAffected(_) | Event::Limit(_)
                if above || installed_eq(version, installed) =>
            {
                closed_after = true
            }
            _ => {}
        }
    }
    if !closed_after {
        open_range_warning(range, eco, installed, &mut hit);
    }
    Outcome::Affected(hit)
}

fn installed_eq(version: &Option<Rc<Version>>, installed: &Version) -> bool {
    version.as_ref().is_some_and(|v| v.as_ref() == installed)
}

/// ADV-07: an affected range with no closing event above the installed version.
fn open_range_warning(range: &Range, eco: Ecosystem, installed: &Version, hit: &mut Hit) {
    let Some(bound) = &range.last_known_affected else {
        return;
    };
    hit.warnings.push(format!("range has no closing event; database_specific gives `{bound}`"));
    if let Ok(reqs) = parse_requirements(bound) {
        hit.inferred_not_affected =
            !reqs.iter().all(|r| satisfies(eco, installed, r).unwrap_or(true));
    }
}

fn evaluate_any_of(id: &str, sets: &[Vec<Requirement>], eco: Ecosystem, v: &Version) -> Outcome {
    let mut fixed = None;
    for set in sets {
        match all_hold(eco, v, set) {
            Ok(true) => {
                fixed = fixed.or_else(|| upper_bound(set));
                return Outcome::Affected(Hit { fixed, ..Hit::default() });
            }
            Ok(false) => {}
            Err(text) => return not_comparable(id, &text, eco),
        }
    }
    Outcome::NotAffected
}

fn evaluate_none_of(id: &str, sets: &[Vec<Requirement>], eco: Ecosystem, v: &Version) -> Outcome {
    for set in sets {
        match all_hold(eco, v, set) {
            Ok(true) => return Outcome::NotAffected,
            Ok(false) => {}
            Err(text) => return not_comparable(id, &text, eco),
        }
    }
    Outcome::Affected(Hit::default())
}

fn not_comparable(id: &str, text: &str, eco: Ecosystem) -> Outcome {
    Outcome::NotAssessed(format!(
        "{id}: requirement version {text} is not a {} version, not evaluated",
        eco.scheme()
    ))
}

fn upper_bound(set: &[Requirement]) -> Option<String> {
    set.iter().find(|r| matches!(r.op, Op::Lt)).map(|r| r.version.clone())
}

fn all_hold(eco: Ecosystem, v: &Version, set: &[Requirement]) -> Result<bool, String> {
    for req in set {
        if !satisfies(eco, v, req)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether `v` satisfies one requirement; `Err` carries the unparsable version text.
pub fn satisfies(eco: Ecosystem, v: &Version, req: &Requirement) -> Result<bool, String> {
    let bound = parse_cached(eco, &req.version).map_err(|_| req.version.clone())?;
    let order = v.cmp(bound.as_ref());
    Ok(match req.op {
        Op::Eq => order == Ordering::Equal,
        Op::Ne => order != Ordering::Equal,
        Op::Lt => order == Ordering::Less,
        Op::Le => order != Ordering::Greater,
        Op::Gt => order == Ordering::Greater,
        Op::Ge => order != Ordering::Less,
        Op::Pessimistic => {
            let upper = match bound.as_ref() {
                Version::Gem(g) => Version::Gem(g.bump()),
                _ => return Err(req.version.clone()),
            };
            order != Ordering::Less && v < &upper
        }
    })
}

// ---------------------------------------------------------------- OSV JSON

#[derive(Deserialize)]
struct RawRecord {
    id: String,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    aliases: Option<Vec<String>>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    severity: Option<Vec<RawSeverity>>,
    #[serde(default)]
    affected: Option<Vec<RawAffected>>,
    #[serde(default)]
    database_specific: Option<RawSpecific>,
}

/// The few `database_specific` keys this collector reads; others are ignored.
#[derive(Deserialize, Default)]
struct RawSpecific {
    #[serde(default)]
    severity: Option<Value>,
    #[serde(default)]
    informational: Option<Value>,
    #[serde(default)]
    last_known_affected_version_range: Option<Value>,
}

fn as_text(value: Option<Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

#[derive(Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct RawAffected {
    #[serde(default)]
    package: Option<RawPackage>,
    #[serde(default)]
    ranges: Option<Vec<RawRange>>,
    #[serde(default)]
    versions: Option<Vec<String>>,
    #[serde(default)]
    severity: Option<Vec<RawSeverity>>,
    #[serde(default)]
    database_specific: Option<RawSpecific>,
}

#[derive(Deserialize)]
struct RawPackage {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<RawEvent>,
    #[serde(default)]
    database_specific: Option<RawSpecific>,
}

/// One event: exactly one of the four keys; any other key makes the record unreadable.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    #[serde(default)]
    introduced: Option<String>,
    #[serde(default)]
    fixed: Option<String>,
    #[serde(default)]
    last_affected: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// An OSV record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct RecordError {
    /// File or zip entry.
    pub origin: String,
    /// What is wrong, lowercase.
    pub message: String,
}

/// Parses one OSV JSON record read from `origin`.
pub fn parse_osv(bytes: &[u8], origin: &str) -> Result<Record, RecordError> {
    let err = |message: String| RecordError { origin: origin.to_string(), message };
    let raw: RawRecord =
        serde_json::from_slice(bytes).map_err(|e| err(format!("not an osv record: {e}")))?;
    let mut affected = Vec::new();
    for entry in raw.affected.unwrap_or_default() {
        let Some(package) = entry.package else { continue };
        let mut converted =
            convert_affected(&raw.id, entry.ranges, entry.versions, package).map_err(err)?;
        converted.informational = as_text(entry.database_specific.and_then(|d| d.informational));
        converted.severity = severities(entry.severity);
        affected.push(converted);
    }
    Ok(Record {
        id: raw.id,
        aliases: raw.aliases.unwrap_or_default(),
        modified: raw.modified.unwrap_or_default(),
        published: raw.published,
        withdrawn: raw.withdrawn,
        summary: raw.summary,
        severity: severities(raw.severity),
        severity_label: as_text(raw.database_specific.and_then(|d| d.severity)),
        given_score: None,
        affected,
        origin: origin.to_string(),
    })
}

fn severities(raw: Option<Vec<RawSeverity>>) -> Vec<(String, String)> {
    raw.unwrap_or_default().into_iter().map(|s| (s.kind, s.score)).collect()
}

fn convert_affected(
    id: &str,
    ranges: Option<Vec<RawRange>>,
    versions: Option<Vec<String>>,
    package: RawPackage,
) -> Result<Affected, String> {
    let mut rules = Vec::new();
    for range in ranges.unwrap_or_default() {
        rules.push(match range.kind.as_str() {
            "GIT" => Rule::Git,
            "SEMVER" | "ECOSYSTEM" => Rule::Range(convert_range(id, range)?),
            other => Rule::Unknown(other.to_string()),
        });
    }
    let ecosystem = Ecosystem::from_osv(&package.ecosystem).ok_or(package.ecosystem);
    Ok(Affected {
        norm_name: ecosystem.as_ref().map_or(String::new(), |e| e.normalise_name(&package.name)),
        ecosystem,
        name: package.name,
        versions: versions.unwrap_or_default(),
        rules,
        informational: None,
        severity: Vec::new(),
    })
}

fn convert_range(id: &str, range: RawRange) -> Result<Range, String> {
    let mut events = Vec::with_capacity(range.events.len());
    for event in range.events {
        events.push(match event {
            RawEvent { introduced: Some(v), fixed: None, last_affected: None, limit: None } => {
                Event::Introduced(v)
            }
            RawEvent { introduced: None, fixed: Some(v), last_affected: None, limit: None } => {
                Event::Fixed(v)
            }
            RawEvent { introduced: None, fixed: None, last_affected: Some(v), limit: None } => {
                Event::LastAffected(v)
            }
            RawEvent { introduced: None, fixed: None, last_affected: None, limit: Some(v) } => {
                Event::Limit(v)
            }
            _ => return Err(format!("{id}: a range event must have exactly one key")),
        });
    }
    let last_known_affected =
        as_text(range.database_specific.and_then(|d| d.last_known_affected_version_range));
    Ok(Range { events, last_known_affected })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Record {
        parse_osv(json.as_bytes(), "test").expect("test record parses")
    }

    const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/advisories/cases");

    /// The record `id` of acceptance case `name` (`cases/<name>.osv.jsonl`).
    fn case(name: &str, id: &str) -> Record {
        let path = format!("{CASES}/{name}.osv.jsonl");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        text.lines()
            .map(record)
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("{id} not in {path}"))
    }

    fn check(rec: &Record, eco: Ecosystem, name: &str, version: &str) -> Outcome {
        let v = Version::parse(eco, version).expect("installed version parses");
        let mut warnings = Vec::new();
        evaluate(rec, eco, &eco.normalise_name(name), &v, &mut warnings)
    }

    fn affected(rec: &Record, eco: Ecosystem, name: &str, version: &str) -> bool {
        matches!(check(rec, eco, name, version), Outcome::Affected(_))
    }

    #[test]
    fn adv01_cargo_prereleases_follow_semver_order() {
        let codec = case("adv01", "RUSTSEC-2020-0049");
        let cookie = case("adv01", "RUSTSEC-2017-0005");
        let c = Ecosystem::CratesIo;
        assert!(!affected(&codec, c, "actix-codec", "0.4.0-beta.1"));
        assert!(affected(&codec, c, "actix-codec", "0.3.0-alpha.1"));
        assert!(!affected(&codec, c, "actix-codec", "0.3.0-beta.1"));
        assert!(!affected(&codec, c, "actix-codec", "0.3.0"));
        assert!(!affected(&cookie, c, "cookie", "0.15.0-dev"));
        assert!(affected(&cookie, c, "cookie", "0.7.0-alpha"));
        assert!(affected(&cookie, c, "cookie", "0.6.1"));
        assert!(!affected(&cookie, c, "cookie", "0.6.2"));
        assert!(!affected(&cookie, c, "cookie", "0.7.6"));
    }

    #[test]
    fn adv02_pep440_release_candidates() {
        let rec = case("adv02", "TEST-2022-0986");
        let p = Ecosystem::PyPi;
        assert!(!affected(&rec, p, "twisted", "22.10.0"));
        assert!(!affected(&rec, p, "twisted", "22.10.0rc1"));
        assert!(affected(&rec, p, "twisted", "22.10.0b1"));
        assert!(affected(&rec, p, "twisted", "22.4.0"));
        assert!(affected(&rec, p, "Twisted", "22.8.0"));
    }

    #[test]
    fn adv06_last_affected_limit_and_open_ranges() {
        let py = case("adv06", "PYSEC-2022-42969");
        let drupal = case("adv06", "DSA-CONTRIB-2021-025");
        let allver = case("adv06", "TEST-2026-0007");
        let limited = case("adv06", "TEST-2026-0008");
        let (p, k) = (Ecosystem::PyPi, Ecosystem::Packagist);
        assert!(affected(&py, p, "py", "1.11.0"));
        assert!(affected(&py, p, "py", "1.10.0"));
        assert!(!affected(&py, p, "py", "1.11.1"));
        for v in ["3.0.1", "3.0.0", "2.4.9"] {
            assert!(affected(&drupal, k, "drupal/admin_toolbar", v), "{v}");
        }
        for v in ["3.0.2", "2.5.0"] {
            assert!(!affected(&drupal, k, "drupal/admin_toolbar", v), "{v}");
        }
        assert!(affected(&allver, p, "allver", "0.0.1"));
        assert!(affected(&allver, p, "allver", "99.0"));
        assert!(affected(&limited, p, "limited", "1.9"));
        assert!(!affected(&limited, p, "limited", "2.0.0"));
    }

    #[test]
    fn adv07_open_range_is_affected_with_a_warning() {
        let rec = case("adv07", "GHSA-5f7q-jpqc-wp7h");
        let n = Ecosystem::Npm;
        match check(&rec, n, "next", "16.2.2") {
            Outcome::Affected(hit) => {
                assert_eq!(
                    hit.warnings,
                    vec!["range has no closing event; database_specific gives `< 15.5.1`"]
                );
                assert!(hit.inferred_not_affected);
                assert_eq!(hit.fixed, None);
            }
            other => panic!("expected affected, got {other:?}"),
        }
        match check(&rec, n, "next", "15.5.1-canary.3") {
            Outcome::Affected(hit) => assert!(!hit.inferred_not_affected),
            other => panic!("expected affected, got {other:?}"),
        }
        assert!(!affected(&rec, n, "next", "15.5.0"));
    }

    #[test]
    fn adv09_composer_patch_suffix() {
        let rec = case("adv09", "TEST-2019-8090");
        let k = Ecosystem::Packagist;
        let name = "magento/product-community-edition";
        assert!(affected(&rec, k, name, "2.3.2-p1"));
        assert!(affected(&rec, k, name, "2.3.2"));
        for v in ["2.3.2-p2", "2.3.3", "2.2.9"] {
            assert!(!affected(&rec, k, name, v), "{v}");
        }
    }

    #[test]
    fn adv11_unknown_ecosystem_and_bad_event_versions() {
        let good = case("adv11", "TEST-2026-0734");
        let bad = case("adv11", "TEST-2026-0735");
        assert_eq!(good.affected[1].ecosystem, Err("Echo".to_string()));
        assert!(affected(&good, Ecosystem::PyPi, "wheel", "0.45.1"));
        assert_eq!(
            check(&bad, Ecosystem::PyPi, "wheel", "0.45.1"),
            Outcome::NotAssessed(
                "TEST-2026-0735: event version 0.38-final-hotfix is not a PEP 440 version, \
                 range not evaluated"
                    .to_string()
            )
        );
    }

    #[test]
    fn adv12_go_pseudo_versions_and_incompatible() {
        let cli = case("adv12", "TEST-2021-1754");
        let docker = case("adv12", "TEST-2024-0148");
        let g = Ecosystem::Go;
        assert!(affected(&cli, g, "github.com/docker/cli", "v0.0.0-20211117234946-dea9396e1842"));
        assert!(!affected(&docker, g, "github.com/docker/docker", "v25.0.6+incompatible"));
        assert!(affected(&docker, g, "github.com/docker/docker", "v25.0.5+incompatible"));
    }

    #[test]
    fn adv13_several_intervals_in_one_event_list() {
        let rec = case("adv13", "TEST-2022-0344");
        let (g, n) = (Ecosystem::Go, "github.com/containerd/containerd");
        for v in ["v1.5.9", "1.4.12", "1.5.0", "1.6.0"] {
            assert!(affected(&rec, g, n, v), "{v}");
        }
        for v in ["1.4.13", "1.5.10", "1.6.1", "1.5.0-beta.4", "1.6.0-rc.1"] {
            assert!(!affected(&rec, g, n, v), "{v}");
        }
        match check(&rec, g, n, "v1.5.9") {
            Outcome::Affected(hit) => assert_eq!(hit.fixed.as_deref(), Some("1.5.10")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unsorted_events_git_first_and_unknown_range_types() {
        // GHSA-fhjf-83wg-r2j9 (mixin-deep) lists its events out of order.
        let rec = record(concat!(
            r#"{"id":"GHSA-fhjf-83wg-r2j9","modified":"x","affected":[{"package":"#,
            r#"{"ecosystem":"npm","name":"mixin-deep"},"ranges":["#,
            r#"{"type":"GIT","repo":"r","events":[{"introduced":"0"}]},"#,
            r#"{"type":"SEMVER","events":[{"introduced":"0"},{"introduced":"2.0.0"},"#,
            r#"{"fixed":"2.0.1"},{"fixed":"1.3.2"}]}]}]}"#
        ));
        let n = Ecosystem::Npm;
        assert!(affected(&rec, n, "mixin-deep", "1.3.1"));
        assert!(!affected(&rec, n, "mixin-deep", "1.3.2"));
        assert!(affected(&rec, n, "mixin-deep", "2.0.0"));
        assert!(!affected(&rec, n, "mixin-deep", "2.0.1"));
        let odd = record(concat!(
            r#"{"id":"TEST-X","modified":"x","affected":[{"package":{"ecosystem":"npm","#,
            r#""name":"a"},"ranges":[{"type":"CALVER","events":[{"introduced":"0"}]}]}]}"#
        ));
        assert!(
            matches!(check(&odd, n, "a", "1.0.0"), Outcome::NotAssessed(r) if r.contains("CALVER"))
        );
    }

    #[test]
    fn versions_list_with_odd_entries_warns() {
        let rec = case("adv14", "PYSEC-2020-341");
        let v = Version::parse(Ecosystem::PyPi, "2.3").expect("v");
        let mut warnings = Vec::new();
        let out = evaluate(&rec, Ecosystem::PyPi, "jw-util", &v, &mut warnings);
        assert_eq!(out, Outcome::NotAffected);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(affected(&rec, Ecosystem::PyPi, "JW_Util", "2.2"));
    }

    #[test]
    fn requirements_and_pessimistic_operator() {
        let reqs = parse_requirements("~> 7.2.2, >= 7.2.2.1").expect("parses");
        let g = Ecosystem::RubyGems;
        let holds = |v: &str| {
            let v = Version::parse(g, v).expect("v");
            reqs.iter().all(|r| satisfies(g, &v, r).expect("ok"))
        };
        assert!(holds("7.2.2.1"));
        assert!(holds("7.2.9"));
        assert!(!holds("7.2.2"));
        assert!(!holds("7.3.0"));
        assert!(parse_requirements("").is_err());
    }
}
