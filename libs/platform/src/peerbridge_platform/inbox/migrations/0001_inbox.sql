-- The inbox: one row per event a consumer group has applied, written in the
-- same transaction as the event's effect. A redelivered or replayed event
-- finds its row and is skipped, so its effect happens once per group.
CREATE TABLE inbox (
    consumer_group  text        NOT NULL,
    event_id        text        NOT NULL,
    -- Where the event was first read: for tracing a row back to the log.
    -- Not part of the key, since the same event may arrive at other offsets.
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL CHECK (kafka_partition >= 0),
    kafka_offset    bigint      NOT NULL CHECK (kafka_offset >= 0),
    processed_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (consumer_group, event_id)
);
