-- The referral lifecycle: why a referral has its status and what came of it,
-- both free text that may hold protected detail, so stored only sealed like
-- the reason (AES-256-GCM, bound to the referral id and the column); the
-- reason's category as a code; and the history of every status change.
ALTER TABLE referrals
    ADD COLUMN status_reason_ciphertext bytea,
    ADD COLUMN status_reason_category   text CHECK (status_reason_category IN (
        'member_declined', 'member_unreachable', 'not_eligible', 'no_capacity',
        'service_not_offered', 'other'
    )),
    ADD COLUMN outcome_ciphertext       bytea,
    ADD CONSTRAINT referrals_category_has_reason CHECK (
        status_reason_category IS NULL OR status_reason_ciphertext IS NOT NULL
    ),
    -- Only a completed referral has an outcome (the statuses after it are none).
    ADD CONSTRAINT referrals_outcome_when_completed CHECK (
        (outcome_ciphertext IS NOT NULL) = (status = 'completed')
    );

-- One row per status change: who (subject, organization, side, client), when,
-- from and to, at which version. No free text: that stays on the referral.
CREATE TABLE referral_status_changes (
    referral_id                 uuid        NOT NULL REFERENCES referrals (referral_id),
    -- The referral's version after the change; a version happens once.
    version                     bigint      NOT NULL CHECK (version >= 2),
    from_status                 text        NOT NULL,
    to_status                   text        NOT NULL CHECK (to_status <> from_status),
    changed_by_subject          text        NOT NULL,
    changed_by_organization_id  text        NOT NULL,
    changed_by_side             text        NOT NULL CHECK (
        changed_by_side IN ('requester', 'performer')
    ),
    changed_by_client_id        text,
    status_reason_category      text,
    change_time                 timestamptz NOT NULL,
    PRIMARY KEY (referral_id, version)
);
