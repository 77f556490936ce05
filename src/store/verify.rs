//! `verify`: recompute the evidence log from the stored rows and name the first bad record.
//!
//! One read transaction (a consistent snapshot, so a writer may keep appending meanwhile)
//! walks the database in five passes, stopping at the first problem:
//!
//! 1. `PRAGMA integrity_check`;
//! 2. the leaves in sequence order, a page at a time: positions must run 0, 1, 2, … without a
//!    gap; each leaf is recomputed from its run or observation row (which must sit at the
//!    leaf's position) and compared with the stored hash; the Merkle compact range grows leaf
//!    by leaf, and at each checkpoint's size the checkpoint's signature, root and stored
//!    compact range are checked;
//! 3. checkpoints beyond the last leaf (leaves removed after they were signed);
//! 4. run and observation rows that no leaf records (rows inserted behind the log's back);
//! 5. payloads: bytes must hash to their key, unless retention dropped them.
//!
//! What it cannot see: deleting the newest leaves together with the checkpoints that signed
//! them leaves a shorter, internally consistent log. Only a checkpoint kept elsewhere (the
//! public feed, a witness) can reveal that truncation, through a consistency proof.
//!
//! A problem found is a [`Tamper`] value in the report; [`StoreError`] means verify could not
//! run at all (I/O, SQL). Neighbours: `evidence` recomputes leaves and checks signatures.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::rows::{
    CheckpointColumns, ObservationColumns, RunColumns, CHECKPOINT_QUERY, OBSERVATION_QUERY,
    RUN_COLUMNS,
};
use super::{sql, to_i64, Conn, Store, StoreError};
use crate::evidence::checkpoint::CheckpointError;
use crate::evidence::merkle::{self, CompactRange, Hash};
use crate::evidence::{self, payload_sha256};

/// Leaves read per query.
const LEAF_PAGE: i64 = 1024;
/// Payload keys read per query.
const PAYLOAD_KEY_PAGE: i64 = 512;
/// Payload bytes read per query, unless one payload alone is larger.
const PAYLOAD_BATCH_BYTES: i64 = 4 << 20;

/// What `verify` checked, and the first problem it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct VerifyReport {
    /// Leaves checked (all of them when there is no problem).
    pub(crate) leaves: u64,
    /// Checkpoints whose signature and root were checked.
    pub(crate) checkpoints: u64,
    /// Payloads whose bytes were hashed.
    pub(crate) payloads: u64,
    /// Payloads whose bytes retention dropped; their hashes are still in the log.
    pub(crate) pruned_payloads: u64,
    /// The first bad record, `None` when the log is intact.
    pub(crate) problem: Option<Tamper>,
}

/// A record that does not match the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Tamper {
    /// The record, e.g. `observation 42 (seq 97, instance sshd, subject /etc/ssh/sshd_config)`.
    pub(crate) record: String,
    /// What is wrong with it, e.g. `leaf hash mismatch`.
    pub(crate) reason: String,
}

impl fmt::Display for Tamper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.record, self.reason)
    }
}

impl Store {
    /// Recomputes every leaf, checkpoint and payload hash (see the module documentation).
    pub(crate) async fn verify(&self, key: &VerifyingKey) -> Result<VerifyReport, StoreError> {
        let mut tx = self.pool.begin().await.map_err(sql("begin read transaction"))?;
        let mut walk = Walk::new(key);
        let result = match file_damage(&mut tx).await {
            Ok(None) => walk.run(&mut tx).await,
            Ok(Some(damage)) => Err(tamper("database file", damage)),
            Err(error) => Err(Halt::Store(error)),
        };
        // Intact records without their guards still mean someone could rewrite them unseen.
        let result = match (result, super::missing_guards(&mut tx).await) {
            (Ok(()), Ok(Some(missing))) => Err(tamper("log tables", missing)),
            (Ok(()), Err(error)) => Err(Halt::Store(error)),
            (result, _) => result,
        };
        tx.rollback().await.map_err(sql("end read transaction"))?;
        let problem = match result {
            Ok(()) => None,
            Err(Halt::Tamper(tamper)) => Some(tamper),
            Err(Halt::Store(error)) => return Err(error),
        };
        Ok(VerifyReport {
            leaves: walk.range.size(),
            checkpoints: walk.checkpoints,
            payloads: walk.payloads,
            pruned_payloads: walk.pruned,
            problem,
        })
    }
}

