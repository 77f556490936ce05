//! The status of each control, and the percentages over them.
//!
//! [`evaluate`] applies the fixed vocabulary: each proof source of a control (a check, an
//! attestation, an inherited certification) yields a candidate status, and the highest in
//! precedence wins: failing > error > stale > unknown > attested / inherited > passing. A
//! control with no proof source at all is `unknown`; one excluded by the profile is
//! `not_applicable`. [`percentages`] counts per CSF function and overall, and carries the
//! formula it used so that every published number can be recomputed by a reader.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::judgement::{judge_check, CheckResult, CheckVerdict};
use crate::config::{Attestation, Catalog, Config, ControlId, Inherited};
use crate::evidence::Outcome;

/// The status of a control: the fixed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    // Declaration order is precedence order, strongest claim first: `Ord` picks the winner.
    Passing,
    Inherited,
    Attested,
    Unknown,
    Stale,
    Error,
    Failing,
    NotApplicable,
}

impl Status {
    /// Every status, in the order tables list them.
    pub(crate) const ALL: [Status; 8] = [
        Status::Passing,
        Status::Failing,
        Status::Error,
        Status::Stale,
        Status::Unknown,
        Status::Attested,
        Status::Inherited,
        Status::NotApplicable,
    ];

    /// The stable, user-facing word.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Passing => "passing",
            Status::Failing => "failing",
            Status::Error => "error",
            Status::Stale => "stale",
            Status::Unknown => "unknown",
            Status::Attested => "attested",
            Status::Inherited => "inherited",
            Status::NotApplicable => "not_applicable",
        }
    }

    /// Whether this status counts as proven in the "all proof" rate.
    pub(crate) fn is_proven(self) -> bool {
        matches!(self, Status::Passing | Status::Attested | Status::Inherited)
    }
}

/// How a control's deciding evidence was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EvidenceKind {
    Automated,
    Attested,
    Inherited,
}

/// The evidence a status rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct EvidenceRef {
    pub(crate) kind: EvidenceKind,
    pub(crate) collected_at: DateTime<Utc>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// SHA-256 hex of the payload (or of the list of payload digests, or of the attestation).
    pub(crate) digest: String,
    /// Observations behind the evidence, for `evidence show`.
    pub(crate) observation_ids: Vec<i64>,
}

/// The newest run of an instance that was not skipped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunSummary {
    pub(crate) run_id: String,
    pub(crate) outcome: Outcome,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) finished_at: DateTime<Utc>,
    pub(crate) error: Option<String>,
}

/// One stored observation, as checks see it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredObservation {
    pub(crate) id: i64,
    pub(crate) subject: String,
    pub(crate) collected_at: DateTime<Utc>,
    pub(crate) effective_at: Option<DateTime<Utc>>,
    pub(crate) facts: serde_json::Value,
    pub(crate) payload_sha256: String,
}

/// The latest evidence of one instance: its newest run, with what it saw and what it could not.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InstanceEvidence {
    pub(crate) run: RunSummary,
    pub(crate) observations: Vec<StoredObservation>,
    pub(crate) failures: Vec<collectors::SubjectFailure>,
}

/// Everything a status depends on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inputs<'a> {
    pub(crate) config: &'a Config,
    /// Latest evidence per instance name; an instance never run is absent.
    pub(crate) evidence: &'a HashMap<String, InstanceEvidence>,
    /// Attestations whose pinned document no longer matches, by index, with why.
    pub(crate) broken_pins: &'a HashMap<usize, String>,
    pub(crate) now: DateTime<Utc>,
}

/// The status of one control with its reason and evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ControlState {
    pub(crate) control: String,
    pub(crate) status: Status,
    pub(crate) reason: String,
    pub(crate) evidence: Option<EvidenceRef>,
    /// Results of every check mapped to the control.
    #[serde(skip)]
    pub(crate) checks: Vec<CheckResult>,
}

