//! Queries over the evidence log for the runner, `status` and `evidence`.
//!
//! The runner asks for the latest evidence of an instance (to evaluate controls) and when it
//! last ran (for catch-up runs); the CLI lists runs and observations and shows one observation
//! with its facts. Everything here only reads; values are decoded strictly (see `rows`), and a
//! value that does not decode is reported as [`StoreError::Corrupt`] naming the record.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use collectors::Custody;
use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, Row};

use super::rows::{
    self, CheckpointColumns, ObservationColumns, RunColumns, CHECKPOINT_QUERY, OBSERVATION_QUERY,
    RUN_COLUMNS,
};
use super::{sql, to_u64, Store, StoreError};
use crate::controls::{InstanceEvidence, RunSummary, StoredObservation};
use crate::evidence::checkpoint::Checkpoint;
use crate::evidence::{self, Outcome, RunRecord};

/// Which observations [`Store::observations`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ObservationFilter {
    /// Only observations of this instance.
    pub(crate) instance: Option<String>,
    /// Only observations collected at or after this time.
    pub(crate) since: Option<DateTime<Utc>>,
    /// At most this many, newest first.
    pub(crate) limit: u32,
}

/// One observation in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ObservationRow {
    pub(crate) id: i64,
    pub(crate) seq: u64,
    pub(crate) run_id: String,
    pub(crate) instance: String,
    pub(crate) collector: String,
    pub(crate) subject: String,
    pub(crate) collected_at: DateTime<Utc>,
    pub(crate) effective_at: Option<DateTime<Utc>>,
    pub(crate) payload_sha256: String,
}

/// One observation with everything stored about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ObservationDetail {
    pub(crate) row: ObservationRow,
    pub(crate) collector_version: String,
    /// The facts; `None` when retention dropped the payload bytes.
    pub(crate) facts: Option<serde_json::Value>,
    pub(crate) payload_size: u64,
    pub(crate) custody: Custody,
    pub(crate) run_outcome: Outcome,
}

/// One run in a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RunRow {
    pub(crate) seq: u64,
    pub(crate) run: RunRecord,
    /// How many observations the run recorded.
    pub(crate) observations: u64,
}

/// The size of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Counts {
    pub(crate) runs: u64,
    pub(crate) observations: u64,
    /// Leaves in the log (runs plus observations).
    pub(crate) tree_size: u64,
}

/// id, subject, collected_at, effective_at, payload_sha256 and payload bytes of an observation.
type RunObservationColumns = (i64, String, String, Option<String>, String, Option<Vec<u8>>);

/// The newest runs first; among equal start times, the one recorded last.
const NEWEST_RUN_FIRST: &str = "ORDER BY r.started_at DESC, r.seq DESC";

