//! The store's side of the public feed: published status documents as log leaves of kind
//! `status`, the leaf hashes the feed's proofs are computed from, and run metrics.
//!
//! [`Store::record_status`] appends one status document (its exact bytes in `statuses`, a leaf
//! committing to their SHA-256) and signs a new checkpoint over it, in one `BEGIN IMMEDIATE`
//! transaction, like `record_run`. `verify` recomputes status leaves through
//! [`statuses_between`] and [`status_leaf`]. This module does not decide what a status
//! document contains (`feed` does), nor compute proofs (`evidence::merkle` does).

use std::collections::HashMap;

use chrono::Utc;
use ed25519_dalek::SigningKey;

use super::log::{append_leaf, insert_checkpoint, load_head};
use super::{sql, to_i64, to_u64, Conn, Store, StoreError};
use crate::evidence::checkpoint::Checkpoint;
use crate::evidence::merkle::{CompactRange, Hash};
use crate::evidence::{self, payload_sha256};

/// What the log looks like after a status document was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusReceipt {
    /// The log position of the status leaf.
    pub(crate) seq: u64,
    /// Lowercase hex SHA-256 of the document bytes.
    pub(crate) document_sha256: String,
    /// The checkpoint signed right after the leaf (tree size `seq + 1`).
    pub(crate) checkpoint: Checkpoint,
}

/// A tree head published with an earlier status document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublishedHead {
    pub(crate) tree_size: u64,
    pub(crate) root: Hash,
}

/// Run counts and total durations per collector kind and outcome.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunMetric {
    pub(crate) collector: String,
    pub(crate) outcome: String,
    pub(crate) count: u64,
    pub(crate) duration_secs: f64,
}

/// A stored status row, as `verify` reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct StatusColumns {
    seq: i64,
    document_sha256: String,
    document: Vec<u8>,
}

impl Store {
    /// Records a status document and signs a checkpoint over it (see the module docs).
    pub(crate) async fn record_status(
        &self,
        document: &[u8],
        key: &SigningKey,
    ) -> Result<StatusReceipt, StoreError> {
        let mut tx = self.begin_immediate().await?;
        let mut range = load_head(&mut tx).await?;
        let seq = range.size();
        let document_sha256 = payload_sha256(document);
        sqlx::query("INSERT INTO statuses (seq, document_sha256, document) VALUES (?1, ?2, ?3)")
            .bind(to_i64(seq))
            .bind(&document_sha256)
            .bind(document)
            .execute(&mut *tx)
            .await
            .map_err(sql("insert status document"))?;
        let leaf = evidence::status_leaf(seq, &document_sha256);
        append_leaf(&mut tx, &mut range, "status", &seq.to_string(), &leaf).await?;
        let checkpoint = Checkpoint::sign(range.size(), range.root(), Utc::now(), key);
        insert_checkpoint(&mut tx, &checkpoint, &range).await?;
        tx.commit().await.map_err(sql("commit status document"))?;
        Ok(StatusReceipt { seq, document_sha256, checkpoint })
    }

    /// The leaf hashes of the first `size` leaves, in order.
    pub(crate) async fn leaf_hashes(&self, size: u64) -> Result<Vec<Hash>, StoreError> {
        self.leaf_hashes_between(0, size).await
    }

