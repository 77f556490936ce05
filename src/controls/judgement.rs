//! Built-in judgements: how a check turns the latest observations of an instance into a verdict.
//!
//! A judgement reads facts by name or JSON pointer; it never looks at the clock except through
//! the `now` it is given, and never touches the store. Every subject of the latest run must
//! pass; a subject that could not be observed makes the check `error`, because a control
//! cannot be proven from part of its evidence.

use chrono::{DateTime, Duration, Utc};
use regex::Regex;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::status::{EvidenceRef, InstanceEvidence, StoredObservation};
use crate::evidence::Outcome;

/// A built-in judgement with its parameters, as configured in a `[[check]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "judgement", content = "params", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Judgement {
    /// The subject exists (`exists` fact is true).
    Exists,
    /// The subject does not exist.
    Absent,
    /// The fact at `pointer` equals `value`.
    FactEquals { pointer: String, value: Value },
    /// The string fact at `pointer` matches `regex`.
    FactMatches { pointer: String, regex: Pattern },
    /// The numeric fact at `pointer` is at least `value`.
    FactAtLeast { pointer: String, value: f64 },
    /// The numeric fact at `pointer` is at most `value`.
    FactAtMost { pointer: String, value: f64 },
    /// The file's permission bits are a subset of `mode` (octal, e.g. "0640").
    FileModeAtMost { mode: OctalMode },
    /// The file pattern named `pattern` matched a line.
    FileMatches { pattern: String },
    /// The file pattern named `pattern` matched no line.
    FileLacks { pattern: String },
    /// The document states a review date no older than `days`.
    ReviewedWithin { days: u32 },
    /// The command exited with `code`.
    ExitCode {
        #[serde(default)]
        code: i32,
    },
    /// The HTTP status is one of `allowed`.
    HttpStatus { allowed: Vec<u16> },
    /// The response carried `header` (case-insensitive).
    HeaderPresent { header: String },
    /// The TLS certificate has at least `min_days` left.
    CertDaysLeft { min_days: i64 },
    /// The file's SHA-256 equals `sha256`.
    Sha256Pinned { sha256: String },
    /// At least one subject's fact at `pointer` equals `value` (e.g. one off-site backup copy
    /// among several sources); the others need not.
    AnyFactEquals { pointer: String, value: Value },
}

/// A compiled regular expression that deserializes from its source text.
#[derive(Debug, Clone)]
pub(crate) struct Pattern(pub(crate) Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Regex::new(&text).map(Pattern).map_err(serde::de::Error::custom)
    }
}

/// Permission bits given in octal, e.g. `"0640"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OctalMode(pub(crate) u32);

impl<'de> Deserialize<'de> for OctalMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_octal(&text)
            .map(OctalMode)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not an octal mode")))
    }
}

fn parse_octal(text: &str) -> Option<u32> {
    let value = u32::from_str_radix(text, 8).ok()?;
    (value <= 0o7777).then_some(value)
}

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckVerdict {
    Pass,
    Fail,
    Error,
    Stale,
    Unknown,
}

/// A check's verdict with its reason and the evidence it rests on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckResult {
    pub(crate) check: String,
    pub(crate) verdict: CheckVerdict,
    pub(crate) reason: String,
    pub(crate) evidence: Option<EvidenceRef>,
}

/// Judges the latest evidence of an instance for one check.
pub(crate) fn judge_check(
    check: &str,
    judgement: &Judgement,
    max_age: Duration,
    evidence: Option<&InstanceEvidence>,
    now: DateTime<Utc>,
) -> CheckResult {
    let result = |verdict, reason: String, evidence| CheckResult {
        check: check.to_owned(),
        verdict,
        reason,
        evidence,
    };
    let Some(evidence) = evidence else {
        return result(CheckVerdict::Unknown, "never collected".to_owned(), None);
    };
    if let Some(reason) = run_error(evidence) {
        return result(CheckVerdict::Error, reason, None);
    }
    let Some(evidence_ref) = evidence_ref(evidence, max_age) else {
        return result(CheckVerdict::Unknown, "the latest run observed nothing".to_owned(), None);
    };
    if evidence_ref.collected_at + max_age < now {
        let reason = format!("newest evidence is from {}", evidence_ref.collected_at.to_rfc3339());
        return result(CheckVerdict::Stale, reason, Some(evidence_ref));
    }
    let verdict = match judgement {
        Judgement::AnyFactEquals { pointer, value } => any_fact_equals(evidence, pointer, value),
        _ => first_failure(judgement, &evidence.observations, now),
    };
    match verdict {
        Some(reason) => result(CheckVerdict::Fail, reason, Some(evidence_ref)),
        None => result(CheckVerdict::Pass, pass_reason(evidence), Some(evidence_ref)),
    }
}

