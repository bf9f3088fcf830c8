-- Disclosures other than the FHIR view: reads of a referral by its recipient
-- under a consent, and emergency disclosures (42 CFR 2.51), made without one.
-- Each is logged in the accounting of disclosures; `channel` tells them apart,
-- so the FHIR view is still logged once per referral version.
ALTER TABLE disclosure_log
    ADD COLUMN channel text NOT NULL DEFAULT 'fhir_view'
        CHECK (channel IN ('fhir_view', 'api_read', 'emergency')),
    ALTER COLUMN consent_id DROP NOT NULL,
    ADD CHECK (consent_id IS NOT NULL OR (channel = 'emergency' AND purpose = 'ETREAT')),
    DROP CONSTRAINT IF EXISTS disclosure_log_referral_id_referral_version_key;
CREATE UNIQUE INDEX IF NOT EXISTS disclosure_log_view_once
    ON disclosure_log (referral_id, referral_version)
    WHERE category = 'referral_details' AND channel = 'fhir_view';

-- Break-the-glass disclosures, recorded in the transaction that discloses.
-- The nature of the emergency and the review note are sealed like a
-- referral's reason (bound to the record's id and field).
CREATE TABLE emergency_disclosures (
    emergency_disclosure_id     uuid        PRIMARY KEY,
    -- The clinician's idempotency key; NULL when none was sent.
    request_id                  text        CHECK (request_id <> ''),
    referral_id                 uuid        NOT NULL REFERENCES referrals (referral_id),
    subject_member_id           text        NOT NULL CHECK (subject_member_id <> ''),
    recipient_person_id         text        NOT NULL CHECK (recipient_person_id <> ''),
    recipient_organization_id   text        NOT NULL CHECK (recipient_organization_id <> ''),
    recipient_facility          text        NOT NULL CHECK (char_length(recipient_facility) <= 200),
    disclosing_organization_id  text        NOT NULL CHECK (disclosing_organization_id <> ''),
    disclosed_at                timestamptz NOT NULL,
    nature_ciphertext           bytea       NOT NULL,
    review_time                 timestamptz,
    reviewed_by                 text,
    review_note_ciphertext      bytea,
    CHECK ((review_time IS NULL) = (reviewed_by IS NULL)),
    CHECK ((review_time IS NULL) = (review_note_ciphertext IS NULL))
);

CREATE UNIQUE INDEX emergency_disclosures_request_id_key
    ON emergency_disclosures (recipient_person_id, request_id) WHERE request_id IS NOT NULL;
-- A program's disclosures newest first, and those still to review.
CREATE INDEX emergency_disclosures_by_program
    ON emergency_disclosures (disclosing_organization_id, disclosed_at DESC, emergency_disclosure_id DESC);
CREATE INDEX emergency_disclosures_unreviewed
    ON emergency_disclosures (disclosing_organization_id, disclosed_at DESC)
    WHERE review_time IS NULL;
