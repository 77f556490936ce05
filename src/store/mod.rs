//! The evidence store: the one place in beweis that speaks SQL.
//!
//! This module owns the SQLite database: opening it (the writer creates and migrates it, readers
//! only open an existing one), appending runs with their observations and log leaves plus a
//! signed checkpoint in one transaction ([`log`]), the mutable control status table and its
//! append-only history ([`controls`]), the queries behind `status` and `evidence` ([`read`]),
//! and `verify`, which recomputes the whole log from the stored rows ([`verify`]).
//!
//! It does not decide what the bytes of a record are (`evidence` does: leaves, payloads, Merkle
//! hashing, checkpoints), does not judge evidence (`controls`), and does not load keys (`keys`):
//! callers pass the signing or verifying key in.
//!
//! Database rules: WAL journal, `synchronous=FULL`, a 30 s busy timeout, foreign keys on, and
//! every writing transaction starts with `BEGIN IMMEDIATE`, so concurrent writers (the daemon
//! and a `collect now` that fell back to running in-process) wait for each other instead of
//! failing, and log sequence numbers, allocated inside that transaction, can never fork.
//! Migrations are embedded and run by [`Store::open`] only.

mod controls;
mod feed;
mod log;
mod notices;
mod read;
mod rows;
mod verify;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Connection as _, Sqlite, Transaction};

pub(crate) use controls::ControlChange;
pub(crate) use feed::{RunMetric, StatusReceipt};
pub(crate) use read::{ObservationDetail, ObservationFilter, ObservationRow};
#[cfg(test)]
pub(crate) use {log::RunReceipt, read::Counts, verify::Tamper, verify::VerifyReport};

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a caller waits for this handle's connection, which one task holds at a time.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Why the store could not do what was asked. A tampered log is not an error: `verify`
/// reports it as a [`Tamper`] value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// A reader was pointed at a database that does not exist.
    #[error("no evidence collected yet: database {path} does not exist")]
    Missing { path: PathBuf },
    /// The database file could not be inspected.
    #[error("inspect database {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// SQLite could not open the database.
    #[error("open database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    /// The embedded migrations could not be applied.
    #[error("migrate database {path}: {source}")]
    Migrate { path: PathBuf, source: MigrateError },
    /// A reader found a schema other than the one this binary was built for.
    #[error(
        "database {path} has schema version {found}, this beweis expects {expected}; \
         start the daemon (or run a collection) once to migrate it"
    )]
    Schema { path: PathBuf, found: i64, expected: i64 },
    /// A statement failed.
    #[error("{action}: {source}")]
    Sql { action: &'static str, source: sqlx::Error },
    /// A stored value could not be decoded; `verify` names the record in detail.
    #[error("stored {record} is unreadable: {reason}")]
    Corrupt { record: String, reason: String },
    /// The log head is inconsistent, so the writer refuses to append to it.
    #[error("the evidence log is inconsistent ({reason}); run `beweis verify`")]
    Inconsistent { reason: String },
}

/// A handle on the evidence database: either the writer (one connection, migrated) or a
/// reader (read-only connection).
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

impl Store {
    /// Opens the database for writing, creating and migrating it as needed.
    pub(crate) async fn open(path: &Path) -> Result<Store, StoreError> {
        let options = connect_options(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let pool = connect(path, options).await?;
        restrict_mode(path)?;
        refuse_damaged(&pool).await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { path: path.into(), source })?;
        refuse_unguarded(&pool).await?;
        Ok(Store { pool, path: path.into() })
    }

    /// Opens an existing database read-only, for `status`, `evidence` and `verify`.
    pub(crate) async fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        match std::fs::metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing { path: path.into() });
            }
            Err(source) => return Err(StoreError::Io { path: path.into(), source }),
        }
        let options = connect_options(path).read_only(true).create_if_missing(false);
        let store = Store { pool: connect(path, options).await?, path: path.into() };
        store.check_schema().await?;
        Ok(store)
    }

    /// The database file this handle reads or writes.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for running statements and closes the connection; later calls on this handle
    /// (or its clones) fail.
    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a writing transaction that holds the write lock from its first statement.
    async fn begin_immediate(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(sql("begin write transaction"))
    }

    async fn check_schema(&self) -> Result<(), StoreError> {
        let expected = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let found = applied_version(&self.pool).await?;
        if found != expected {
            return Err(StoreError::Schema { path: self.path.clone(), found, expected });
        }
        Ok(())
    }
}