/// Why the latest run cannot serve as proof, if it cannot.
fn run_error(evidence: &InstanceEvidence) -> Option<String> {
    if let Some(failure) = evidence.failures.first() {
        return Some(format!(
            "{}: {} ({})",
            failure.subject,
            failure.message,
            failure.kind.as_str()
        ));
    }
    let run = &evidence.run;
    let proof_outcome = matches!(run.outcome, Outcome::Succeeded | Outcome::Partial);
    if proof_outcome {
        return None;
    }
    let detail = run.error.as_deref().unwrap_or("no detail");
    Some(format!("latest run {}: {detail}", run.outcome.as_str()))
}

/// The evidence reference for a set of observations: the oldest collection time decides.
fn evidence_ref(evidence: &InstanceEvidence, max_age: Duration) -> Option<EvidenceRef> {
    let oldest = evidence.observations.iter().min_by_key(|o| o.collected_at)?;
    let digest = combined_digest(&evidence.observations);
    Some(EvidenceRef {
        kind: super::EvidenceKind::Automated,
        collected_at: oldest.collected_at,
        expires_at: Some(oldest.collected_at + max_age),
        digest,
        observation_ids: evidence.observations.iter().map(|o| o.id).collect(),
    })
}

/// One digest over the payload digests of several observations, in subject order.
fn combined_digest(observations: &[StoredObservation]) -> String {
    use sha2::{Digest, Sha256};
    if let [only] = observations {
        return only.payload_sha256.clone();
    }
    let mut sorted: Vec<_> = observations.iter().collect();
    sorted.sort_by(|a, b| a.subject.cmp(&b.subject));
    let mut hasher = Sha256::new();
    for observation in sorted {
        hasher.update(observation.payload_sha256.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

fn pass_reason(evidence: &InstanceEvidence) -> String {
    match evidence.observations.len() {
        1 => format!("{}: ok", evidence.observations[0].subject),
        n => format!("all {n} subjects ok"),
    }
}

/// The reason the first failing subject fails, or `None` when every subject passes.
fn first_failure(
    judgement: &Judgement,
    observations: &[StoredObservation],
    now: DateTime<Utc>,
) -> Option<String> {
    observations.iter().find_map(|o| {
        judge_subject(judgement, &o.facts, o.effective_at, now)
            .err()
            .map(|reason| format!("{}: {reason}", o.subject))
    })
}

/// Judges one subject's facts.
fn judge_subject(
    judgement: &Judgement,
    facts: &Value,
    effective_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), String> {
    match judgement {
        Judgement::Exists => expect_bool(facts, "/exists", true, "does not exist"),
        Judgement::Absent => expect_bool(facts, "/exists", false, "exists"),
        Judgement::FactEquals { pointer, value } => fact_equals(facts, pointer, value),
        Judgement::FactMatches { pointer, regex } => fact_matches(facts, pointer, &regex.0),
        Judgement::FactAtLeast { pointer, value } => compare(facts, pointer, *value, true),
        Judgement::FactAtMost { pointer, value } => compare(facts, pointer, *value, false),
        Judgement::FileModeAtMost { mode } => file_mode_at_most(facts, *mode),
        Judgement::FileMatches { pattern } => {
            expect_bool(facts, "/exists", true, "does not exist")?;
            expect_bool(facts, &pattern_pointer(pattern), true, "pattern did not match")
        }
        Judgement::FileLacks { pattern } => {
            expect_bool(facts, "/exists", true, "does not exist")?;
            expect_bool(facts, &pattern_pointer(pattern), false, "pattern matched")?;
            // Absence is only proven over the whole file.
            expect_bool(facts, "/truncated", false, "only part of the file was searched")
        }
        Judgement::ReviewedWithin { days } => reviewed_within(effective_at, *days, now),
        Judgement::ExitCode { code } => exit_code(facts, *code),
        Judgement::HttpStatus { allowed } => http_status(facts, allowed),
        Judgement::HeaderPresent { header } => header_present(facts, header),
        Judgement::CertDaysLeft { min_days } => cert_days_left(facts, *min_days),
        Judgement::Sha256Pinned { sha256 } => sha256_pinned(facts, sha256),
        Judgement::AnyFactEquals { pointer, value } => fact_equals(facts, pointer, value),
    }
}

/// `None` when some subject has `want` at `pointer`, else why not.
fn any_fact_equals(evidence: &InstanceEvidence, pointer: &str, want: &Value) -> Option<String> {
    let found = evidence.observations.iter().any(|o| o.facts.pointer(pointer) == Some(want));
    (!found).then(|| format!("no subject has {pointer} = {want}"))
}

/// JSON pointer of a named file pattern; `~` and `/` are escaped as RFC 6901 requires.
fn pattern_pointer(name: &str) -> String {
    format!("/matches/{}", name.replace('~', "~0").replace('/', "~1"))
}

fn expect_bool(facts: &Value, pointer: &str, want: bool, otherwise: &str) -> Result<(), String> {
    match facts.pointer(pointer).and_then(Value::as_bool) {
        Some(found) if found == want => Ok(()),
        Some(_) => Err(otherwise.to_owned()),
        None => Err(format!("no boolean fact at {pointer}")),
    }
}

fn fact_equals(facts: &Value, pointer: &str, want: &Value) -> Result<(), String> {
    match facts.pointer(pointer) {
        Some(found) if found == want => Ok(()),
        Some(found) => Err(format!("{pointer} is {found}, expected {want}")),
        None => Err(format!("no fact at {pointer}")),
    }
}

fn fact_matches(facts: &Value, pointer: &str, regex: &Regex) -> Result<(), String> {
    match facts.pointer(pointer).and_then(Value::as_str) {
        Some(found) if regex.is_match(found) => Ok(()),
        Some(_) => Err(format!("{pointer} does not match {}", regex.as_str())),
        None => Err(format!("no string fact at {pointer}")),
    }
}

fn compare(facts: &Value, pointer: &str, bound: f64, at_least: bool) -> Result<(), String> {
    let Some(found) = facts.pointer(pointer).and_then(Value::as_f64) else {
        return Err(format!("no numeric fact at {pointer}"));
    };
    match (at_least, found >= bound, found <= bound) {
        (true, true, _) | (false, _, true) => Ok(()),
        (true, false, _) => Err(format!("{pointer} is {found}, below {bound}")),
        (false, _, false) => Err(format!("{pointer} is {found}, above {bound}")),
    }
}

fn file_mode_at_most(facts: &Value, allowed: OctalMode) -> Result<(), String> {
    expect_bool(facts, "/exists", true, "does not exist")?;
    let Some(mode) = facts.pointer("/mode").and_then(Value::as_str).and_then(parse_octal) else {
        return Err("no mode fact".to_owned());
    };
    let extra = mode & !allowed.0;
    if extra == 0 {
        Ok(())
    } else {
        Err(format!("mode {mode:04o} grants {extra:04o} beyond {:04o}", allowed.0))
    }
}

fn reviewed_within(
    reviewed: Option<DateTime<Utc>>,
    days: u32,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let Some(reviewed) = reviewed else {
        return Err("no review date found".to_owned());
    };
    let age = now.signed_duration_since(reviewed);
    if age < Duration::zero() {
        return Err(format!("review date {} is in the future", reviewed.date_naive()));
    }
    if age <= Duration::days(i64::from(days)) {
        Ok(())
    } else {
        let date = reviewed.date_naive();
        Err(format!("last reviewed {date}, {} days ago (limit {days})", age.num_days()))
    }
}

fn exit_code(facts: &Value, want: i32) -> Result<(), String> {
    match facts.pointer("/exit_code").and_then(Value::as_i64) {
        Some(code) if code == i64::from(want) => Ok(()),
        Some(code) => Err(format!("exit code {code}, expected {want}")),
        None => Err("no exit code (killed by a signal?)".to_owned()),
    }
}

fn http_status(facts: &Value, allowed: &[u16]) -> Result<(), String> {
    let Some(status) = facts.pointer("/status").and_then(Value::as_u64) else {
        return Err("no status fact".to_owned());
    };
    if allowed.iter().any(|a| u64::from(*a) == status) {
        Ok(())
    } else {
        Err(format!("status {status}, expected one of {allowed:?}"))
    }
}

fn header_present(facts: &Value, header: &str) -> Result<(), String> {
    let name = header.to_ascii_lowercase();
    let headers = facts.pointer("/headers").and_then(Value::as_object);
    match headers.and_then(|h| h.get(&name)) {
        Some(Value::String(_)) => Ok(()),
        Some(_) => Err(format!("header {name} missing")),
        None => Err(format!("header {name} was not captured (add it to the instance)")),
    }
}

fn cert_days_left(facts: &Value, min_days: i64) -> Result<(), String> {
    match facts.pointer("/tls/cert_days_left").and_then(Value::as_i64) {
        Some(days) if days >= min_days => Ok(()),
        Some(days) => Err(format!("certificate has {days} days left, minimum {min_days}")),
        None => Err("no TLS certificate observed".to_owned()),
    }
}

fn sha256_pinned(facts: &Value, want: &str) -> Result<(), String> {
    match facts.pointer("/sha256").and_then(Value::as_str) {
        Some(found) if found.eq_ignore_ascii_case(want) => Ok(()),
        Some(found) => Err(format!("sha256 {found} differs from pinned {want}")),
        None => Err("no sha256 fact".to_owned()),
    }
}
