-- A guarded row may be published as it stands only while its guard holds (a
-- member's consent to disclose, say); when the relay finds the guard gone it
-- publishes the fallback payload instead, with the same headers and key, so
-- the per-key order and the event id stay as they were.
ALTER TABLE outbox
    ADD COLUMN guard_id         text  CHECK (guard_id <> ''),
    ADD COLUMN fallback_payload bytea,
    ADD CONSTRAINT outbox_guard_has_fallback
        CHECK ((guard_id IS NULL) = (fallback_payload IS NULL));
