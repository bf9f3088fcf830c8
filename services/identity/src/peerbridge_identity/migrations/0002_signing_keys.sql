-- The keys that sign access tokens. The private key is stored sealed with the
-- platform keyring (bound to its kid), never in clear. A key is active from
-- activated_at until retired_at; a retired key stays published in the JWKS
-- until every token it signed has expired, then it is only history.
CREATE TABLE signing_keys (
    kid                 text        PRIMARY KEY CHECK (char_length(kid) BETWEEN 1 AND 256),
    algorithm           text        NOT NULL CHECK (algorithm = 'EdDSA'),
    private_key_sealed  bytea       NOT NULL,
    created_at          timestamptz NOT NULL,
    activated_at        timestamptz NOT NULL,
    retired_at          timestamptz,
    CHECK (retired_at IS NULL OR retired_at >= activated_at)
);

-- At most one active key, whatever two instances starting at once try.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true)) WHERE retired_at IS NULL;
CREATE INDEX signing_keys_by_retirement ON signing_keys (retired_at);
