//! Control evaluation: from checks, attestations and inherited certifications to one status per
//! control, and from statuses to percentages.
//!
//! Everything here is a pure function of its inputs (profile, latest evidence per instance,
//! attestations, now): no I/O, no clock, no database. The runner gathers the inputs from the
//! store, calls [`evaluate`], and stores the transitions it returns. The vocabulary and the
//! precedence (failing > error > stale > unknown > attested / inherited > passing) are those of
//! `ARCHITECTURE.md`; not proven is never `passing`.

mod judgement;
mod status;

#[cfg(test)]
use judgement::CheckVerdict;
pub(crate) use judgement::Judgement;
pub(crate) use status::{
    evaluate, percentages, ControlState, EvidenceKind, Inputs, InstanceEvidence, Rate, RunSummary,
    Status, StoredObservation,
};

#[cfg(test)]
mod tests;
