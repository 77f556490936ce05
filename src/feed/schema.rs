//! The public output types, version 1: what `status.json` and `proof.json` may contain.
//!
//! These are the feed's own types, allow-listed field by field and documented in
//! `schema/status-v1.json`; no internal struct is serialized into the feed. A status document
//! carries status words, evidence kinds, times, salted digests and counts, and never reasons,
//! subjects, paths, host names, addresses, commands or software versions of the host; the only
//! evidence in it is the facts a check of the profile marks public (`public_facts`). Changing
//! a field here is a schema change: bump [`SCHEMA_VERSION`] and add a new schema file.
//! Neighbours: `build` fills these from evaluated states, `html` renders them, `verify_feed`
//! reads them back.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The value of the `schema` field of every status document.
pub(crate) const SCHEMA_NAME: &str = "beweis-status";
/// The version of the status document schema.
pub(crate) const SCHEMA_VERSION: u32 = 1;
/// The version of the proof file format.
pub(crate) const PROOF_VERSION: u32 = 1;

/// The public status document, `status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusDocument {
    /// Always [`SCHEMA_NAME`].
    pub(crate) schema: String,
    /// Always [`SCHEMA_VERSION`] for this type.
    pub(crate) schema_version: u32,
    pub(crate) generated_at: DateTime<Utc>,
    pub(crate) agent: AgentInfo,
    /// SHA-256 (hex) of the configuration text the statuses were evaluated with.
    pub(crate) config_digest: String,
    pub(crate) catalog: CatalogInfo,
    /// The signed evidence log head the statuses were evaluated over; `None` before any run.
    pub(crate) evidence_log: Option<LogHead>,
    pub(crate) summary: Summary,
    /// One entry per control in scope or marked not applicable, in catalog order.
    pub(crate) controls: Vec<PublicControl>,
}

/// The agent that produced the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentInfo {
    pub(crate) name: String,
    pub(crate) version: String,
}

/// The control catalog the statuses refer to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CatalogInfo {
    /// `nist-csf-1.1` or `nist-csf-2.0`.
    pub(crate) id: String,
    pub(crate) title: String,
}

/// A tree head of the evidence log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogHead {
    pub(crate) tree_size: u64,
    /// Lowercase hex SHA-256 root hash.
    pub(crate) root: String,
}

/// Counts and rates overall and per CSF function, with the formulas used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Summary {
    pub(crate) overall: Tally,
    pub(crate) functions: Vec<FunctionTally>,
    pub(crate) formulas: Formulas,
}

/// The formulas behind the two rates, in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Formulas {
    pub(crate) proven: String,
    pub(crate) automated: String,
}

/// The tally of one CSF function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FunctionTally {
    /// `ID`, `PR`, `DE`, `RS`, `RC` (and `GV` in CSF 2.0).
    pub(crate) id: String,
    /// The name as NIST writes it.
    pub(crate) name: String,
    pub(crate) tally: Tally,
}

/// Counts per status word and the two rates over a set of controls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tally {
    /// How many controls the set holds, not-applicable ones included.
    pub(crate) controls: u64,
    /// Controls per status word; every word is present.
    pub(crate) counts: BTreeMap<String, u64>,
    /// Passing, attested and inherited over the controls that are not `not_applicable`.
    pub(crate) proven: Rate,
    /// Passing only, over the same denominator.
    pub(crate) automated: Rate,
}

/// A proportion with its parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rate {
    pub(crate) numerator: u64,
    pub(crate) denominator: u64,
    /// Percent rounded to one decimal; `None` when the denominator is zero.
    pub(crate) percent: Option<f64>,
}

/// One control, as the public sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublicControl {
    pub(crate) id: String,
    /// The status word: passing, failing, error, stale, unknown, attested, inherited,
    /// not_applicable.
    pub(crate) status: String,
    /// automated, attested or inherited; `None` without evidence.
    pub(crate) evidence_kind: Option<String>,
    /// When the deciding evidence was collected (or attested).
    pub(crate) collected_at: Option<DateTime<Utc>>,
    /// When that evidence stops counting.
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// Since when the control has had this status.
    pub(crate) since: Option<DateTime<Utc>>,
    /// SHA-256 (hex) over the host's feed salt and the evidence digest.
    pub(crate) salted_digest: Option<String>,
    /// Evidence facts the profile marks public: JSON pointer → the value in each observation
    /// that has it. Only pointers a check lists in `public_facts`; omitted when empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) public_facts: BTreeMap<String, Vec<serde_json::Value>>,
}

/// `proof.json`: how `status.json` is tied to the signed checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProofFile {
    /// Always [`PROOF_VERSION`].
    pub(crate) version: u32,
    /// SHA-256 (hex) of the exact bytes of `status.json`.
    pub(crate) document_sha256: String,
    /// The log position of the status leaf.
    pub(crate) leaf_index: u64,
    /// The tree size of the signed checkpoint in `checkpoint`.
    pub(crate) tree_size: u64,
    /// The RFC 9162 inclusion proof of the status leaf, hex hashes.
    pub(crate) inclusion: Vec<String>,
    /// The consistency proof from the document's `evidence_log` head to the checkpoint.
    pub(crate) evidence_consistency: Vec<String>,
    /// Consistency proofs from earlier published checkpoints, newest first.
    pub(crate) consistency: Vec<ConsistencyProof>,
}

/// A consistency proof from an earlier published tree head to the current checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyProof {
    pub(crate) from_tree_size: u64,
    pub(crate) from_root: String,
    pub(crate) proof: Vec<String>,
}

/// `chain/<from_tree_size>.json`: how the checkpoint published after tree size
/// `from_tree_size` extends it. Written once per publication and never changed, so that a
/// visitor holding any earlier published checkpoint can walk the links to the newest one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChainLink {
    pub(crate) version: u32,
    pub(crate) from_tree_size: u64,
    /// Lowercase hex root of the earlier checkpoint.
    pub(crate) from_root: String,
    /// The later checkpoint, in the text form of the `checkpoint` file (signed).
    pub(crate) checkpoint: String,
    /// The RFC 9162 consistency proof from the earlier tree to the later one.
    pub(crate) proof: Vec<String>,
}
