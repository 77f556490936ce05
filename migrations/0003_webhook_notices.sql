-- beweis evidence log, schema version 3: the webhook outbox.
--
-- Every webhook event (a status transition, evidence about to expire) is claimed here by its
-- idempotency key before it is queued, so that re-evaluations and restarts never queue the same
-- event twice; finished_at is set once every configured hook was tried, and a restart queues
-- again what was claimed but not finished. Not part of the Merkle log: rows may be updated.
-- Never edit this file once released: add a new migration instead.

CREATE TABLE webhook_notices (
    idempotency_key TEXT PRIMARY KEY CHECK (length(idempotency_key) = 64),
    body            BLOB NOT NULL,
    queued_at       TEXT NOT NULL,
    finished_at     TEXT
) STRICT;

CREATE INDEX webhook_notices_unfinished ON webhook_notices (queued_at) WHERE finished_at IS NULL;
