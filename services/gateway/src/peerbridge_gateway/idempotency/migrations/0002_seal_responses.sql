-- Recorded responses are kept sealed (AES-256-GCM, PEERBRIDGE_ENCRYPTION_KEYS):
-- a referral's free-text reason must not sit here in plain text for a day.
-- SQL holds no key, so plain responses recorded before cannot be sealed here;
-- they are deleted instead. A retry with such a key runs again, and the
-- referrals service answers it from its own request id deduplication with the
-- same referral. Unfinished claims are kept.
DELETE FROM idempotency_keys WHERE state = 'completed';

ALTER TABLE idempotency_keys
    DROP COLUMN response_headers,
    DROP COLUMN response_body,
    ADD COLUMN response_headers_sealed bytea,
    ADD COLUMN response_body_sealed bytea,
    ADD CONSTRAINT idempotency_keys_completed_is_sealed CHECK (
        (state = 'completed') = (response_headers_sealed IS NOT NULL AND response_body_sealed IS NOT NULL)
    );
