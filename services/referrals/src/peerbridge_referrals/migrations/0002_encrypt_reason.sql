-- The free-text reason (42 CFR Part 2) is stored sealed from now on: AES-256-GCM
-- with the referral id as associated data (PEERBRIDGE_ENCRYPTION_KEYS). SQL
-- holds no key, so rows written in plain text are sealed by the service at
-- start-up, after this migration and before 0003 drops the plain column.
ALTER TABLE referrals
    ADD COLUMN reason_ciphertext bytea,
    ALTER COLUMN reason DROP NOT NULL,
    -- Until 0003: a row holds its reason either plain (not yet sealed) or sealed.
    ADD CONSTRAINT referrals_reason_plain_or_sealed CHECK (
        (reason IS NULL) <> (reason_ciphertext IS NULL)
    );