/// Evaluates every control in scope, and lists the ones excluded as not applicable.
pub(crate) fn evaluate(inputs: Inputs<'_>) -> Vec<ControlState> {
    let results = judge_all_checks(inputs);
    let profile = &inputs.config.profile;
    let mut states: Vec<ControlState> =
        profile.scope.iter().map(|control| control_state(control, &results, inputs)).collect();
    for excluded in &profile.not_applicable {
        states.retain(|s| s.control != excluded.control.0);
        states.push(ControlState {
            control: excluded.control.0.clone(),
            status: Status::NotApplicable,
            reason: excluded.justification.clone(),
            evidence: None,
            checks: Vec::new(),
        });
    }
    let catalog = Catalog::get(profile.catalog);
    let position = |id: &str| catalog.controls().iter().position(|c| c.id == id);
    states.sort_by_key(|s| position(&s.control));
    states
}

/// Judges every configured check once, by name.
fn judge_all_checks(inputs: Inputs<'_>) -> HashMap<&str, CheckResult> {
    inputs
        .config
        .checks
        .iter()
        .map(|check| {
            let evidence = inputs.evidence.get(&check.instance);
            let result =
                judge_check(&check.name, &check.judgement, check.max_age, evidence, inputs.now);
            (check.name.as_str(), result)
        })
        .collect()
}

/// A candidate status from one proof source.
struct Candidate {
    status: Status,
    reason: String,
    evidence: Option<EvidenceRef>,
}

fn control_state(
    control: &ControlId,
    results: &HashMap<&str, CheckResult>,
    inputs: Inputs<'_>,
) -> ControlState {
    let config = inputs.config;
    let checks: Vec<CheckResult> = config
        .checks
        .iter()
        .filter(|c| c.controls.contains(control))
        .filter_map(|c| results.get(c.name.as_str()).cloned())
        .collect();
    let mut candidates: Vec<Candidate> = checks.iter().map(check_candidate).collect();
    for (index, attestation) in config.attestations.iter().enumerate() {
        if attestation.controls.contains(control) {
            let broken = inputs.broken_pins.get(&index).map(String::as_str);
            candidates.push(attestation_candidate(attestation, broken, inputs.now));
        }
    }
    for inherited in config.inherited.iter().filter(|i| i.controls.contains(control)) {
        candidates.push(inherited_candidate(inherited, inputs.now));
    }
    let decided = decide(candidates);
    ControlState {
        control: control.0.clone(),
        status: decided.status,
        reason: decided.reason,
        evidence: decided.evidence,
        checks,
    }
}

/// Picks the candidate of highest precedence; the first one listed wins ties.
fn decide(candidates: Vec<Candidate>) -> Candidate {
    let mut best: Option<Candidate> = None;
    for candidate in candidates {
        let replace = best.as_ref().is_none_or(|b| candidate.status > b.status);
        if replace {
            best = Some(candidate);
        }
    }
    best.unwrap_or(Candidate {
        status: Status::Unknown,
        reason: "no check, attestation or certification proves this control".to_owned(),
        evidence: None,
    })
}

fn check_candidate(result: &CheckResult) -> Candidate {
    let status = match result.verdict {
        CheckVerdict::Pass => Status::Passing,
        CheckVerdict::Fail => Status::Failing,
        CheckVerdict::Error => Status::Error,
        CheckVerdict::Stale => Status::Stale,
        CheckVerdict::Unknown => Status::Unknown,
    };
    Candidate {
        status,
        reason: format!("check {}: {}", result.check, result.reason),
        evidence: result.evidence.clone(),
    }
}

fn attestation_candidate(
    attestation: &Attestation,
    broken_pin: Option<&str>,
    now: DateTime<Utc>,
) -> Candidate {
    let evidence = Some(EvidenceRef {
        kind: EvidenceKind::Attested,
        collected_at: midnight(attestation.date),
        expires_at: Some(midnight(attestation.expires)),
        digest: attestation_digest(attestation),
        observation_ids: Vec::new(),
    });
    let signer = &attestation.signer;
    let (status, reason) = if let Some(why) = broken_pin {
        (Status::Stale, format!("attested by {signer}, but {why}"))
    } else if now >= midnight(attestation.expires) {
        (Status::Stale, format!("attestation by {signer} expired {}", attestation.expires))
    } else if now < midnight(attestation.date) {
        (Status::Unknown, format!("attestation by {signer} dated in the future"))
    } else {
        (Status::Attested, format!("attested by {signer} on {}", attestation.date))
    };
    Candidate { status, reason, evidence }
}

