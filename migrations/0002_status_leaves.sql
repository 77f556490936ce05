-- beweis evidence log, schema version 2: published status documents (the public feed).
--
-- Each status document written to the feed is a log record: one row in statuses holding the
-- exact bytes of status.json, and one row in log_leaves of kind 'status' whose leaf commits
-- to the SHA-256 of those bytes (src/evidence status_leaf). SQLite cannot widen a CHECK
-- constraint in place, so log_leaves is rebuilt with the new kind and its triggers restored.
-- Never edit this file once released: add a new migration instead.

CREATE TABLE statuses (
    seq             INTEGER PRIMARY KEY CHECK (seq >= 0),
    document_sha256 TEXT NOT NULL CHECK (length(document_sha256) = 64),
    document        BLOB NOT NULL
) STRICT;

CREATE TRIGGER statuses_no_update BEFORE UPDATE ON statuses
BEGIN SELECT RAISE(ABORT, 'statuses are append-only'); END;
CREATE TRIGGER statuses_no_delete BEFORE DELETE ON statuses
BEGIN SELECT RAISE(ABORT, 'statuses are append-only'); END;

CREATE TABLE log_leaves_v2 (
    seq       INTEGER PRIMARY KEY CHECK (seq >= 0),
    kind      TEXT NOT NULL CHECK (kind IN ('run', 'observation', 'status')),
    ref       TEXT NOT NULL, -- runs.run_id, observations.id or statuses.seq
    leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
) STRICT;

INSERT INTO log_leaves_v2 (seq, kind, ref, leaf_hash)
SELECT seq, kind, ref, leaf_hash FROM log_leaves ORDER BY seq;

DROP TABLE log_leaves;
ALTER TABLE log_leaves_v2 RENAME TO log_leaves;

CREATE TRIGGER log_leaves_no_update BEFORE UPDATE ON log_leaves
BEGIN SELECT RAISE(ABORT, 'log leaves are append-only'); END;
CREATE TRIGGER log_leaves_no_delete BEFORE DELETE ON log_leaves
BEGIN SELECT RAISE(ABORT, 'log leaves are append-only'); END;
