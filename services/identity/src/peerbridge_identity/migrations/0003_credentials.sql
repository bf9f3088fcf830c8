-- Credentials: people's passwords, the refresh tokens issued to them, the
-- sign-in throttle per network address, and partner clients' public keys.
-- Secrets are never stored: passwords as argon2id hashes, refresh tokens as
-- SHA-256 digests of 256 random bits.

CREATE TABLE password_credentials (
    person_id       uuid        PRIMARY KEY REFERENCES persons,
    -- As the person chose it; sign-in compares username_key (case-folded).
    username        text        NOT NULL CHECK (char_length(username) BETWEEN 3 AND 64),
    username_key    text        NOT NULL UNIQUE,
    password_hash   text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    failed_attempts integer     NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    -- Sign-in refused until then, whatever the password (lockout).
    locked_until    timestamptz,
    set_time        timestamptz NOT NULL
);

-- Failed sign-ins per address in the current window: a fixed window, so two
-- instances of the service share one count.
CREATE TABLE sign_in_throttle (
    address         text        PRIMARY KEY CHECK (char_length(address) BETWEEN 1 AND 256),
    window_start    timestamptz NOT NULL,
    attempts        integer     NOT NULL CHECK (attempts >= 0)
);

CREATE INDEX sign_in_throttle_by_window ON sign_in_throttle (window_start);

-- One family per sign-in; each refresh spends one token and issues its
-- successor in the same family. Presenting a spent token revokes the family.
CREATE TABLE refresh_token_families (
    family_id       uuid        PRIMARY KEY,
    person_id       uuid        NOT NULL REFERENCES persons,
    -- What the sign-in granted; a refresh may narrow it, never widen it.
    scopes          text[]      NOT NULL,
    create_time     timestamptz NOT NULL,
    -- The family's tokens all expire by then, however often they are refreshed.
    expire_time     timestamptz NOT NULL CHECK (expire_time > create_time),
    revoke_time     timestamptz,
    revoke_reason   text        CHECK (revoke_reason IN ('replayed', 'revoked', 'password_changed'))
);

CREATE INDEX refresh_token_families_by_person ON refresh_token_families (person_id);

CREATE TABLE refresh_tokens (
    token_digest    bytea       PRIMARY KEY CHECK (octet_length(token_digest) = 32),
    family_id       uuid        NOT NULL REFERENCES refresh_token_families,
    issue_time      timestamptz NOT NULL,
    expire_time     timestamptz NOT NULL CHECK (expire_time > issue_time),
    spend_time      timestamptz
);

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

-- A partner client's public keys for private_key_jwt; kid is the RFC 7638 thumbprint.
CREATE TABLE client_keys (
    client_id       uuid        NOT NULL REFERENCES clients,
    kid             text        NOT NULL CHECK (char_length(kid) BETWEEN 1 AND 256),
    public_jwk      jsonb       NOT NULL,
    add_time        timestamptz NOT NULL,
    PRIMARY KEY (client_id, kid)
);