fn connect_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new().filename(path).busy_timeout(BUSY_TIMEOUT).foreign_keys(true)
}

async fn connect(path: &Path, options: SqliteConnectOptions) -> Result<SqlitePool, StoreError> {
    SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // A connection handed back inside a transaction (a write that failed, or a COMMIT that
        // failed on a full disk, after which sqlx's ROLLBACK fails and it keeps counting the
        // transaction as open) is closed instead of reused: the next write then starts on a
        // fresh connection and fails, if at all, with its own cause.
        .after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Open { path: path.into(), source })
}

/// The newest applied migration, 0 when the database has none.
async fn applied_version(pool: &SqlitePool) -> Result<i64, StoreError> {
    let has_table: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master \
         WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(pool)
    .await
    .map_err(sql("read schema"))?;
    if !has_table {
        return Ok(0);
    }
    let version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
            .map_err(sql("read schema version"))?;
    Ok(version.unwrap_or(0))
}

/// Wraps a sqlx error with what the store was doing.
fn sql(action: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Sql { action, source }
}

/// A stored signed integer as an unsigned count or position; the schema's CHECK constraints
/// keep them non-negative, anything else reads as corrupt.
fn to_u64(value: i64, record: &str) -> Result<u64, StoreError> {
    u64::try_from(value)
        .map_err(|_| StoreError::Corrupt { record: record.into(), reason: format!("{value} < 0") })
}

/// A log position or size as SQLite's integer; logs never reach 2^63 records.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).expect("log positions stay below 2^63")
}

/// The connection inside a transaction, for helpers that run several statements on it.
type Conn = SqliteConnection;

/// Makes the database readable by its owner only; SQLite gives its `-wal` and `-shm` files the
/// same mode.
fn restrict_mode(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|source| StoreError::Io { path: path.into(), source })
}

/// The triggers that keep the log tables append-only. Deleting or rewriting a record needs
/// them dropped first, so a writer that finds one missing stops: it would otherwise sign a new
/// checkpoint over a history someone else changed.
const GUARD_TRIGGERS: [&str; 14] = [
    "runs_no_update",
    "runs_no_delete",
    "observations_no_update",
    "observations_no_delete",
    "log_leaves_no_update",
    "log_leaves_no_delete",
    "checkpoints_no_update",
    "checkpoints_no_delete",
    "control_transitions_no_update",
    "control_transitions_no_delete",
    "payloads_only_drop_or_restore_bytes",
    "payloads_no_delete",
    "statuses_no_update",
    "statuses_no_delete",
];

/// The writer never appends to a log whose guards are gone or whose records no longer match its
/// leaves one for one; `verify` names the record, this only refuses.
async fn refuse_unguarded(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await.map_err(sql("acquire connection"))?;
    if let Some(reason) = missing_guards(&mut conn).await? {
        return Err(StoreError::Inconsistent { reason });
    }
    let (leaves, records): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM log_leaves), (SELECT count(*) FROM runs) \
         + (SELECT count(*) FROM observations) + (SELECT count(*) FROM statuses)",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(sql("count log records"))?;
    if leaves != records {
        let reason = format!("the log has {leaves} leaves but {records} records");
        return Err(StoreError::Inconsistent { reason });
    }
    Ok(())
}

/// Which of the append-only triggers are gone, as a sentence; `None` when all are there.
async fn missing_guards(conn: &mut Conn) -> Result<Option<String>, StoreError> {
    let present: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            .fetch_all(&mut *conn)
            .await
            .map_err(sql("read triggers"))?;
    let missing: Vec<&str> =
        GUARD_TRIGGERS.into_iter().filter(|name| !present.iter().any(|p| p == name)).collect();
    if missing.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!("append-only triggers missing: {}", missing.join(", "))))
}

/// The writer never appends to a damaged file: `PRAGMA quick_check` must say ok.
async fn refuse_damaged(pool: &SqlitePool) -> Result<(), StoreError> {
    let (result,): (String,) = sqlx::query_as("PRAGMA quick_check")
        .fetch_one(pool)
        .await
        .map_err(|source| StoreError::Sql { action: "check database integrity", source })?;
    if result == "ok" {
        return Ok(());
    }
    Err(StoreError::Inconsistent { reason: format!("integrity check failed: {result}") })
}
