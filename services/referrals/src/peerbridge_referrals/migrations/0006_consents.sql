-- Members' consents to disclose (42 CFR 2.31). Enumerations stored by name and
-- checked here. No clinical free text: the revocation instructions, the expiry
-- event and the witness's name are what the member was told and who heard them.
CREATE TABLE consents (
    consent_id                  uuid        PRIMARY KEY,
    -- The recorder's idempotency key; NULL when the caller sent none.
    request_id                  text        CHECK (request_id <> ''),
    recorded_by                 text        NOT NULL CHECK (recorded_by <> ''),
    subject_member_id           text        NOT NULL CHECK (subject_member_id <> ''),
    disclosing_organization_id  text        NOT NULL CHECK (disclosing_organization_id <> ''),
    categories                  text[]      NOT NULL CHECK (
        cardinality(categories) > 0 AND categories <@ ARRAY[
            'referral_details', 'substance_use_treatment', 'contact_details'
        ]::text[]
    ),
    recipient_organization_ids  text[]      NOT NULL,
    recipient_classes           text[]      NOT NULL CHECK (
        recipient_classes <@ ARRAY['treating_providers']::text[]
    ),
    purposes                    text[]      NOT NULL CHECK (
        cardinality(purposes) > 0
        AND purposes <@ ARRAY['treat', 'coc', 'caremgt', 'hpaymt', 'hoperat']::text[]
    ),
    revocation_instructions     text        NOT NULL CHECK (revocation_instructions <> ''),
    valid_from                  timestamptz NOT NULL,
    expires_at                  timestamptz CHECK (expires_at > valid_from),
    expiry_event                text,
    capture_method              text        NOT NULL CHECK (capture_method IN (
        'signed_electronically', 'signed_on_paper', 'verbal_with_witness'
    )),
    witness_name                text,
    signed_at                   timestamptz NOT NULL,
    status                      text        NOT NULL CHECK (status IN ('active', 'revoked')),
    create_time                 timestamptz NOT NULL,
    version                     bigint      NOT NULL CHECK (version >= 1),
    revoke_time                 timestamptz,
    revoked_by                  text,
    revocation_reason           text        CHECK (char_length(revocation_reason) <= 200),
    CHECK (cardinality(recipient_organization_ids) + cardinality(recipient_classes) > 0),
    CHECK (expires_at IS NOT NULL OR expiry_event IS NOT NULL),
    CHECK ((capture_method = 'verbal_with_witness') = (witness_name IS NOT NULL)),
    CHECK ((status = 'revoked') = (revoke_time IS NOT NULL AND revoked_by IS NOT NULL))
);

-- Idempotency is per caller: another caller's request id is another request.
CREATE UNIQUE INDEX consents_request_id_key ON consents (recorded_by, request_id)
    WHERE request_id IS NOT NULL;
-- A member's consents newest first, and the active ones a disclosure looks for.
CREATE INDEX consents_by_member ON consents (subject_member_id, create_time DESC, consent_id DESC);
