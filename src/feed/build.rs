//! Building the status document from evaluated control states: the allow-list in code.
//!
//! Every field of [`StatusDocument`] is copied here, one by one, from a value that is safe to
//! publish: status words, evidence kinds, times, counts, and the evidence digest salted with the
//! host's feed salt, and the fact values the profile marks public, which the caller gathers
//! (see [`gather_public_facts`]). Nothing else of a [`ControlState`] (reason, checks,
//! observation ids) is read. Pure: the caller passes the time and the salt.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::schema::{
    AgentInfo, CatalogInfo, Formulas, FunctionTally, LogHead, PublicControl, Rate, StatusDocument,
    Summary, Tally, SCHEMA_NAME, SCHEMA_VERSION,
};
use crate::config::{Catalog, Config};
use crate::controls::{self, ControlState, EvidenceKind, Rate as Rate0};
use crate::evidence::Checkpoint;

/// What a status document is built from.
pub(crate) struct Inputs<'a> {
    pub(crate) config: &'a Config,
    pub(crate) states: &'a [ControlState],
    pub(crate) since: &'a HashMap<String, DateTime<Utc>>,
    /// The newest checkpoint of the evidence the states were evaluated over.
    pub(crate) head: Option<&'a Checkpoint>,
    pub(crate) salt: &'a [u8],
    pub(crate) now: DateTime<Utc>,
    /// Per control, the values of the facts its checks mark public (see [`PublicFacts`]).
    pub(crate) public_facts: &'a HashMap<String, PublicFacts>,
}

/// JSON pointer → the values found at it, in observation order.
pub(crate) type PublicFacts = BTreeMap<String, Vec<serde_json::Value>>;

/// Builds the public document.
pub(crate) fn build_document(inputs: &Inputs<'_>) -> StatusDocument {
    let catalog_id = inputs.config.profile.catalog;
    StatusDocument {
        schema: SCHEMA_NAME.to_owned(),
        schema_version: SCHEMA_VERSION,
        generated_at: inputs.now,
        agent: AgentInfo { name: "beweis".into(), version: env!("CARGO_PKG_VERSION").into() },
        config_digest: inputs.config.digest.clone(),
        catalog: CatalogInfo { id: catalog_id.as_str().into(), title: catalog_id.title().into() },
        evidence_log: inputs
            .head
            .map(|c| LogHead { tree_size: c.tree_size, root: hex::encode(c.root) }),
        summary: summary(inputs.states, Catalog::get(catalog_id)),
        controls: inputs.states.iter().map(|s| public_control(s, inputs)).collect(),
    }
}

fn summary(states: &[ControlState], catalog: &Catalog) -> Summary {
    let rates = controls::percentages(states, catalog);
    let name_of = |id: &str| {
        catalog.functions().iter().find(|f| f.id == id).map(|f| f.name.clone()).unwrap_or_default()
    };
    let count_of =
        |id: &str| states.iter().filter(|s| s.control.split('.').next() == Some(id)).count() as u64;
    Summary {
        overall: tally(
            (&rates.overall.counts, &rates.overall.all_proof, &rates.overall.automated),
            states.len() as u64,
        ),
        functions: rates
            .functions
            .iter()
            .map(|(id, t)| FunctionTally {
                id: id.clone(),
                name: name_of(id),
                tally: tally((&t.counts, &t.all_proof, &t.automated), count_of(id)),
            })
            .collect(),
        formulas: Formulas {
            proven: rates.formula_all_proof.into(),
            automated: rates.formula_automated.into(),
        },
    }
}

/// The public tally of `controls` controls with these counts and rates.
fn tally(
    (counts, all_proof, automated): (&BTreeMap<&'static str, usize>, &Rate0, &Rate0),
    controls: u64,
) -> Tally {
    Tally {
        controls,
        counts: counts.iter().map(|(word, n)| ((*word).to_owned(), *n as u64)).collect(),
        proven: rate(all_proof),
        automated: rate(automated),
    }
}

fn rate(rate: &Rate0) -> Rate {
    Rate {
        numerator: rate.numerator as u64,
        denominator: rate.denominator as u64,
        percent: rate.percent,
    }
}

fn public_control(state: &ControlState, inputs: &Inputs<'_>) -> PublicControl {
    let evidence = state.evidence.as_ref();
    PublicControl {
        id: state.control.clone(),
        status: state.status.as_str().to_owned(),
        evidence_kind: evidence.map(|e| kind_word(e.kind).to_owned()),
        collected_at: evidence.map(|e| e.collected_at),
        expires_at: evidence.and_then(|e| e.expires_at),
        since: inputs.since.get(&state.control).copied(),
        salted_digest: evidence.map(|e| salted(inputs.salt, &e.digest)),
        public_facts: inputs.public_facts.get(&state.control).cloned().unwrap_or_default(),
    }
}

fn kind_word(kind: EvidenceKind) -> &'static str {
    match kind {
        EvidenceKind::Automated => "automated",
        EvidenceKind::Attested => "attested",
        EvidenceKind::Inherited => "inherited",
    }
}

/// SHA-256 (hex) over the salt and the evidence digest text.
pub(crate) fn salted(salt: &[u8], digest: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(digest.as_bytes());
    hex::encode(hasher.finalize())
}

/// The values of every fact a check marks public, per control, from the observations each
/// check judged (`facts` reads one observation's facts, `None` when retention dropped them).
pub(crate) fn gather_public_facts(
    config: &Config,
    states: &[ControlState],
    facts: &HashMap<i64, serde_json::Value>,
) -> HashMap<String, PublicFacts> {
    let mut out: HashMap<String, PublicFacts> = HashMap::new();
    for state in states {
        for result in &state.checks {
            let Some(check) = config.checks.iter().find(|c| c.name == result.check) else {
                continue;
            };
            let Some(evidence) = result.evidence.as_ref() else { continue };
            for pointer in &check.public_facts {
                let values = evidence
                    .observation_ids
                    .iter()
                    .filter_map(|id| facts.get(id)?.pointer(pointer).cloned());
                let entry = out.entry(state.control.clone()).or_default();
                entry.entry(pointer.clone()).or_default().extend(values);
            }
        }
    }
    out
}

/// The observations whose facts [`gather_public_facts`] needs.
pub(crate) fn public_fact_sources(config: &Config, states: &[ControlState]) -> Vec<i64> {
    let mut ids: Vec<i64> = states
        .iter()
        .flat_map(|s| s.checks.iter())
        .filter(|r| config.checks.iter().any(|c| c.name == r.check && !c.public_facts.is_empty()))
        .filter_map(|r| r.evidence.as_ref())
        .flat_map(|e| e.observation_ids.iter().copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
