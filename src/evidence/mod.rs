//! The evidence log's vocabulary and canonical bytes: runs, observation metadata, leaves.
//!
//! This module owns what a log record *is*: the run outcome and trigger words, the
//! [`RunRecord`] the runner hands to the store, the [`ObservationMeta`] of a stored
//! observation, and the canonical byte encodings that get hashed (leaves, payloads, custody,
//! failures, timestamps). [`merkle`] owns the tree arithmetic, [`checkpoint`] the signed tree
//! heads. Everything here is pure: no SQL, no files, no clock; [`new_run_id`] is the one
//! exception, it reads the operating system's random source.
//!
//! Neighbours: `store` writes these encodings to SQLite and recomputes them in `verify`;
//! the runner builds [`RunRecord`]s; the public feed will serve leaves and proofs.
//!
//! Canonical forms, version 1 (changing any of them breaks the verification of old logs):
//! - leaves are compact JSON objects with a fixed field order, starting with `"v":1` and
//!   `"kind"`, and include their sequence number, so that moving a record changes its leaf;
//! - payloads are the facts as compact JSON with object keys sorted at every level;
//! - timestamps are RFC 3339 in UTC with nine fractional digits and a `Z`, fixed width;
//! - custody and failures are compact JSON with a fixed field order, stored exactly so.

pub(crate) mod checkpoint;
pub(crate) mod merkle;

pub(crate) use checkpoint::Checkpoint;

use chrono::{DateTime, SecondsFormat, Utc};
use collectors::{Custody, FailureKind, Observation, SubjectFailure};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// The version of every canonical encoding in this module.
pub(crate) const FORMAT_VERSION: u8 = 1;

/// How a run ended: exactly one per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// Every subject was observed.
    Succeeded,
    /// Some subjects were observed, some failed.
    Partial,
    /// No subject could be observed, or the collector could not run.
    Failed,
    /// The run hit its timeout.
    TimedOut,
    /// The run was cancelled (shutdown).
    Cancelled,
    /// The run did not start because the previous one was still running.
    Skipped,
}

impl Outcome {
    /// All outcomes, in documentation order.
    pub(crate) const ALL: [Outcome; 6] = [
        Outcome::Succeeded,
        Outcome::Partial,
        Outcome::Failed,
        Outcome::TimedOut,
        Outcome::Cancelled,
        Outcome::Skipped,
    ];

    /// The stable, user-facing name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Cancelled => "cancelled",
            Outcome::Skipped => "skipped",
        }
    }

    /// Parses a user-facing name.
    pub(crate) fn from_name(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|outcome| outcome.as_str() == name)
    }
}

/// Why a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Trigger {
    /// The instance's schedule fired.
    Schedule,
    /// One run after downtime, for a schedule that fired while the agent was down.
    CatchUp,
    /// `beweis collect now`.
    Manual,
}

impl Trigger {
    /// All triggers, in documentation order.
    pub(crate) const ALL: [Trigger; 3] = [Trigger::Schedule, Trigger::CatchUp, Trigger::Manual];

    /// The stable, user-facing name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::CatchUp => "catch_up",
            Trigger::Manual => "manual",
        }
    }

    /// Parses a user-facing name.
    pub(crate) fn from_name(name: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|trigger| trigger.as_str() == name)
    }
}

/// One finished run, as the runner hands it to the store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RunRecord {
    pub(crate) run_id: String,
    pub(crate) instance: String,
    pub(crate) collector: String,
    pub(crate) collector_version: String,
    pub(crate) trigger: Trigger,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) finished_at: DateTime<Utc>,
    pub(crate) outcome: Outcome,
    pub(crate) error: Option<String>,
    pub(crate) failures: Vec<SubjectFailure>,
}

/// What the log commits to about one observation: everything but the payload bytes, which
/// it commits to through their SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ObservationMeta {
    pub(crate) subject: String,
    pub(crate) collected_at: DateTime<Utc>,
    pub(crate) effective_at: Option<DateTime<Utc>>,
    /// Lowercase hex SHA-256 of the canonical payload bytes.
    pub(crate) payload_sha256: String,
    pub(crate) custody: Custody,
}