fn inherited_candidate(inherited: &Inherited, now: DateTime<Utc>) -> Candidate {
    let what = format!("{} {}", inherited.provider, inherited.certification);
    let (status, reason) = if now >= midnight(inherited.expires) {
        (Status::Stale, format!("{what} expired {}", inherited.expires))
    } else {
        (
            Status::Inherited,
            format!("{what} ({}), until {}", inherited.reference, inherited.expires),
        )
    };
    let evidence = Some(EvidenceRef {
        kind: EvidenceKind::Inherited,
        collected_at: now,
        expires_at: Some(midnight(inherited.expires)),
        digest: text_digest(&[&inherited.provider, &inherited.certification, &inherited.reference]),
        observation_ids: Vec::new(),
    });
    Candidate { status, reason, evidence }
}

fn attestation_digest(attestation: &Attestation) -> String {
    let date = attestation.date.to_string();
    let expires = attestation.expires.to_string();
    let pinned = attestation.document.as_ref().map(|d| d.sha256.as_str()).unwrap_or("");
    text_digest(&[&attestation.signer, &attestation.statement, &date, &expires, pinned])
}

/// SHA-256 hex over fields joined by newlines.
fn text_digest(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// A proportion with how it was computed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Rate {
    pub(crate) numerator: usize,
    pub(crate) denominator: usize,
    /// Percent with one decimal, `None` when the denominator is zero.
    pub(crate) percent: Option<f64>,
}

impl Rate {
    fn new(numerator: usize, denominator: usize) -> Rate {
        let percent = (denominator > 0)
            .then(|| (numerator as f64 * 1000.0 / denominator as f64).round() / 10.0);
        Rate { numerator, denominator, percent }
    }
}

/// Counts for one CSF function or for all controls.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Tally {
    /// Controls per status word.
    pub(crate) counts: BTreeMap<&'static str, usize>,
    /// Passing, attested and inherited over controls in scope less not applicable.
    pub(crate) all_proof: Rate,
    /// Passing only over the same denominator.
    pub(crate) automated: Rate,
}

/// Per-function and overall tallies, with the formulas used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Percentages {
    pub(crate) overall: Tally,
    /// By CSF function id (`ID`, `PR`, …), in catalog order.
    pub(crate) functions: Vec<(String, Tally)>,
    pub(crate) formula_all_proof: &'static str,
    pub(crate) formula_automated: &'static str,
}

/// The published formula of the "all proof" rate.
pub(crate) const FORMULA_ALL_PROOF: &str =
    "(passing + attested + inherited) / controls in scope (not_applicable excluded)";
/// The published formula of the "automated proof only" rate.
pub(crate) const FORMULA_AUTOMATED: &str = "passing / controls in scope (not_applicable excluded)";

/// Tallies `states` per CSF function of `catalog` and overall.
pub(crate) fn percentages(states: &[ControlState], catalog: &Catalog) -> Percentages {
    let functions = catalog
        .functions()
        .iter()
        .map(|f| {
            let members: Vec<&ControlState> = states
                .iter()
                .filter(|s| s.control.split('.').next() == Some(f.id.as_str()))
                .collect();
            (f.id.clone(), tally(&members))
        })
        .collect();
    let all: Vec<&ControlState> = states.iter().collect();
    Percentages {
        overall: tally(&all),
        functions,
        formula_all_proof: FORMULA_ALL_PROOF,
        formula_automated: FORMULA_AUTOMATED,
    }
}

fn tally(states: &[&ControlState]) -> Tally {
    let mut counts: BTreeMap<&'static str, usize> =
        Status::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for state in states {
        *counts.entry(state.status.as_str()).or_default() += 1;
    }
    let denominator = states.iter().filter(|s| s.status != Status::NotApplicable).count();
    let proven = states.iter().filter(|s| s.status.is_proven()).count();
    let passing = states.iter().filter(|s| s.status == Status::Passing).count();
    Tally {
        counts,
        all_proof: Rate::new(proven, denominator),
        automated: Rate::new(passing, denominator),
    }
}
