//! OSCAL assessment results (OSCAL 1.1.2, JSON) for auditors: `beweis export --oscal FILE`.
//!
//! One result per export: the controls in scope as reviewed controls, one observation per
//! evidence record behind the current statuses (collected and expiry times, the payload's
//! SHA-256 and its log position), and one finding per control whose target status is
//! `satisfied` only for passing, attested and inherited controls. UUIDs are derived from the
//! content (SHA-256, shaped as version-4 UUIDs), so the same log yields the same document.
//! Auditor-facing: instance names and collector kinds appear, evidence payloads and subjects do
//! not. Built field by field with `json!`; no internal struct is serialized.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::controls::{ControlState, EvidenceKind};
use crate::evidence::Checkpoint;
use crate::store::ObservationRow;

/// The OSCAL version written.
pub(crate) const OSCAL_VERSION: &str = "1.1.2";
/// The namespace of beweis's own properties.
const NS: &str = "urn:beweis:oscal";

/// What the assessment results are built from.
pub(crate) struct OscalInputs<'a> {
    pub(crate) config: &'a Config,
    pub(crate) states: &'a [ControlState],
    /// The evidence records behind `states`.
    pub(crate) observations: &'a [ObservationRow],
    pub(crate) head: Option<&'a Checkpoint>,
    pub(crate) now: DateTime<Utc>,
}

/// The `assessment-results` document.
pub(crate) fn assessment_results(inputs: &OscalInputs<'_>) -> Value {
    let now = time(&inputs.now);
    let observations: Vec<Value> =
        inputs.observations.iter().map(|o| observation(o, inputs.config)).collect();
    let findings: Vec<Value> = inputs.states.iter().map(finding).collect();
    let controls: Vec<Value> =
        inputs.states.iter().map(|s| json!({ "control-id": s.control })).collect();
    let mut result = json!({
        "uuid": uuid(&["result", &inputs.config.digest, &now]),
        "title": format!("beweis evaluation of {}", inputs.config.profile.catalog.title()),
        "description": "Statuses evaluated from the signed beweis evidence log.",
        "start": now,
        "props": result_props(inputs),
        "reviewed-controls": { "control-selections": [{ "include-controls": controls }] },
        "findings": findings,
    });
    if !observations.is_empty() {
        result["observations"] = Value::Array(observations);
    }
    json!({
        "assessment-results": {
            "uuid": uuid(&["assessment-results", &inputs.config.digest, &now]),
            "metadata": {
                "title": "beweis assessment results",
                "last-modified": now,
                "version": env!("CARGO_PKG_VERSION"),
                "oscal-version": OSCAL_VERSION,
            },
            "import-ap": { "href": "#beweis-profile" },
            "results": [result],
        }
    })
}

fn result_props(inputs: &OscalInputs<'_>) -> Vec<Value> {
    let mut props = vec![prop("config-sha256", &inputs.config.digest)];
    if let Some(head) = inputs.head {
        props.push(prop("log-tree-size", &head.tree_size.to_string()));
        props.push(prop("log-root-sha256", &hex::encode(head.root)));
    }
    props
}

fn observation(row: &ObservationRow, config: &Config) -> Value {
    let mut value = json!({
        "uuid": observation_uuid(row.id),
        "title": format!("Evidence record {} of instance {}", row.id, row.instance),
        "description": format!("Collected by the {} collector.", row.collector),
        "methods": ["TEST"],
        "collected": time(&row.collected_at),
        "props": [
            prop("payload-sha256", &row.payload_sha256),
            prop("log-position", &row.seq.to_string()),
            prop("collector", &row.collector),
        ],
        "relevant-evidence": [{
            "description": format!(
                "Canonical payload with SHA-256 {}, leaf {} of the evidence log.",
                row.payload_sha256, row.seq
            ),
        }],
    });
    if let Some(expires) = expiry(row, config) {
        value["expires"] = Value::String(time(&expires));
    }
    value
}

/// When a record stops counting: its time plus the shortest `max_age` of the checks reading it.
fn expiry(row: &ObservationRow, config: &Config) -> Option<DateTime<Utc>> {
    let base = row.effective_at.unwrap_or(row.collected_at);
    let shortest = config.checks.iter().filter(|c| c.instance == row.instance).map(|c| c.max_age);
    shortest.min().map(|age| base + age)
}

fn finding(state: &ControlState) -> Value {
    let satisfied = state.status.is_proven();
    let kind = state.evidence.as_ref().map(|e| match e.kind {
        EvidenceKind::Automated => "automated",
        EvidenceKind::Attested => "attested",
        EvidenceKind::Inherited => "inherited",
    });
    let mut value = json!({
        "uuid": uuid(&["finding", &state.control]),
        "title": format!("{}: {}", state.control, state.status.as_str()),
        "description": format!(
            "beweis status {} ({} evidence).",
            state.status.as_str(),
            kind.unwrap_or("no")
        ),
        "props": [prop("status", state.status.as_str())],
        "target": {
            "type": "objective-id",
            "target-id": state.control,
            "status": { "state": if satisfied { "satisfied" } else { "not-satisfied" } },
        },
    });
    let related: Vec<Value> = state
        .evidence
        .iter()
        .flat_map(|e| e.observation_ids.iter())
        .map(|id| json!({ "observation-uuid": observation_uuid(*id) }))
        .collect();
    if !related.is_empty() {
        value["related-observations"] = Value::Array(related);
    }
    value
}

fn prop(name: &str, value: &str) -> Value {
    json!({ "name": name, "ns": NS, "value": value })
}

fn observation_uuid(id: i64) -> String {
    uuid(&["observation", &id.to_string()])
}

/// A version-4-shaped UUID from the SHA-256 of `parts`.
fn uuid(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let mut bytes: [u8; 16] = hasher.finalize()[..16].try_into().expect("16 of 32 bytes");
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_stable_version_4_shaped() {
        let a = uuid(&["finding", "PR.AC-1"]);
        assert_eq!(a, uuid(&["finding", "PR.AC-1"]));
        assert_ne!(a, uuid(&["finding", "PR.AC-2"]));
        let re = regex::Regex::new(
            "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
        )
        .expect("valid regex");
        assert!(re.is_match(&a), "{a}");
    }
}