    /// The leaf hashes at positions `from..to`, in order.
    pub(crate) async fn leaf_hashes_between(
        &self,
        from: u64,
        to: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT seq, leaf_hash FROM log_leaves WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
        )
        .bind(to_i64(from))
        .bind(to_i64(to))
        .fetch_all(&self.pool)
        .await
        .map_err(sql("read leaf hashes"))?;
        let mut hashes = Vec::with_capacity(rows.len());
        for (seq, bytes) in rows {
            let expected = to_i64(from + hashes.len() as u64);
            if seq != expected {
                return Err(inconsistent(format!("leaf {expected} is missing")));
            }
            let hash: Hash = bytes
                .try_into()
                .map_err(|_| inconsistent(format!("leaf {seq} does not hold a 32-byte hash")))?;
            hashes.push(hash);
        }
        let wanted = to.saturating_sub(from);
        if hashes.len() as u64 != wanted {
            let held = hashes.len();
            return Err(inconsistent(format!("the log holds {held} of leaves {from}..{to}")));
        }
        Ok(hashes)
    }

    /// The compact range stored with a checkpoint of tree size `size` (the empty range for 0).
    pub(crate) async fn range_at(&self, size: u64) -> Result<CompactRange, StoreError> {
        if size == 0 {
            return Ok(CompactRange::new());
        }
        let frontier: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT frontier FROM checkpoints WHERE tree_size = ?1 ORDER BY id LIMIT 1",
        )
        .bind(to_i64(size))
        .fetch_optional(&self.pool)
        .await
        .map_err(sql("read a checkpoint's compact range"))?;
        let frontier =
            frontier.ok_or_else(|| inconsistent(format!("no checkpoint of tree size {size}")))?;
        CompactRange::from_bytes(size, &frontier)
            .map_err(|e| inconsistent(format!("checkpoint {size} has a bad compact range: {e}")))
    }

    /// The tree heads published with status documents before tree size `before`, newest
    /// first, at most `limit`.
    pub(crate) async fn published_heads(
        &self,
        before: u64,
        limit: u32,
    ) -> Result<Vec<PublishedHead>, StoreError> {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT c.tree_size, c.root FROM statuses s JOIN checkpoints c \
             ON c.id = (SELECT MIN(id) FROM checkpoints WHERE tree_size = s.seq + 1) \
             WHERE s.seq + 1 < ?1 ORDER BY s.seq DESC LIMIT ?2",
        )
        .bind(to_i64(before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(sql("read published tree heads"))?;
        rows.into_iter()
            .map(|(size, root)| {
                let tree_size = to_u64(size, "checkpoint")?;
                let root: Hash = root
                    .try_into()
                    .map_err(|_| inconsistent(format!("checkpoint {size} has a bad root")))?;
                Ok(PublishedHead { tree_size, root })
            })
            .collect()
    }

    /// The newest published status document: its log position and exact bytes.
    pub(crate) async fn latest_status(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let row: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, document FROM statuses ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(sql("read newest status document"))?;
        row.map(|(seq, bytes)| Ok((to_u64(seq, "status document")?, bytes))).transpose()
    }

    /// Run counts and durations per collector kind and outcome, for `/metrics`.
    pub(crate) async fn run_metrics(&self) -> Result<Vec<RunMetric>, StoreError> {
        let rows: Vec<(String, String, i64, Option<f64>)> = sqlx::query_as(
            "SELECT collector, outcome, COUNT(*), \
             SUM((julianday(finished_at) - julianday(started_at)) * 86400.0) \
             FROM runs GROUP BY collector, outcome ORDER BY collector, outcome",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(sql("count runs"))?;
        rows.into_iter()
            .map(|(collector, outcome, count, secs)| {
                Ok(RunMetric {
                    count: to_u64(count, "run count")?,
                    duration_secs: secs.unwrap_or(0.0).max(0.0),
                    collector,
                    outcome,
                })
            })
            .collect()
    }
}

fn inconsistent(reason: String) -> StoreError {
    StoreError::Inconsistent { reason }
}

/// The status rows at log positions `first..=last`, by position.
pub(super) async fn statuses_between(
    conn: &mut Conn,
    first: i64,
    last: i64,
) -> Result<HashMap<i64, StatusColumns>, StoreError> {
    let rows: Vec<StatusColumns> = sqlx::query_as(
        "SELECT seq, document_sha256, document FROM statuses WHERE seq BETWEEN ?1 AND ?2",
    )
    .bind(first)
    .bind(last)
    .fetch_all(&mut *conn)
    .await
    .map_err(sql("read status documents"))?;
    Ok(rows.into_iter().map(|row| (row.seq, row)).collect())
}

/// The label and recomputed leaf bytes of the status document a leaf at `seq` with reference
/// `reference` records; `Err((label, reason))` when the row is missing or altered.
pub(super) fn status_leaf(
    seq: i64,
    reference: &str,
    row: Option<&StatusColumns>,
) -> Result<(String, Vec<u8>), (String, String)> {
    let label = format!("status document (seq {seq})");
    let Some(row) = row.filter(|r| r.seq.to_string() == reference) else {
        return Err((label, "its status row is missing or was moved".into()));
    };
    if payload_sha256(&row.document) != row.document_sha256 {
        return Err((label, "document bytes do not hash to their sha256".into()));
    }
    let position = u64::try_from(seq).map_err(|_| (label.clone(), "negative position".into()))?;
    Ok((label, evidence::status_leaf(position, &row.document_sha256)))
}

/// The first status row that no leaf records, as a label.
pub(super) async fn orphan_status(conn: &mut Conn) -> Result<Option<String>, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar(
        "SELECT s.seq FROM statuses s WHERE NOT EXISTS (SELECT 1 FROM log_leaves l \
         WHERE l.seq = s.seq AND l.kind = 'status' AND l.ref = CAST(s.seq AS TEXT)) \
         ORDER BY s.seq LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(sql("find status documents without a leaf"))?;
    Ok(seq.map(|seq| format!("status document (seq {seq})")))
}
