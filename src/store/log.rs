//! Appending to the evidence log: one run, its observations and a signed checkpoint, in one
//! `BEGIN IMMEDIATE` transaction.
//!
//! The log head (the Merkle compact range) is not rebuilt from all leaves: every checkpoint row
//! stores the compact range of its tree size, so an append reads the newest checkpoint and
//! replays only the leaves written after it (normally none). Sequence numbers are allocated
//! inside the transaction, so two writers can never give two records the same position.
//! Neighbours: `evidence` builds the leaf bytes and signs the checkpoint; `verify` checks all of
//! it later.

use chrono::Utc;
use collectors::Observation;
use ed25519_dalek::SigningKey;

use super::{sql, to_i64, Conn, Store, StoreError};
use crate::evidence::checkpoint::Checkpoint;
use crate::evidence::merkle::{self, CompactRange, Hash};
use crate::evidence::{self, ObservationMeta, RunRecord};

/// What the log looks like after a run was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunReceipt {
    pub(crate) run_id: String,
    /// The log position of the run's own leaf; its observations follow it.
    pub(crate) first_seq: u64,
    /// The number of leaves after the run, which the new checkpoint signs.
    pub(crate) tree_size: u64,
    /// The root hash at `tree_size`, lowercase hex.
    pub(crate) root_hex: String,
}

impl Store {
    /// Records a finished run (skipped runs included, with no observations) with its
    /// observations, their payloads and log leaves, and a new checkpoint signed with `key`,
    /// all in one transaction: a crash leaves all of it or none.
    pub(crate) async fn record_run(
        &self,
        run: &RunRecord,
        observations: &[Observation],
        key: &SigningKey,
    ) -> Result<RunReceipt, StoreError> {
        let mut tx = self.begin_immediate().await?;
        let mut range = load_head(&mut tx).await?;
        let first_seq = range.size();
        insert_run(&mut tx, first_seq, run).await?;
        let leaf = evidence::run_leaf(first_seq, run);
        append_leaf(&mut tx, &mut range, "run", &run.run_id, &leaf).await?;
        for obs in observations {
            insert_observation(&mut tx, &mut range, run, obs).await?;
        }
        let checkpoint = Checkpoint::sign(range.size(), range.root(), Utc::now(), key);
        insert_checkpoint(&mut tx, &checkpoint, &range).await?;
        tx.commit().await.map_err(sql("commit run"))?;
        Ok(RunReceipt {
            run_id: run.run_id.clone(),
            first_seq,
            tree_size: range.size(),
            root_hex: hex::encode(checkpoint.root),
        })
    }
}

/// The compact range of the whole log: the newest checkpoint's, extended by any leaves
/// written after it.
pub(super) async fn load_head(conn: &mut Conn) -> Result<CompactRange, StoreError> {
    let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq) + 1, 0) FROM log_leaves")
        .fetch_one(&mut *conn)
        .await
        .map_err(sql("read log size"))?;
    let mut range = latest_range(conn).await?;
    if to_i64(range.size()) > next {
        return Err(StoreError::Inconsistent {
            reason: format!(
                "the newest checkpoint covers {} leaves but the log holds {next}",
                range.size()
            ),
        });
    }
    if to_i64(range.size()) < next {
        replay_leaves(conn, &mut range).await?;
    }
    Ok(range)
}

async fn latest_range(conn: &mut Conn) -> Result<CompactRange, StoreError> {
    let row: Option<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT tree_size, frontier FROM checkpoints ORDER BY tree_size DESC, id DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(sql("read newest checkpoint"))?;
    let Some((size, frontier)) = row else {
        return Ok(CompactRange::new());
    };
    let size = super::to_u64(size, "checkpoint")?;
    CompactRange::from_bytes(size, &frontier).map_err(|e| StoreError::Inconsistent {
        reason: format!("the newest checkpoint's compact range is unusable: {e}"),
    })
}

