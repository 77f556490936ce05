//! The webhook outbox: events claimed once by their idempotency key, finished after delivery.
//!
//! [`Store::claim_notice`] inserts an event unless its key is already there, and says whether it
//! did: the caller queues the event only then, so a re-evaluation or a restart never sends the
//! same event twice. [`Store::finish_notice`] records that every hook was tried;
//! [`Store::unfinished_notices`] gives the daemon what to queue again after a restart. This
//! module does not build or deliver events (`feed::webhook` does).

use chrono::{DateTime, Utc};

use super::{sql, Store, StoreError};
use crate::evidence::format_time;

/// The most unfinished events queued again at start.
const MAX_UNFINISHED: i64 = 1024;

impl Store {
    /// Claims the event with `key`; `false` when it was claimed before.
    pub(crate) async fn claim_notice(
        &self,
        key: &str,
        body: &[u8],
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO webhook_notices (idempotency_key, body, queued_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(key)
        .bind(body)
        .bind(format_time(&at))
        .execute(&self.pool)
        .await
        .map_err(sql("claim webhook event"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that every hook was tried with the event `key`.
    pub(crate) async fn finish_notice(
        &self,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE webhook_notices SET finished_at = ?2 WHERE idempotency_key = ?1")
            .bind(key)
            .bind(format_time(&at))
            .execute(&self.pool)
            .await
            .map_err(sql("finish webhook event"))?;
        Ok(())
    }

    /// Claimed events not finished yet, oldest first: `(key, body)`.
    pub(crate) async fn unfinished_notices(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        sqlx::query_as(
            "SELECT idempotency_key, body FROM webhook_notices WHERE finished_at IS NULL \
             ORDER BY queued_at, idempotency_key LIMIT ?1",
        )
        .bind(MAX_UNFINISHED)
        .fetch_all(&self.pool)
        .await
        .map_err(sql("read unfinished webhook events"))
    }
}
