-- A full FHIR view is logged when its change commits, and sent later by the
-- relay. If the consent was revoked (or ran out) in between, the relay sends
-- the minimal view instead and marks the entry withdrawn: it stays for the
-- audit, but the accounting of disclosures no longer lists it, because
-- nothing was disclosed.
ALTER TABLE disclosure_log
    ADD COLUMN withdrawn_at     timestamptz,
    ADD COLUMN withdrawn_reason text CHECK (char_length(withdrawn_reason) <= 200),
    ADD CHECK ((withdrawn_at IS NULL) = (withdrawn_reason IS NULL));
