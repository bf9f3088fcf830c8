-- Referrals between peer support programs and clinics. Enumerations are
-- stored by name and checked here, so a bad write fails loudly.
CREATE TABLE referrals (
    referral_id                 uuid        PRIMARY KEY,
    -- The caller's idempotency key; NULL when the caller sent none.
    request_id                  text        CHECK (request_id <> ''),
    subject_member_id           text        NOT NULL CHECK (subject_member_id <> ''),
    direction                   text        NOT NULL CHECK (
        direction IN ('peer_support_to_clinic', 'clinic_to_peer_support')
    ),
    category                    text        NOT NULL CHECK (category IN (
        'medication_for_opioid_use_disorder', 'medication_for_alcohol_use_disorder',
        'detox', 'inpatient_treatment', 'mental_health_counselling', 'primary_care',
        'housing', 'social_needs', 'crisis_care', 'peer_support'
    )),
    priority                    text        NOT NULL CHECK (
        priority IN ('routine', 'urgent', 'asap', 'stat')
    ),
    -- Protected (42 CFR Part 2): never copied into events or logs.
    reason                      text        NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 2000),
    requester_kind              text        NOT NULL CHECK (
        requester_kind IN ('peer_support_program', 'clinic')
    ),
    requester_organization_id   text        NOT NULL,
    requester_display_name      text        NOT NULL,
    requester_practitioner_id   text,
    recipient_kind              text        NOT NULL CHECK (
        recipient_kind IN ('peer_support_program', 'clinic')
    ),
    recipient_organization_id   text        NOT NULL,
    recipient_display_name      text        NOT NULL,
    recipient_practitioner_id   text,
    status                      text        NOT NULL CHECK (status IN (
        'draft', 'requested', 'accepted', 'rejected', 'in_progress', 'on_hold',
        'failed', 'completed', 'cancelled', 'entered_in_error'
    )),
    create_time                 timestamptz NOT NULL,
    update_time                 timestamptz NOT NULL,
    version                     bigint      NOT NULL CHECK (version >= 1),
    CHECK (requester_kind <> recipient_kind),
    CHECK (
        (direction = 'peer_support_to_clinic' AND requester_kind = 'peer_support_program')
        OR (direction = 'clinic_to_peer_support' AND requester_kind = 'clinic')
    )
);

-- Concurrent creates with one request id: exactly one insert wins.
CREATE UNIQUE INDEX referrals_request_id_key ON referrals (request_id)
    WHERE request_id IS NOT NULL;

-- Newest-first listings and their keyset cursor, unfiltered and per filter.
CREATE INDEX referrals_listing ON referrals (create_time DESC, referral_id DESC);
CREATE INDEX referrals_by_member ON referrals (subject_member_id, create_time DESC, referral_id DESC);
CREATE INDEX referrals_by_status ON referrals (status, create_time DESC, referral_id DESC);
