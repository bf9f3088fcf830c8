-- Client assertion ids (jti) already used, per client: a repeated one is a
-- replay and is refused (SMART Backend Services, RFC 7523 §3). The primary
-- key makes two token endpoint instances agree on who saw an id first.
CREATE TABLE client_assertion_jti (
    client_id   text        NOT NULL CHECK (char_length(client_id) BETWEEN 1 AND 256),
    jti         text        NOT NULL CHECK (char_length(jti) BETWEEN 1 AND 256),
    -- When the assertion itself expires; after that the row may be purged.
    expires_at  timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (client_id, jti)
);

CREATE INDEX client_assertion_jti_expiry ON client_assertion_jti (expires_at);