/// Appends the leaves after the range's size, which must follow it without a gap.
async fn replay_leaves(conn: &mut Conn, range: &mut CompactRange) -> Result<(), StoreError> {
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, leaf_hash FROM log_leaves WHERE seq >= ?1 ORDER BY seq")
            .bind(to_i64(range.size()))
            .fetch_all(&mut *conn)
            .await
            .map_err(sql("read leaves after the newest checkpoint"))?;
    for (seq, hash) in rows {
        let hash: Hash = hash.try_into().map_err(|_| StoreError::Inconsistent {
            reason: format!("leaf {seq} does not hold a 32-byte hash"),
        })?;
        if seq != to_i64(range.size()) {
            return Err(StoreError::Inconsistent {
                reason: format!("leaf {} is missing", range.size()),
            });
        }
        range.append(hash);
    }
    Ok(())
}

async fn insert_run(conn: &mut Conn, seq: u64, run: &RunRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO runs (run_id, seq, instance, collector, collector_version, triggered_by, \
         started_at, finished_at, outcome, error, failures) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .bind(&run.run_id)
    .bind(to_i64(seq))
    .bind(&run.instance)
    .bind(&run.collector)
    .bind(&run.collector_version)
    .bind(run.trigger.as_str())
    .bind(evidence::format_time(&run.started_at))
    .bind(evidence::format_time(&run.finished_at))
    .bind(run.outcome.as_str())
    .bind(&run.error)
    .bind(evidence::failures_json(&run.failures))
    .execute(&mut *conn)
    .await
    .map_err(sql("insert run"))?;
    Ok(())
}

async fn insert_observation(
    conn: &mut Conn,
    range: &mut CompactRange,
    run: &RunRecord,
    obs: &Observation,
) -> Result<(), StoreError> {
    let (meta, bytes) = ObservationMeta::of(obs);
    insert_payload(conn, &meta.payload_sha256, &bytes).await?;
    let seq = range.size();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO observations (run_id, seq, subject, collected_at, effective_at, \
         payload_sha256, custody) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
    )
    .bind(&run.run_id)
    .bind(to_i64(seq))
    .bind(&meta.subject)
    .bind(evidence::format_time(&meta.collected_at))
    .bind(meta.effective_at.as_ref().map(evidence::format_time))
    .bind(&meta.payload_sha256)
    .bind(evidence::custody_json(&meta.custody))
    .fetch_one(&mut *conn)
    .await
    .map_err(sql("insert observation"))?;
    let leaf = evidence::observation_leaf(
        seq,
        &run.run_id,
        &run.instance,
        &run.collector,
        &run.collector_version,
        &meta,
    );
    append_leaf(conn, range, "observation", &id.to_string(), &leaf).await
}

/// Stores payload bytes once per hash; bytes that retention dropped come back when the same
/// facts are observed again.
async fn insert_payload(conn: &mut Conn, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO payloads (sha256, size, bytes) VALUES (?1, ?2, ?3) \
         ON CONFLICT (sha256) DO UPDATE SET bytes = excluded.bytes \
         WHERE payloads.bytes IS NULL",
    )
    .bind(sha256)
    .bind(to_i64(bytes.len() as u64))
    .bind(bytes)
    .execute(&mut *conn)
    .await
    .map_err(sql("insert payload"))?;
    Ok(())
}

pub(super) async fn append_leaf(
    conn: &mut Conn,
    range: &mut CompactRange,
    kind: &str,
    reference: &str,
    leaf: &[u8],
) -> Result<(), StoreError> {
    let hash = merkle::leaf_hash(leaf);
    sqlx::query("INSERT INTO log_leaves (seq, kind, ref, leaf_hash) VALUES (?1, ?2, ?3, ?4)")
        .bind(to_i64(range.size()))
        .bind(kind)
        .bind(reference)
        .bind(&hash[..])
        .execute(&mut *conn)
        .await
        .map_err(sql("insert log leaf"))?;
    range.append(hash);
    Ok(())
}

pub(super) async fn insert_checkpoint(
    conn: &mut Conn,
    checkpoint: &Checkpoint,
    range: &CompactRange,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO checkpoints (tree_size, root, created_at, key_id, signature, frontier) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(to_i64(checkpoint.tree_size))
    .bind(&checkpoint.root[..])
    .bind(checkpoint.created_at_text())
    .bind(&checkpoint.key_id)
    .bind(&checkpoint.signature[..])
    .bind(range.to_bytes())
    .execute(&mut *conn)
    .await
    .map_err(sql("insert checkpoint"))?;
    Ok(())
}
