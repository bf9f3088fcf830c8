-- The transactional outbox: rows are written in the same transaction as the
-- state change they announce, and published to Kafka by the relay.
CREATE TABLE outbox (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      text        NOT NULL UNIQUE,
    topic         text        NOT NULL,
    message_key   bytea       NOT NULL,
    header_names  text[]      NOT NULL,
    header_values bytea[]     NOT NULL,
    payload       bytea       NOT NULL,
    -- A key always lands in the same shard; one relay at a time owns a shard,
    -- which keeps per-key order while several relays run.
    shard         smallint    NOT NULL CHECK (shard >= 0),
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at       timestamptz,
    CHECK (cardinality(header_names) = cardinality(header_values))
);

CREATE INDEX outbox_pending ON outbox (shard, id) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Wakes relays at commit time; polling stays the safety net.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('peerbridge_outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_inserted
    AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