impl Store {
    /// The newest run of `instance` that was not skipped, with its observations and failures;
    /// `None` when the instance never ran. Facts whose bytes retention dropped read as `null`.
    pub(crate) async fn latest_evidence(
        &self,
        instance: &str,
    ) -> Result<Option<InstanceEvidence>, StoreError> {
        let query = format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE r.instance = ?1 AND r.outcome <> 'skipped' \
             {NEWEST_RUN_FIRST} LIMIT 1"
        );
        let columns: Option<RunColumns> = sqlx::query_as(&query)
            .bind(instance)
            .fetch_optional(&self.pool)
            .await
            .map_err(sql("read latest run"))?;
        let Some(columns) = columns else {
            return Ok(None);
        };
        let run = columns.record().map_err(corrupt(columns.label()))?;
        let observations = self.run_observations(&run.run_id).await?;
        Ok(Some(InstanceEvidence { run: summary(&run), observations, failures: run.failures }))
    }

    /// The newest observation of each subject `instance` has ever reported, for the collector's
    /// [`collectors::Context::previous`]. A subject that failed in the latest run keeps its
    /// older observation, so state carried forward (first-seen times) survives a bad run.
    pub(crate) async fn previous_observations(
        &self,
        instance: &str,
    ) -> Result<HashMap<String, collectors::PreviousObservation>, StoreError> {
        // FIXME(previous-scan): groups every observation of the instance on each run; an index
        // on (subject) per instance, or a table of the newest observation per subject, would
        // make this constant-time for long histories.
        let rows: Vec<RunObservationColumns> = sqlx::query_as(
            "SELECT o.id, o.subject, o.collected_at, o.effective_at, o.payload_sha256, p.bytes \
             FROM observations o LEFT JOIN payloads p ON p.sha256 = o.payload_sha256 \
             WHERE o.id IN (SELECT max(o2.id) FROM observations o2 \
                 JOIN runs r ON r.run_id = o2.run_id WHERE r.instance = ?1 GROUP BY o2.subject)",
        )
        .bind(instance)
        .fetch_all(&self.pool)
        .await
        .map_err(sql("read previous observations"))?;
        let mut previous = HashMap::with_capacity(rows.len());
        for (id, subject, collected_at, _, payload_sha256, bytes) in rows {
            let label = || format!("observation {id}");
            let collected_at =
                rows::time(&collected_at, "collected_at").map_err(corrupt(label()))?;
            let facts = bytes.as_deref().map(parse_facts).transpose().map_err(corrupt(label()))?;
            let observation =
                collectors::PreviousObservation { collected_at, facts, payload_sha256 };
            previous.insert(subject, observation);
        }
        Ok(previous)
    }

    /// The names of every instance that has a run in the log, sorted.
    pub(crate) async fn instance_names(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT DISTINCT instance FROM runs ORDER BY instance")
            .fetch_all(&self.pool)
            .await
            .map_err(sql("read instance names"))
    }

    /// When the newest run of `instance` that was not skipped started.
    pub(crate) async fn last_started(
        &self,
        instance: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let started: Option<String> = sqlx::query_scalar(
            "SELECT started_at FROM runs WHERE instance = ?1 AND outcome <> 'skipped' \
             ORDER BY started_at DESC LIMIT 1",
        )
        .bind(instance)
        .fetch_optional(&self.pool)
        .await
        .map_err(sql("read last run start"))?;
        started
            .map(|text| rows::time(&text, "started_at"))
            .transpose()
            .map_err(corrupt(format!("newest run of instance {instance}")))
    }

    /// Observations matching `filter`, newest first.
    pub(crate) async fn observations(
        &self,
        filter: &ObservationFilter,
    ) -> Result<Vec<ObservationRow>, StoreError> {
        let query = format!(
            "{OBSERVATION_QUERY} WHERE (?1 IS NULL OR r.instance = ?1) \
             AND (?2 IS NULL OR o.collected_at >= ?2) \
             ORDER BY o.collected_at DESC, o.seq DESC LIMIT ?3"
        );
        let rows: Vec<ObservationColumns> = sqlx::query_as(&query)
            .bind(&filter.instance)
            .bind(filter.since.as_ref().map(evidence::format_time))
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(sql("list observations"))?;
        rows.iter().map(listing_row).collect()
    }

    /// One observation with its facts, custody and run outcome.
    pub(crate) async fn observation(
        &self,
        id: i64,
    ) -> Result<Option<ObservationDetail>, StoreError> {
        let query = format!("{OBSERVATION_QUERY} WHERE o.id = ?1");
        let columns: Option<ObservationColumns> = sqlx::query_as(&query)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(sql("read observation"))?;
        let Some(columns) = columns else {
            return Ok(None);
        };
        let label = columns.label();
        let row = listing_row(&columns)?;
        let custody = rows::custody(&columns.custody).map_err(corrupt(label.clone()))?;
        let (facts, payload_size) = self.payload(&columns.payload_sha256, &label).await?;
        let outcome: String = sqlx::query_scalar("SELECT outcome FROM runs WHERE run_id = ?1")
            .bind(&columns.run_id)
            .fetch_one(&self.pool)
            .await
            .map_err(sql("read run outcome"))?;
        Ok(Some(ObservationDetail {
            row,
            collector_version: columns.collector_version.clone().unwrap_or_default(),
            facts,
            payload_size,
            custody,
            run_outcome: rows::outcome(&outcome).map_err(corrupt(label))?,
        }))
    }

    /// The newest `limit` runs, skipped ones included.
    pub(crate) async fn runs(&self, limit: u32) -> Result<Vec<RunRow>, StoreError> {
        let query = format!(
            "SELECT {RUN_COLUMNS}, (SELECT COUNT(*) FROM observations o \
             WHERE o.run_id = r.run_id) AS observation_count \
             FROM runs r {NEWEST_RUN_FIRST} LIMIT ?1"
        );
        let rows: Vec<SqliteRow> = sqlx::query(&query)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(sql("list runs"))?;
        rows.iter().map(run_row).collect()
    }

    /// How many runs, observations and leaves the log holds.
    pub(crate) async fn counts(&self) -> Result<Counts, StoreError> {
        let (runs, observations, tree_size): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM observations), \
             (SELECT COALESCE(MAX(seq) + 1, 0) FROM log_leaves)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(sql("count log records"))?;
        Ok(Counts {
            runs: to_u64(runs, "run count")?,
            observations: to_u64(observations, "observation count")?,
            tree_size: to_u64(tree_size, "log size")?,
        })
    }

    /// The newest signed checkpoint, `None` before the first run.
    pub(crate) async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let query = format!("{CHECKPOINT_QUERY} ORDER BY tree_size DESC, id DESC LIMIT 1");
        let columns: Option<CheckpointColumns> = sqlx::query_as(&query)
            .fetch_optional(&self.pool)
            .await
            .map_err(sql("read newest checkpoint"))?;
        columns.map(|c| c.checkpoint().map_err(corrupt(c.label()))).transpose()
    }

    /// The signed checkpoints created at or after `since`, by tree size, at most `limit`.
    pub(crate) async fn checkpoints_since(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        let query =
            format!("{CHECKPOINT_QUERY} WHERE created_at >= ?1 ORDER BY tree_size, id LIMIT ?2");
        let rows: Vec<CheckpointColumns> = sqlx::query_as(&query)
            .bind(since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(sql("read checkpoints of a period"))?;
        rows.iter().map(|c| c.checkpoint().map_err(corrupt(c.label()))).collect()
    }

    async fn run_observations(&self, run_id: &str) -> Result<Vec<StoredObservation>, StoreError> {
        let rows: Vec<RunObservationColumns> = sqlx::query_as(
            "SELECT o.id, o.subject, o.collected_at, o.effective_at, o.payload_sha256, \
                 p.bytes FROM observations o LEFT JOIN payloads p ON p.sha256 = o.payload_sha256 \
                 WHERE o.run_id = ?1 ORDER BY o.seq",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .map_err(sql("read observations of run"))?;
        rows.into_iter().map(stored_observation).collect()
    }

    /// The parsed facts (`None` when dropped) and size of a payload.
    async fn payload(
        &self,
        sha256: &str,
        label: &str,
    ) -> Result<(Option<serde_json::Value>, u64), StoreError> {
        let row: Option<(Option<Vec<u8>>, i64)> =
            sqlx::query_as("SELECT bytes, size FROM payloads WHERE sha256 = ?1")
                .bind(sha256)
                .fetch_optional(&self.pool)
                .await
                .map_err(sql("read payload"))?;
        let Some((bytes, size)) = row else {
            return Err(StoreError::Corrupt { record: label.into(), reason: "no payload".into() });
        };
        let facts = bytes.map(|b| parse_facts(&b)).transpose().map_err(corrupt(label.into()))?;
        Ok((facts, to_u64(size, label)?))
    }
}

fn corrupt(record: String) -> impl FnOnce(String) -> StoreError {
    move |reason| StoreError::Corrupt { record, reason }
}

fn summary(run: &RunRecord) -> RunSummary {
    RunSummary {
        run_id: run.run_id.clone(),
        outcome: run.outcome,
        started_at: run.started_at,
        finished_at: run.finished_at,
        error: run.error.clone(),
    }
}

fn parse_facts(bytes: &[u8]) -> Result<serde_json::Value, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("payload is not json: {e}"))
}

