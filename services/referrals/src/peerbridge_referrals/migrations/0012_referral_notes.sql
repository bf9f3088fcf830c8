-- Free-text notes on a referral (42 CFR Part 2 protected): only ever stored
-- sealed (AES-256-GCM under PEERBRIDGE_ENCRYPTION_KEYS, bound to the referral
-- and the note id), never in plain text; the service reseals notes under a
-- retired key at start-up, as it does reasons.
CREATE TABLE referral_notes (
    note_id                 uuid        PRIMARY KEY,
    referral_id             uuid        NOT NULL REFERENCES referrals (referral_id),
    -- The author's idempotency key; NULL when the caller sent none.
    request_id              text        CHECK (request_id <> ''),
    author_id               text        NOT NULL CHECK (author_id <> ''),
    author_organization_id  text        NOT NULL CHECK (author_organization_id <> ''),
    author_side             text        NOT NULL CHECK (
        author_side IN ('peer_support_program', 'clinic')
    ),
    shared_with_member      boolean     NOT NULL,
    text_ciphertext         bytea       NOT NULL,
    create_time             timestamptz NOT NULL
);

-- Idempotency is per author: another caller's request id is another request.
CREATE UNIQUE INDEX referral_notes_request_id_key ON referral_notes (author_id, request_id)
    WHERE request_id IS NOT NULL;
-- A referral's notes newest first.
CREATE INDEX referral_notes_by_referral
    ON referral_notes (referral_id, create_time DESC, note_id DESC);

