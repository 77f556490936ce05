//! The webhook outbox: events claimed once by their idempotency key, finished after delivery.
//!
//! [`Store::claim_notice`] inserts an event unless its key is already there, and says whether it
//! did: the caller queues the event only then, so a re-evaluation or a restart never sends the
//! same event twice. [`Store::finish_notice`] records that every hook was tried;
//! [`Store::unfinished_notices`] gives the daemon what to queue again after a restart, and
//! [`Store::forget_finished_notices`] keeps the table from growing without bound. This
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

    /// Forgets finished events queued before `before`; returns how many. Only safe for events
    /// that cannot be made again: transitions carry their time, expiry events their expiry
    /// time, which lies at most the longest lead time after they were queued.
    pub(crate) async fn forget_finished_notices(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM webhook_notices WHERE finished_at IS NOT NULL AND queued_at < ?1",
        )
        .bind(format_time(&before))
        .execute(&self.pool)
        .await
        .map_err(sql("forget finished webhook events"))?;
        Ok(done.rows_affected())
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
