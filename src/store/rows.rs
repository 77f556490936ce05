//! Raw rows of the log tables and their strict decoding into `evidence` types.
//!
//! Reads and `verify` share these: a row decodes only if every column is in the canonical form
//! the writer produces, so a value that was edited by hand is reported, never silently
//! normalised. Decoding failures are plain reasons; callers name the record.

use chrono::{DateTime, Utc};
use collectors::Custody;

use crate::evidence::checkpoint::Checkpoint;
use crate::evidence::{self, ObservationMeta, Outcome, RunRecord, Trigger};

/// The columns of a `runs` row.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct RunColumns {
    pub(super) run_id: String,
    pub(super) seq: i64,
    pub(super) instance: String,
    pub(super) collector: String,
    pub(super) collector_version: String,
    pub(super) triggered_by: String,
    pub(super) started_at: String,
    pub(super) finished_at: String,
    pub(super) outcome: String,
    pub(super) error: Option<String>,
    pub(super) failures: String,
}

/// The `runs` columns in [`RunColumns`] order, for `SELECT {RUN_COLUMNS} FROM runs r`.
pub(super) const RUN_COLUMNS: &str = "r.run_id, r.seq, r.instance, r.collector, \
     r.collector_version, r.triggered_by, r.started_at, r.finished_at, r.outcome, r.error, \
     r.failures";

impl RunColumns {
    /// How reports name this run.
    pub(super) fn label(&self) -> String {
        format!("run {} (seq {}, instance {})", self.run_id, self.seq, self.instance)
    }

    /// The run as the writer recorded it.
    pub(super) fn record(&self) -> Result<RunRecord, String> {
        Ok(RunRecord {
            run_id: self.run_id.clone(),
            instance: self.instance.clone(),
            collector: self.collector.clone(),
            collector_version: self.collector_version.clone(),
            trigger: Trigger::from_name(&self.triggered_by)
                .ok_or_else(|| format!("unknown trigger {:?}", self.triggered_by))?,
            started_at: time(&self.started_at, "started_at")?,
            finished_at: time(&self.finished_at, "finished_at")?,
            outcome: outcome(&self.outcome)?,
            error: self.error.clone(),
            failures: evidence::parse_failures(&self.failures).map_err(|e| e.to_string())?,
        })
    }
}

/// The columns of an `observations` row joined with its run and payload.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct ObservationColumns {
    pub(super) id: i64,
    pub(super) seq: i64,
    pub(super) run_id: String,
    pub(super) subject: String,
    pub(super) collected_at: String,
    pub(super) effective_at: Option<String>,
    pub(super) payload_sha256: String,
    pub(super) custody: String,
    /// `None` when the run row is missing.
    pub(super) instance: Option<String>,
    pub(super) collector: Option<String>,
    pub(super) collector_version: Option<String>,
    pub(super) has_payload: bool,
}

/// Selects [`ObservationColumns`] from `observations o`; append a `WHERE` clause.
pub(super) const OBSERVATION_QUERY: &str = "SELECT o.id, o.seq, o.run_id, o.subject, \
     o.collected_at, o.effective_at, o.payload_sha256, o.custody, r.instance, r.collector, \
     r.collector_version, p.sha256 IS NOT NULL AS has_payload \
     FROM observations o LEFT JOIN runs r ON r.run_id = o.run_id \
     LEFT JOIN payloads p ON p.sha256 = o.payload_sha256";

impl ObservationColumns {
    /// How reports name this observation.
    pub(super) fn label(&self) -> String {
        let instance = self.instance.as_deref().unwrap_or("?");
        format!(
            "observation {} (seq {}, instance {instance}, subject {})",
            self.id, self.seq, self.subject
        )
    }

    /// The observation's metadata as the writer recorded it.
    pub(super) fn meta(&self) -> Result<ObservationMeta, String> {
        Ok(ObservationMeta {
            subject: self.subject.clone(),
            collected_at: time(&self.collected_at, "collected_at")?,
            effective_at: self
                .effective_at
                .as_deref()
                .map(|t| time(t, "effective_at"))
                .transpose()?,
            payload_sha256: self.payload_sha256.clone(),
            custody: custody(&self.custody)?,
        })
    }
}

pub(super) fn time(text: &str, column: &str) -> Result<DateTime<Utc>, String> {
    evidence::parse_time(text).map_err(|e| format!("{column}: {e}"))
}

pub(super) fn outcome(text: &str) -> Result<Outcome, String> {
    Outcome::from_name(text).ok_or_else(|| format!("unknown outcome {text:?}"))
}

pub(super) fn custody(text: &str) -> Result<Custody, String> {
    evidence::parse_custody(text).map_err(|e| e.to_string())
}

/// The columns of a `checkpoints` row.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct CheckpointColumns {
    pub(super) tree_size: i64,
    pub(super) root: Vec<u8>,
    pub(super) created_at: String,
    pub(super) key_id: String,
    pub(super) signature: Vec<u8>,
    pub(super) frontier: Vec<u8>,
}

/// Selects [`CheckpointColumns`] from `checkpoints`; append a `WHERE` or `ORDER BY` clause.
pub(super) const CHECKPOINT_QUERY: &str =
    "SELECT tree_size, root, created_at, key_id, signature, frontier FROM checkpoints";

impl CheckpointColumns {
    /// How reports name this checkpoint.
    pub(super) fn label(&self) -> String {
        format!("checkpoint at tree size {}", self.tree_size)
    }

    /// The signed checkpoint as the writer recorded it.
    pub(super) fn checkpoint(&self) -> Result<Checkpoint, String> {
        let tree_size =
            u64::try_from(self.tree_size).map_err(|_| "negative tree size".to_string())?;
        let root = self.root.as_slice().try_into().map_err(|_| "root is not 32 bytes")?;
        let signature =
            self.signature.as_slice().try_into().map_err(|_| "signature is not 64 bytes")?;
        let created_at = DateTime::parse_from_rfc3339(&self.created_at)
            .map_err(|e| format!("created_at: {e}"))?
            .with_timezone(&Utc);
        let checkpoint =
            Checkpoint { tree_size, root, created_at, key_id: self.key_id.clone(), signature };
        if checkpoint.created_at_text() != self.created_at {
            return Err("created_at is not in canonical form".into());
        }
        Ok(checkpoint)
    }
}
