-- The accounting of disclosures (42 CFR 2.24): each full FHIR view of a
-- referral sent to its recipient under a consent, written in the transaction
-- that enqueues it. Kept at least three years; nothing here is free text of
-- the member's.
CREATE TABLE disclosure_log (
    disclosure_id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    referral_id                 uuid        NOT NULL REFERENCES referrals (referral_id),
    referral_version            bigint      NOT NULL CHECK (referral_version >= 1),
    subject_member_id           text        NOT NULL,
    recipient_organization_id   text        NOT NULL,
    consent_id                  uuid        NOT NULL REFERENCES consents (consent_id),
    purpose                     text        NOT NULL,
    category                    text        NOT NULL,
    description                 text        NOT NULL,
    disclosed_at                timestamptz NOT NULL,
    UNIQUE (referral_id, referral_version)
);

CREATE INDEX disclosure_log_by_member ON disclosure_log (subject_member_id, disclosed_at DESC);
