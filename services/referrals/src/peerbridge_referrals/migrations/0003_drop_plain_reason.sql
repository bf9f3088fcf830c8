-- The plain-text reason column goes. The service seals every plain reason just
-- before this migration; should one remain (written meanwhile by a replica of
-- the previous version), this refuses and rolls back, nothing is lost, and the
-- next start seals it and tries again.
LOCK TABLE referrals IN ACCESS EXCLUSIVE MODE;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM referrals WHERE reason IS NOT NULL) THEN
        RAISE EXCEPTION 'referrals still holds plain-text reasons; the referrals service '
            'seals them at start-up before this migration: start it to upgrade';
    END IF;
END
$$;

ALTER TABLE referrals
    DROP CONSTRAINT referrals_reason_plain_or_sealed,
    DROP COLUMN reason,
    ALTER COLUMN reason_ciphertext SET NOT NULL;
