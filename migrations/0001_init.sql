-- beweis evidence log, schema version 1.
--
-- Runs and observations are log records: each has exactly one row in log_leaves, whose
-- leaf_hash is the RFC 6962 leaf hash of the record's canonical bytes (src/evidence). Payloads
-- are content-addressed facts, shared between observations. Checkpoints are signed tree heads.
-- All of these are append-only and guarded by triggers; payload bytes alone may be dropped
-- (retention) and restored, never changed. control_status is the one mutable table: the
-- current status per control, whose history is the append-only control_transitions.
--
-- Timestamps are TEXT in the canonical form of src/evidence (RFC 3339, UTC, nine fractional
-- digits, 'Z'), which sorts chronologically; checkpoint times have whole seconds.
-- Never edit this file once released: add a new migration instead.

CREATE TABLE runs (
    run_id            TEXT PRIMARY KEY NOT NULL,
    seq               INTEGER NOT NULL UNIQUE CHECK (seq >= 0),
    instance          TEXT NOT NULL,
    collector         TEXT NOT NULL,
    collector_version TEXT NOT NULL,
    triggered_by      TEXT NOT NULL
        CHECK (triggered_by IN ('schedule', 'catch_up', 'manual')),
    started_at        TEXT NOT NULL,
    finished_at       TEXT NOT NULL,
    outcome           TEXT NOT NULL
        CHECK (outcome IN ('succeeded', 'partial', 'failed', 'timed_out', 'cancelled', 'skipped')),
    error             TEXT,
    failures          TEXT NOT NULL -- canonical JSON array of subject failures
) STRICT;

CREATE INDEX runs_latest_per_instance ON runs (instance, started_at DESC, seq DESC);

CREATE TABLE payloads (
    sha256 TEXT PRIMARY KEY NOT NULL, -- lowercase hex of the canonical bytes
    size   INTEGER NOT NULL CHECK (size >= 0),
    bytes  BLOB -- NULL once retention dropped the bytes; the hash stays
) STRICT;

CREATE TABLE observations (
    id             INTEGER PRIMARY KEY,
    run_id         TEXT NOT NULL REFERENCES runs (run_id),
    seq            INTEGER NOT NULL UNIQUE CHECK (seq >= 0),
    subject        TEXT NOT NULL,
    collected_at   TEXT NOT NULL,
    effective_at   TEXT,
    payload_sha256 TEXT NOT NULL REFERENCES payloads (sha256),
    custody        TEXT NOT NULL -- canonical JSON of the chain of custody
) STRICT;

CREATE INDEX observations_by_run ON observations (run_id, seq);
CREATE INDEX observations_by_time ON observations (collected_at);

CREATE TABLE log_leaves (
    seq       INTEGER PRIMARY KEY CHECK (seq >= 0),
    kind      TEXT NOT NULL CHECK (kind IN ('run', 'observation')),
    ref       TEXT NOT NULL, -- runs.run_id or observations.id
    leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
) STRICT;

CREATE TABLE checkpoints (
    id         INTEGER PRIMARY KEY,
    tree_size  INTEGER NOT NULL CHECK (tree_size >= 0),
    root       BLOB NOT NULL CHECK (length(root) = 32),
    created_at TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    signature  BLOB NOT NULL CHECK (length(signature) = 64),
    frontier   BLOB NOT NULL -- the compact range at tree_size, for appending without a reload
) STRICT;

CREATE INDEX checkpoints_by_size ON checkpoints (tree_size);

CREATE TABLE control_status (
    control  TEXT PRIMARY KEY NOT NULL,
    status   TEXT NOT NULL,
    since    TEXT NOT NULL,
    reason   TEXT NOT NULL,
    evidence TEXT NOT NULL -- JSON
) STRICT;

CREATE TABLE control_transitions (
    id          INTEGER PRIMARY KEY,
    control     TEXT NOT NULL,
    from_status TEXT, -- NULL for the first status of a control
    to_status   TEXT NOT NULL,
    at          TEXT NOT NULL,
    reason      TEXT NOT NULL
) STRICT;

CREATE INDEX control_transitions_by_control ON control_transitions (control, id);

CREATE TRIGGER runs_no_update BEFORE UPDATE ON runs
BEGIN SELECT RAISE(ABORT, 'runs are append-only'); END;
CREATE TRIGGER runs_no_delete BEFORE DELETE ON runs
BEGIN SELECT RAISE(ABORT, 'runs are append-only'); END;

CREATE TRIGGER observations_no_update BEFORE UPDATE ON observations
BEGIN SELECT RAISE(ABORT, 'observations are append-only'); END;
CREATE TRIGGER observations_no_delete BEFORE DELETE ON observations
BEGIN SELECT RAISE(ABORT, 'observations are append-only'); END;

CREATE TRIGGER log_leaves_no_update BEFORE UPDATE ON log_leaves
BEGIN SELECT RAISE(ABORT, 'log leaves are append-only'); END;
CREATE TRIGGER log_leaves_no_delete BEFORE DELETE ON log_leaves
BEGIN SELECT RAISE(ABORT, 'log leaves are append-only'); END;

CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;

CREATE TRIGGER control_transitions_no_update BEFORE UPDATE ON control_transitions
BEGIN SELECT RAISE(ABORT, 'control transitions are append-only'); END;
CREATE TRIGGER control_transitions_no_delete BEFORE DELETE ON control_transitions
BEGIN SELECT RAISE(ABORT, 'control transitions are append-only'); END;

-- Payload bytes may be dropped (set to NULL) or restored (from NULL); nothing else changes.
CREATE TRIGGER payloads_only_drop_or_restore_bytes BEFORE UPDATE ON payloads
WHEN NEW.sha256 IS NOT OLD.sha256
  OR NEW.size IS NOT OLD.size
  OR (NEW.bytes IS NOT NULL AND OLD.bytes IS NOT NULL)
  OR (NEW.bytes IS NOT NULL AND length(NEW.bytes) != NEW.size)
BEGIN SELECT RAISE(ABORT, 'payloads are append-only except for dropping their bytes'); END;
CREATE TRIGGER payloads_no_delete BEFORE DELETE ON payloads
BEGIN SELECT RAISE(ABORT, 'payloads are append-only'); END;