impl ObservationMeta {
    /// The metadata of `obs` and its canonical payload bytes.
    pub(crate) fn of(obs: &Observation) -> (ObservationMeta, Vec<u8>) {
        let bytes = payload_bytes(&obs.facts);
        let meta = ObservationMeta {
            subject: obs.subject.clone(),
            collected_at: obs.collected_at,
            effective_at: obs.effective_at,
            payload_sha256: payload_sha256(&bytes),
            custody: obs.custody.clone(),
        };
        (meta, bytes)
    }
}

/// A stored value that is not in its canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EncodingError {
    /// The text does not parse as the expected encoding.
    #[error("{what} does not parse: {reason}")]
    Unparsable { what: &'static str, reason: String },
    /// The text parses but differs from the canonical encoding of its value.
    #[error("{what} is not in canonical form")]
    NotCanonical { what: &'static str },
}

/// A new run id: 32 lowercase hex characters from the operating system's random source.
///
/// This is the module's one impure function. Run ids need uniqueness, not secrecy, so if the
/// random source fails the id is derived from the clock, the process id and a counter instead.
pub(crate) fn new_run_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::getrandom(&mut bytes).is_err() {
        bytes = fallback_id_bytes();
    }
    hex::encode(bytes)
}

fn fallback_id_bytes() -> [u8; 16] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(nanos.to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let digest = hasher.finalize();
    digest[..16].try_into().expect("a sha-256 digest has at least 16 bytes")
}

/// The canonical text of a timestamp: RFC 3339, UTC, nine fractional digits, `Z`.
pub(crate) fn format_time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Parses a timestamp written by [`format_time`], refusing any other spelling.
pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, EncodingError> {
    let parsed = DateTime::parse_from_rfc3339(text)
        .map_err(|e| EncodingError::Unparsable { what: "timestamp", reason: e.to_string() })?;
    let at = parsed.with_timezone(&Utc);
    if format_time(&at) != text {
        return Err(EncodingError::NotCanonical { what: "timestamp" });
    }
    Ok(at)
}

/// The canonical payload bytes of a collector's facts: compact JSON, keys sorted.
pub(crate) fn payload_bytes(facts: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&Sorted(facts)).expect("a json value with string keys always serializes")
}

/// Lowercase hex SHA-256 of payload bytes.
pub(crate) fn payload_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The canonical JSON of a chain of custody, as stored and as embedded in leaves.
pub(crate) fn custody_json(custody: &Custody) -> String {
    to_json(&CustodyForm::of(custody))
}

/// Parses custody written by [`custody_json`], refusing any other spelling.
pub(crate) fn parse_custody(text: &str) -> Result<Custody, EncodingError> {
    let custody: Custody = parse_strict::<CustodyRead>(text, "custody")?.into();
    if custody_json(&custody) != text {
        return Err(EncodingError::NotCanonical { what: "custody" });
    }
    Ok(custody)
}

/// The canonical JSON of a run's failures, as stored and as embedded in leaves.
pub(crate) fn failures_json(failures: &[SubjectFailure]) -> String {
    to_json(&failure_forms(failures))
}

/// Parses failures written by [`failures_json`], refusing any other spelling.
pub(crate) fn parse_failures(text: &str) -> Result<Vec<SubjectFailure>, EncodingError> {
    let read: Vec<FailureRead> = parse_strict(text, "failures")?;
    let failures: Vec<SubjectFailure> = read.into_iter().map(Into::into).collect();
    if failures_json(&failures) != text {
        return Err(EncodingError::NotCanonical { what: "failures" });
    }
    Ok(failures)
}

/// The canonical leaf bytes of a run at log position `seq`.
pub(crate) fn run_leaf(seq: u64, run: &RunRecord) -> Vec<u8> {
    let leaf = RunLeaf {
        v: FORMAT_VERSION,
        kind: "run",
        seq,
        run_id: &run.run_id,
        instance: &run.instance,
        collector: &run.collector,
        collector_version: &run.collector_version,
        trigger: run.trigger.as_str(),
        started_at: format_time(&run.started_at),
        finished_at: format_time(&run.finished_at),
        outcome: run.outcome.as_str(),
        error: run.error.as_deref(),
        failures: failure_forms(&run.failures),
    };
    to_json(&leaf).into_bytes()
}

