//! Control status storage: the current status per control and its append-only history.
//!
//! `control_status` is the one mutable table of the database: one row per control, upserted
//! after each evaluation. Whenever a control's status word changes, a row is appended to
//! `control_transitions`, which triggers keep append-only. This module stores what `controls`
//! computed; it does not compute statuses and does not interpret the evidence JSON.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{sql, Conn, Store, StoreError};
use crate::evidence;

/// The stored current status of one control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct StoredControlStatus {
    pub(crate) control: String,
    pub(crate) status: String,
    /// When the control entered this status.
    pub(crate) since: DateTime<Utc>,
    pub(crate) reason: String,
    pub(crate) evidence: serde_json::Value,
}

/// A control's newly computed status, as handed to [`Store::record_control_changes`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ControlChange {
    pub(crate) control: String,
    pub(crate) status: String,
    pub(crate) reason: String,
    pub(crate) evidence: serde_json::Value,
}

/// One change of a control's status word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Transition {
    pub(crate) control: String,
    /// `None` for the first status a control ever had.
    pub(crate) from_status: Option<String>,
    pub(crate) to_status: String,
    pub(crate) at: DateTime<Utc>,
    pub(crate) reason: String,
}

type StatusColumns = (String, String, String, String, String);
type TransitionColumns = (String, Option<String>, String, String, String);

impl Store {
    /// The current status of every control that has one, ordered by control id.
    pub(crate) async fn control_statuses(&self) -> Result<Vec<StoredControlStatus>, StoreError> {
        let rows: Vec<StatusColumns> = sqlx::query_as(
            "SELECT control, status, since, reason, evidence FROM control_status ORDER BY control",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(sql("read control statuses"))?;
        rows.into_iter().map(decode_status).collect()
    }

    /// Stores the statuses of `changes` at time `at` in one transaction: each control's row is
    /// replaced (keeping `since` when the status word is unchanged) and a transition is
    /// appended for each control whose status word changed or that had none.
    pub(crate) async fn record_control_changes(
        &self,
        changes: &[ControlChange],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = evidence::format_time(&at);
        let mut tx = self.begin_immediate().await?;
        for change in changes {
            record_change(&mut tx, change, &at).await?;
        }
        tx.commit().await.map_err(sql("commit control statuses"))
    }

    /// The newest `limit` transitions, of one control or of all, newest first.
    pub(crate) async fn transitions(
        &self,
        control: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Transition>, StoreError> {
        let rows: Vec<TransitionColumns> = sqlx::query_as(
            "SELECT control, from_status, to_status, at, reason FROM control_transitions \
             WHERE ?1 IS NULL OR control = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .bind(control)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(sql("read control transitions"))?;
        rows.into_iter().map(decode_transition).collect()
    }
}

async fn record_change(
    conn: &mut Conn,
    change: &ControlChange,
    at: &str,
) -> Result<(), StoreError> {
    let previous: Option<String> =
        sqlx::query_scalar("SELECT status FROM control_status WHERE control = ?1")
            .bind(&change.control)
            .fetch_optional(&mut *conn)
            .await
            .map_err(sql("read control status"))?;
    sqlx::query(
        "INSERT INTO control_status (control, status, since, reason, evidence) \
         VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (control) DO UPDATE SET \
           since = CASE WHEN control_status.status = excluded.status \
                        THEN control_status.since ELSE excluded.since END, \
           status = excluded.status, reason = excluded.reason, evidence = excluded.evidence",
    )
    .bind(&change.control)
    .bind(&change.status)
    .bind(at)
    .bind(&change.reason)
    .bind(change.evidence.to_string())
    .execute(&mut *conn)
    .await
    .map_err(sql("write control status"))?;
    if previous.as_deref() == Some(change.status.as_str()) {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO control_transitions (control, from_status, to_status, at, reason) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(&change.control)
    .bind(previous)
    .bind(&change.status)
    .bind(at)
    .bind(&change.reason)
    .execute(&mut *conn)
    .await
    .map_err(sql("append control transition"))?;
    Ok(())
}

fn decode_status(row: StatusColumns) -> Result<StoredControlStatus, StoreError> {
    let (control, status, since, reason, evidence_json) = row;
    let record = || format!("status of control {control}");
    let since = evidence::parse_time(&since)
        .map_err(|e| StoreError::Corrupt { record: record(), reason: e.to_string() })?;
    let evidence = serde_json::from_str(&evidence_json)
        .map_err(|e| StoreError::Corrupt { record: record(), reason: e.to_string() })?;
    Ok(StoredControlStatus { control, status, since, reason, evidence })
}

fn decode_transition(row: TransitionColumns) -> Result<Transition, StoreError> {
    let (control, from_status, to_status, at, reason) = row;
    let at = evidence::parse_time(&at).map_err(|e| StoreError::Corrupt {
        record: format!("transition of control {control}"),
        reason: e.to_string(),
    })?;
    Ok(Transition { control, from_status, to_status, at, reason })
}