fn stored_observation(row: RunObservationColumns) -> Result<StoredObservation, StoreError> {
    let (id, subject, collected_at, effective_at, payload_sha256, bytes) = row;
    let decode = || -> Result<StoredObservation, String> {
        Ok(StoredObservation {
            id,
            collected_at: rows::time(&collected_at, "collected_at")?,
            effective_at: effective_at
                .as_deref()
                .map(|t| rows::time(t, "effective_at"))
                .transpose()?,
            facts: bytes.as_deref().map(parse_facts).transpose()?.unwrap_or_default(),
            payload_sha256: payload_sha256.clone(),
            subject: subject.clone(),
        })
    };
    decode().map_err(corrupt(format!("observation {id}")))
}

fn listing_row(columns: &ObservationColumns) -> Result<ObservationRow, StoreError> {
    let label = columns.label();
    let (Some(instance), Some(collector)) = (&columns.instance, &columns.collector) else {
        return Err(StoreError::Corrupt { record: label, reason: "its run is missing".into() });
    };
    let meta = columns.meta().map_err(corrupt(label.clone()))?;
    Ok(ObservationRow {
        id: columns.id,
        seq: to_u64(columns.seq, &label)?,
        run_id: columns.run_id.clone(),
        instance: instance.clone(),
        collector: collector.clone(),
        subject: meta.subject,
        collected_at: meta.collected_at,
        effective_at: meta.effective_at,
        payload_sha256: meta.payload_sha256,
    })
}

fn run_row(row: &SqliteRow) -> Result<RunRow, StoreError> {
    let columns = RunColumns::from_row(row).map_err(sql("decode run"))?;
    let count: i64 = row.try_get("observation_count").map_err(sql("decode run"))?;
    let label = columns.label();
    Ok(RunRow {
        seq: to_u64(columns.seq, &label)?,
        run: columns.record().map_err(corrupt(label.clone()))?,
        observations: to_u64(count, &label)?,
    })
}