/// The canonical leaf bytes of an observation at log position `seq`, made in run `run_id`
/// of `instance` by `collector` at `collector_version`.
pub(crate) fn observation_leaf(
    seq: u64,
    run_id: &str,
    instance: &str,
    collector: &str,
    collector_version: &str,
    obs: &ObservationMeta,
) -> Vec<u8> {
    let leaf = ObservationLeaf {
        v: FORMAT_VERSION,
        kind: "observation",
        seq,
        run_id,
        instance,
        collector,
        collector_version,
        subject: &obs.subject,
        collected_at: format_time(&obs.collected_at),
        effective_at: obs.effective_at.as_ref().map(format_time),
        payload_sha256: &obs.payload_sha256,
        custody: CustodyForm::of(&obs.custody),
    };
    to_json(&leaf).into_bytes()
}

/// The canonical leaf bytes of a published status document at log position `seq`: the leaf
/// commits to the SHA-256 (lowercase hex) of the exact bytes of `status.json`.
pub(crate) fn status_leaf(seq: u64, document_sha256: &str) -> Vec<u8> {
    let leaf = StatusLeaf { v: FORMAT_VERSION, kind: "status", seq, document_sha256 };
    to_json(&leaf).into_bytes()
}

// Field order of the structs below is part of the canonical encoding: do not reorder.

#[derive(Serialize)]
struct RunLeaf<'a> {
    v: u8,
    kind: &'static str,
    seq: u64,
    run_id: &'a str,
    instance: &'a str,
    collector: &'a str,
    collector_version: &'a str,
    trigger: &'static str,
    started_at: String,
    finished_at: String,
    outcome: &'static str,
    error: Option<&'a str>,
    failures: Vec<FailureForm<'a>>,
}

#[derive(Serialize)]
struct ObservationLeaf<'a> {
    v: u8,
    kind: &'static str,
    seq: u64,
    run_id: &'a str,
    instance: &'a str,
    collector: &'a str,
    collector_version: &'a str,
    subject: &'a str,
    collected_at: String,
    effective_at: Option<String>,
    payload_sha256: &'a str,
    custody: CustodyForm<'a>,
}

#[derive(Serialize)]
struct StatusLeaf<'a> {
    v: u8,
    kind: &'static str,
    seq: u64,
    document_sha256: &'a str,
}

#[derive(Serialize)]
struct CustodyForm<'a> {
    argv: Option<&'a [String]>,
    exit_code: Option<i32>,
    duration_ms: u64,
    tool_version: Option<&'a str>,
}