/// SQLite's own check of the file's pages and indexes: a damaged file is a finding of
/// `verify` (exit 1), with SQLite's first messages, not a failure to run.
async fn file_damage(conn: &mut Conn) -> Result<Option<String>, StoreError> {
    let rows =
        sqlx::query_scalar::<_, String>("PRAGMA integrity_check(5)").fetch_all(&mut *conn).await;
    match rows {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => Ok(None),
        Ok(rows) => Ok(Some(format!("integrity check failed: {}", rows.join("; ")))),
        Err(sqlx::Error::Database(e)) if is_corruption(e.code().as_deref()) => {
            Ok(Some(format!("integrity check failed: {}", e.message())))
        }
        Err(source) => Err(StoreError::Sql { action: "check database integrity", source }),
    }
}

/// SQLITE_CORRUPT (11) and SQLITE_NOTADB (26), with their extended codes.
fn is_corruption(code: Option<&str>) -> bool {
    let primary = code.and_then(|c| c.parse::<u32>().ok()).map(|c| c & 0xff);
    matches!(primary, Some(11 | 26))
}

/// Why the walk stopped early.
enum Halt {
    Tamper(Tamper),
    Store(StoreError),
}

impl From<StoreError> for Halt {
    fn from(error: StoreError) -> Halt {
        Halt::Store(error)
    }
}

fn tamper(record: impl Into<String>, reason: impl Into<String>) -> Halt {
    Halt::Tamper(Tamper { record: record.into(), reason: reason.into() })
}

fn query_failed(action: &'static str) -> impl FnOnce(sqlx::Error) -> Halt {
    move |source| Halt::Store(sql(action)(source))
}

#[derive(sqlx::FromRow)]
struct LeafColumns {
    seq: i64,
    kind: String,
    #[sqlx(rename = "ref")]
    reference: String,
    leaf_hash: Vec<u8>,
}

/// The state of one verification walk.
struct Walk<'k> {
    key: &'k VerifyingKey,
    range: CompactRange,
    /// Checkpoints loaded for the current page, smallest tree size first.
    pending: VecDeque<CheckpointColumns>,
    checkpoints: u64,
    payloads: u64,
    pruned: u64,
    /// Status documents of the current page, by log position.
    statuses: HashMap<i64, super::feed::StatusColumns>,
}

