-- Idempotency keys of POST requests, per caller, with the first response to replay.
CREATE TABLE idempotency_keys (
    caller              text        NOT NULL,
    idempotency_key     text        NOT NULL,
    -- sha256 of method, path, caller and canonical body of the first request.
    fingerprint         text        NOT NULL,
    state               text        NOT NULL CHECK (state IN ('in_progress', 'completed')),
    -- Which claim owns the key while it is in progress.
    claim_token         uuid        NOT NULL,
    claimed_at          timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    response_status     integer,
    response_headers    jsonb,
    response_body       bytea,
    completed_at        timestamptz,
    PRIMARY KEY (caller, idempotency_key),
    CHECK ((state = 'completed') = (response_status IS NOT NULL))
);

CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