impl<'a> CustodyForm<'a> {
    fn of(custody: &'a Custody) -> CustodyForm<'a> {
        CustodyForm {
            argv: custody.argv.as_deref(),
            exit_code: custody.exit_code,
            duration_ms: custody.duration_ms,
            tool_version: custody.tool_version.as_deref(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustodyRead {
    argv: Option<Vec<String>>,
    exit_code: Option<i32>,
    duration_ms: u64,
    tool_version: Option<String>,
}

impl From<CustodyRead> for Custody {
    fn from(read: CustodyRead) -> Custody {
        Custody {
            argv: read.argv,
            exit_code: read.exit_code,
            duration_ms: read.duration_ms,
            tool_version: read.tool_version,
        }
    }
}

#[derive(Serialize)]
struct FailureForm<'a> {
    subject: &'a str,
    kind: &'static str,
    message: &'a str,
}

fn failure_forms(failures: &[SubjectFailure]) -> Vec<FailureForm<'_>> {
    failures
        .iter()
        .map(|f| FailureForm { subject: &f.subject, kind: f.kind.as_str(), message: &f.message })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailureRead {
    subject: String,
    kind: FailureKind,
    message: String,
}

impl From<FailureRead> for SubjectFailure {
    fn from(read: FailureRead) -> SubjectFailure {
        SubjectFailure { subject: read.subject, kind: read.kind, message: read.message }
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("canonical forms have string keys and always serialize")
}

fn parse_strict<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &'static str,
) -> Result<T, EncodingError> {
    serde_json::from_str(text)
        .map_err(|e| EncodingError::Unparsable { what, reason: e.to_string() })
}

/// Serializes a JSON value with object keys sorted at every level, whatever order the
/// value's map keeps (serde_json's `preserve_order` feature may be turned on by any crate).
struct Sorted<'a>(&'a serde_json::Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    out.serialize_entry(key, &Sorted(value))?;
                }
                out.end()
            }
            serde_json::Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Sorted(item))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn at(secs: i64, nanos: u32) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, nanos).single().expect("valid test time")
    }

    fn run() -> RunRecord {
        RunRecord {
            run_id: "00112233445566778899aabbccddeeff".into(),
            instance: "sshd".into(),
            collector: "file".into(),
            collector_version: "0.1.0".into(),
            trigger: Trigger::CatchUp,
            started_at: at(1_700_000_000, 0),
            finished_at: at(1_700_000_002, 500_000_000),
            outcome: Outcome::Partial,
            error: None,
            failures: vec![SubjectFailure {
                subject: "/etc/ssh/sshd_config.d".into(),
                kind: FailureKind::Permission,
                message: "permission denied".into(),
            }],
        }
    }

    fn meta() -> ObservationMeta {
        ObservationMeta {
            subject: "/etc/ssh/sshd_config".into(),
            collected_at: at(1_700_000_001, 123),
            effective_at: None,
            payload_sha256: "ab".repeat(32),
            custody: Custody {
                argv: Some(vec!["sshd".into(), "-T".into()]),
                exit_code: Some(0),
                duration_ms: 12,
                tool_version: None,
            },
        }
    }

    #[test]
    fn names_round_trip_and_match_serde() {
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::from_name(outcome.as_str()), Some(outcome));
            let json = serde_json::to_value(outcome).expect("serializes");
            assert_eq!(json, json!(outcome.as_str()));
        }
        for trigger in Trigger::ALL {
            assert_eq!(Trigger::from_name(trigger.as_str()), Some(trigger));
            let json = serde_json::to_value(trigger).expect("serializes");
            assert_eq!(json, json!(trigger.as_str()));
        }
        assert_eq!(Outcome::TimedOut.as_str(), "timed_out");
        assert_eq!(Trigger::CatchUp.as_str(), "catch_up");
        assert_eq!(Outcome::from_name("Succeeded"), None);
        assert_eq!(Trigger::from_name("cron"), None);
    }

    #[test]
    fn run_leaf_is_fixed_canonical_json() {
        let leaf = String::from_utf8(run_leaf(7, &run())).expect("utf-8");
        let expected = concat!(
            r#"{"v":1,"kind":"run","seq":7,"run_id":"00112233445566778899aabbccddeeff","#,
            r#""instance":"sshd","collector":"file","collector_version":"0.1.0","#,
            r#""trigger":"catch_up","started_at":"2023-11-14T22:13:20.000000000Z","#,
            r#""finished_at":"2023-11-14T22:13:22.500000000Z","outcome":"partial","#,
            r#""error":null,"failures":[{"subject":"/etc/ssh/sshd_config.d","#,
            r#""kind":"permission","message":"permission denied"}]}"#
        );
        assert_eq!(leaf, expected);
    }

    #[test]
    fn observation_leaf_is_fixed_canonical_json() {
        let leaf = observation_leaf(8, "r1", "sshd", "file", "0.1.0", &meta());
        let expected = format!(
            concat!(
                r#"{{"v":1,"kind":"observation","seq":8,"run_id":"r1","instance":"sshd","#,
                r#""collector":"file","collector_version":"0.1.0","#,
                r#""subject":"/etc/ssh/sshd_config","#,
                r#""collected_at":"2023-11-14T22:13:21.000000123Z","effective_at":null,"#,
                r#""payload_sha256":"{}","custody":{{"argv":["sshd","-T"],"exit_code":0,"#,
                r#""duration_ms":12,"tool_version":null}}}}"#
            ),
            "ab".repeat(32)
        );
        assert_eq!(String::from_utf8(leaf).expect("utf-8"), expected);
    }

    #[test]
    fn every_field_and_the_position_change_the_leaf() {
        let base = observation_leaf(8, "r1", "sshd", "file", "0.1.0", &meta());
        assert_ne!(observation_leaf(9, "r1", "sshd", "file", "0.1.0", &meta()), base);
        assert_ne!(observation_leaf(8, "r2", "sshd", "file", "0.1.0", &meta()), base);
        assert_ne!(observation_leaf(8, "r1", "sshe", "file", "0.1.0", &meta()), base);
        assert_ne!(observation_leaf(8, "r1", "sshd", "file", "0.1.1", &meta()), base);
        let mut changed = meta();
        changed.effective_at = Some(changed.collected_at);
        assert_ne!(observation_leaf(8, "r1", "sshd", "file", "0.1.0", &changed), base);
        let mut changed = meta();
        changed.custody.exit_code = Some(1);
        assert_ne!(observation_leaf(8, "r1", "sshd", "file", "0.1.0", &changed), base);
        assert_ne!(run_leaf(1, &run()), run_leaf(2, &run()));
        let mut failed = run();
        failed.outcome = Outcome::Failed;
        assert_ne!(run_leaf(1, &failed), run_leaf(1, &run()));
    }

    #[test]
    fn payload_bytes_sort_keys_at_every_level() {
        let facts = json!({"z": 1, "a": {"y": [ {"b": 2, "a": 1} ], "x": null}, "m": "é"});
        let bytes = payload_bytes(&facts);
        assert_eq!(
            String::from_utf8(bytes.clone()).expect("utf-8"),
            r#"{"a":{"x":null,"y":[{"a":1,"b":2}]},"m":"é","z":1}"#
        );
        assert_eq!(payload_sha256(b""), hex::encode(Sha256::digest(b"")));
        assert_eq!(
            payload_sha256(b"{}"),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn observation_meta_hashes_the_canonical_payload() {
        let obs = Observation {
            subject: "s".into(),
            collected_at: at(5, 0),
            effective_at: Some(at(4, 0)),
            facts: json!({"b": true, "a": 1}),
            custody: Custody::default(),
        };
        let (meta, bytes) = ObservationMeta::of(&obs);
        assert_eq!(bytes, br#"{"a":1,"b":true}"#.to_vec());
        assert_eq!(meta.payload_sha256, payload_sha256(&bytes));
        assert_eq!(meta.effective_at, Some(at(4, 0)));
    }

    #[test]
    fn times_round_trip_and_other_spellings_are_refused() {
        let t = at(1_700_000_000, 42);
        let text = format_time(&t);
        assert_eq!(text, "2023-11-14T22:13:20.000000042Z");
        assert_eq!(parse_time(&text), Ok(t));
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z"),
            Err(EncodingError::NotCanonical { what: "timestamp" })
        );
        assert_eq!(
            parse_time("2023-11-14T23:13:20.000000042+01:00"),
            Err(EncodingError::NotCanonical { what: "timestamp" })
        );
        assert!(matches!(parse_time("yesterday"), Err(EncodingError::Unparsable { .. })));
    }

    #[test]
    fn custody_and_failures_round_trip_and_other_spellings_are_refused() {
        let custody = meta().custody;
        let text = custody_json(&custody);
        assert_eq!(
            text,
            r#"{"argv":["sshd","-T"],"exit_code":0,"duration_ms":12,"tool_version":null}"#
        );
        assert_eq!(parse_custody(&text), Ok(custody));
        let spaced = text.replace(',', ", ");
        assert_eq!(parse_custody(&spaced), Err(EncodingError::NotCanonical { what: "custody" }));
        let extra = text.replace('}', r#","sudo":true}"#);
        assert!(matches!(parse_custody(&extra), Err(EncodingError::Unparsable { .. })));

        let failures = run().failures;
        let text = failures_json(&failures);
        assert_eq!(parse_failures(&text), Ok(failures));
        assert_eq!(failures_json(&[]), "[]");
        let reordered = concat!(
            r#"[{"kind":"permission","subject":"/etc/ssh/sshd_config.d","#,
            r#""message":"permission denied"}]"#
        );
        assert_eq!(
            parse_failures(reordered),
            Err(EncodingError::NotCanonical { what: "failures" })
        );
        assert!(parse_failures(r#"[{"subject":"a","kind":"bogus","message":""}]"#).is_err());
    }

    #[test]
    fn status_leaf_is_fixed_canonical_json() {
        let leaf = String::from_utf8(status_leaf(9, &"cd".repeat(32))).expect("utf-8");
        let expected =
            format!(r#"{{"v":1,"kind":"status","seq":9,"document_sha256":"{}"}}"#, "cd".repeat(32));
        assert_eq!(leaf, expected);
        assert_ne!(status_leaf(10, &"cd".repeat(32)), status_leaf(9, &"cd".repeat(32)));
    }

    #[test]
    fn run_ids_are_32_hex_chars_and_differ() {
        let (a, b) = (new_run_id(), new_run_id());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        assert_ne!(fallback_id_bytes(), fallback_id_bytes());
    }
}