impl<'k> Walk<'k> {
    fn new(key: &'k VerifyingKey) -> Walk<'k> {
        Walk {
            key,
            range: CompactRange::new(),
            pending: VecDeque::new(),
            checkpoints: 0,
            payloads: 0,
            pruned: 0,
            statuses: HashMap::new(),
        }
    }

    async fn run(&mut self, conn: &mut Conn) -> Result<(), Halt> {
        integrity(conn).await?;
        self.leaves(conn).await?;
        self.checkpoints_beyond(conn).await?;
        orphan_runs(conn).await?;
        orphan_observations(conn).await?;
        if let Some(label) = super::feed::orphan_status(conn).await? {
            return Err(tamper(label, "has no leaf in the log"));
        }
        self.payloads(conn).await
    }

    async fn leaves(&mut self, conn: &mut Conn) -> Result<(), Halt> {
        self.load_checkpoints(conn, i64::MIN, 0).await?;
        self.check_due_checkpoints()?;
        let mut after = i64::MIN;
        loop {
            let page: Vec<LeafColumns> = sqlx::query_as(
                "SELECT seq, kind, ref, leaf_hash FROM log_leaves \
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .bind(after)
            .bind(LEAF_PAGE)
            .fetch_all(&mut *conn)
            .await
            .map_err(query_failed("read log leaves"))?;
            let (Some(first), Some(last)) = (page.first(), page.last()) else {
                return Ok(());
            };
            let (first, last) = (first.seq, last.seq);
            let runs = runs_between(conn, first, last).await?;
            let observations = observations_between(conn, first, last).await?;
            self.statuses = super::feed::statuses_between(conn, first, last).await?;
            self.load_checkpoints(conn, to_i64(self.range.size()), last.saturating_add(1)).await?;
            for leaf in &page {
                self.check_leaf(leaf, &runs, &observations)?;
            }
            if (page.len() as i64) < LEAF_PAGE {
                return Ok(());
            }
            after = last;
        }
    }

    /// Queues the checkpoints with `above < tree_size <= upto`.
    async fn load_checkpoints(
        &mut self,
        conn: &mut Conn,
        above: i64,
        upto: i64,
    ) -> Result<(), Halt> {
        let query = format!(
            "{CHECKPOINT_QUERY} WHERE tree_size > ?1 AND tree_size <= ?2 ORDER BY tree_size, id"
        );
        let rows: Vec<CheckpointColumns> = sqlx::query_as(&query)
            .bind(above)
            .bind(upto)
            .fetch_all(&mut *conn)
            .await
            .map_err(query_failed("read checkpoints"))?;
        self.pending.extend(rows);
        Ok(())
    }

    fn check_leaf(
        &mut self,
        leaf: &LeafColumns,
        runs: &HashMap<i64, RunColumns>,
        observations: &HashMap<i64, ObservationColumns>,
    ) -> Result<(), Halt> {
        let expected = to_i64(self.range.size());
        if leaf.seq != expected {
            let reason = format!("missing from the log (the next leaf is {})", leaf.seq);
            return Err(tamper(format!("leaf {expected}"), reason));
        }
        let (record, bytes) = match leaf.kind.as_str() {
            "run" => run_leaf(leaf, runs.get(&leaf.seq))?,
            "observation" => observation_leaf(leaf, observations.get(&leaf.seq))?,
            "status" => {
                let row = self.statuses.get(&leaf.seq);
                super::feed::status_leaf(leaf.seq, &leaf.reference, row)
                    .map_err(|(record, reason)| tamper(record, reason))?
            }
            other => {
                return Err(tamper(format!("leaf {}", leaf.seq), format!("unknown kind {other:?}")))
            }
        };
        let stored: Hash = leaf
            .leaf_hash
            .as_slice()
            .try_into()
            .map_err(|_| tamper(&record, "stored leaf hash is not 32 bytes"))?;
        if merkle::leaf_hash(&bytes) != stored {
            return Err(tamper(record, "leaf hash mismatch"));
        }
        self.range.append(stored);
        self.check_due_checkpoints()
    }

    /// Checks the queued checkpoints whose tree size the walk has reached.
    fn check_due_checkpoints(&mut self) -> Result<(), Halt> {
        let size = to_i64(self.range.size());
        while self.pending.front().is_some_and(|c| c.tree_size <= size) {
            let columns = self.pending.pop_front().expect("front was just checked");
            self.check_checkpoint(&columns)?;
        }
        Ok(())
    }

    fn check_checkpoint(&mut self, columns: &CheckpointColumns) -> Result<(), Halt> {
        let record = columns.label();
        let checkpoint = columns.checkpoint().map_err(|reason| tamper(&record, reason))?;
        checkpoint.verify(self.key).map_err(|e| tamper(&record, signature_problem(e)))?;
        if checkpoint.tree_size != self.range.size() || checkpoint.root != self.range.root() {
            return Err(tamper(record, "root hash does not match the log"));
        }
        if columns.frontier != self.range.to_bytes() {
            return Err(tamper(record, "stored compact range does not match the log"));
        }
        self.checkpoints += 1;
        Ok(())
    }

    async fn checkpoints_beyond(&self, conn: &mut Conn) -> Result<(), Halt> {
        let query = format!("{CHECKPOINT_QUERY} WHERE tree_size > ?1 ORDER BY tree_size LIMIT 1");
        let beyond: Option<CheckpointColumns> = sqlx::query_as(&query)
            .bind(to_i64(self.range.size()))
            .fetch_optional(&mut *conn)
            .await
            .map_err(query_failed("read checkpoints beyond the log"))?;
        match beyond {
            None => Ok(()),
            Some(columns) => Err(tamper(
                columns.label(),
                format!(
                    "the log holds only {} leaves: signed leaves were removed",
                    self.range.size()
                ),
            )),
        }
    }

    async fn payloads(&mut self, conn: &mut Conn) -> Result<(), Halt> {
        let mut after: Option<String> = None;
        loop {
            let keys: Vec<(String, i64)> = sqlx::query_as(
                "SELECT sha256, COALESCE(length(bytes), 0) FROM payloads \
                 WHERE ?1 IS NULL OR sha256 > ?1 ORDER BY sha256 LIMIT ?2",
            )
            .bind(&after)
            .bind(PAYLOAD_KEY_PAGE)
            .fetch_all(&mut *conn)
            .await
            .map_err(query_failed("read payload keys"))?;
            for (first, last) in batches(&keys, PAYLOAD_BATCH_BYTES) {
                self.check_payload_batch(conn, first, last).await?;
            }
            if (keys.len() as i64) < PAYLOAD_KEY_PAGE {
                return Ok(());
            }
            after = keys.last().map(|(key, _)| key.clone());
        }
    }

    async fn check_payload_batch(
        &mut self,
        conn: &mut Conn,
        first: &str,
        last: &str,
    ) -> Result<(), Halt> {
        let rows: Vec<(String, i64, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT sha256, size, bytes FROM payloads \
             WHERE sha256 >= ?1 AND sha256 <= ?2 ORDER BY sha256",
        )
        .bind(first)
        .bind(last)
        .fetch_all(&mut *conn)
        .await
        .map_err(query_failed("read payloads"))?;
        for (sha256, size, bytes) in rows {
            self.check_payload(&sha256, size, bytes.as_deref())?;
        }
        Ok(())
    }

    fn check_payload(&mut self, sha256: &str, size: i64, bytes: Option<&[u8]>) -> Result<(), Halt> {
        let Some(bytes) = bytes else {
            self.pruned += 1;
            return Ok(());
        };
        let record = format!("payload {sha256}");
        if payload_sha256(bytes) != sha256 {
            return Err(tamper(record, "bytes do not hash to their sha256"));
        }
        if bytes.len() as i64 != size {
            return Err(tamper(
                record,
                format!("stored size {size} differs from {} bytes", bytes.len()),
            ));
        }
        self.payloads += 1;
        Ok(())
    }
}

async fn integrity(conn: &mut Conn) -> Result<(), Halt> {
    let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut *conn)
        .await
        .map_err(query_failed("check database integrity"))?;
    if lines.len() == 1 && lines[0] == "ok" {
        return Ok(());
    }
    let shown: Vec<&str> = lines.iter().take(5).map(String::as_str).collect();
    Err(tamper("database", format!("integrity check failed: {}", shown.join("; "))))
}

async fn runs_between(
    conn: &mut Conn,
    first: i64,
    last: i64,
) -> Result<HashMap<i64, RunColumns>, Halt> {
    let query = format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.seq BETWEEN ?1 AND ?2");
    let rows: Vec<RunColumns> = sqlx::query_as(&query)
        .bind(first)
        .bind(last)
        .fetch_all(&mut *conn)
        .await
        .map_err(query_failed("read runs"))?;
    Ok(rows.into_iter().map(|row| (row.seq, row)).collect())
}

async fn observations_between(
    conn: &mut Conn,
    first: i64,
    last: i64,
) -> Result<HashMap<i64, ObservationColumns>, Halt> {
    let query = format!("{OBSERVATION_QUERY} WHERE o.seq BETWEEN ?1 AND ?2");
    let rows: Vec<ObservationColumns> = sqlx::query_as(&query)
        .bind(first)
        .bind(last)
        .fetch_all(&mut *conn)
        .await
        .map_err(query_failed("read observations"))?;
    Ok(rows.into_iter().map(|row| (row.seq, row)).collect())
}

/// The label and recomputed leaf bytes of the run a leaf records.
fn run_leaf(leaf: &LeafColumns, row: Option<&RunColumns>) -> Result<(String, Vec<u8>), Halt> {
    let Some(row) = row.filter(|r| r.run_id == leaf.reference) else {
        let record = format!("leaf {} (run {})", leaf.seq, leaf.reference);
        return Err(tamper(record, "its run row is missing or was moved"));
    };
    let label = row.label();
    let record = row.record().map_err(|reason| tamper(&label, reason))?;
    let bytes = evidence::run_leaf(leaf.seq as u64, &record);
    Ok((label, bytes))
}

/// The label and recomputed leaf bytes of the observation a leaf records.
fn observation_leaf(
    leaf: &LeafColumns,
    row: Option<&ObservationColumns>,
) -> Result<(String, Vec<u8>), Halt> {
    let Some(row) = row.filter(|o| o.id.to_string() == leaf.reference) else {
        let record = format!("leaf {} (observation {})", leaf.seq, leaf.reference);
        return Err(tamper(record, "its observation row is missing or was moved"));
    };
    let label = row.label();
    let (Some(instance), Some(collector), Some(version)) =
        (&row.instance, &row.collector, &row.collector_version)
    else {
        return Err(tamper(label, format!("its run {} is missing", row.run_id)));
    };
    if !row.has_payload {
        return Err(tamper(label, format!("its payload {} is missing", row.payload_sha256)));
    }
    let meta = row.meta().map_err(|reason| tamper(&label, reason))?;
    let bytes = evidence::observation_leaf(
        leaf.seq as u64,
        &row.run_id,
        instance,
        collector,
        version,
        &meta,
    );
    Ok((label, bytes))
}

async fn orphan_runs(conn: &mut Conn) -> Result<(), Halt> {
    let query = format!(
        "SELECT {RUN_COLUMNS} FROM runs r WHERE NOT EXISTS (SELECT 1 FROM log_leaves l \
         WHERE l.seq = r.seq AND l.kind = 'run' AND l.ref = r.run_id) ORDER BY r.seq LIMIT 1"
    );
    let orphan: Option<RunColumns> = sqlx::query_as(&query)
        .fetch_optional(&mut *conn)
        .await
        .map_err(query_failed("find runs without a leaf"))?;
    match orphan {
        None => Ok(()),
        Some(row) => Err(tamper(row.label(), "has no leaf in the log")),
    }
}

async fn orphan_observations(conn: &mut Conn) -> Result<(), Halt> {
    let query = format!(
        "{OBSERVATION_QUERY} WHERE NOT EXISTS (SELECT 1 FROM log_leaves l WHERE l.seq = o.seq \
         AND l.kind = 'observation' AND l.ref = CAST(o.id AS TEXT)) ORDER BY o.seq LIMIT 1"
    );
    let orphan: Option<ObservationColumns> = sqlx::query_as(&query)
        .fetch_optional(&mut *conn)
        .await
        .map_err(query_failed("find observations without a leaf"))?;
    match orphan {
        None => Ok(()),
        Some(row) => Err(tamper(row.label(), "has no leaf in the log")),
    }
}

fn signature_problem(error: CheckpointError) -> String {
    match error {
        CheckpointError::UnknownKey { found, expected, .. } => {
            format!("signed by key {found}, not by the verifying key {expected}")
        }
        CheckpointError::BadSignature { .. } => "signature does not match".into(),
    }
}

/// Groups sorted `(key, byte length)` pairs into key ranges of at most `budget` bytes each
/// (a single larger payload gets a range of its own).
fn batches(keys: &[(String, i64)], budget: i64) -> Vec<(&str, &str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    let mut used = 0i64;
    for (key, len) in keys {
        match out.last_mut() {
            Some(range) if used.saturating_add(*len) <= budget => {
                range.1 = key;
                used = used.saturating_add(*len);
            }
            _ => {
                out.push((key, key));
                used = *len;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_batches_respect_the_budget() {
        let keys: Vec<(String, i64)> =
            [("a", 3), ("b", 4), ("c", 10), ("d", 1), ("e", 1)].map(|(k, n)| (k.into(), n)).into();
        assert_eq!(batches(&keys, 8), vec![("a", "b"), ("c", "c"), ("d", "e")]);
        assert_eq!(batches(&keys, 100), vec![("a", "e")]);
        assert_eq!(batches(&[], 8), Vec::<(&str, &str)>::new());
    }
}
