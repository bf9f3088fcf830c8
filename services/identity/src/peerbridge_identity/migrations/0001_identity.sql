-- People, roles, organizations, partner clients, and peer supporter
-- qualifications. Enumerations are stored by name and checked here, so a bad
-- write fails loudly.

CREATE TABLE organizations (
    organization_id             uuid        PRIMARY KEY,
    kind                        text        NOT NULL CHECK (kind IN ('peer_support_program', 'clinic')),
    name                        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    -- NULL: certifications count for as long as their own dates say.
    certification_renewal_days  integer     CHECK (certification_renewal_days > 0),
    create_time                 timestamptz NOT NULL,
    CHECK (kind = 'peer_support_program' OR certification_renewal_days IS NULL)
);

-- The training modules a program requires of its supporters.
CREATE TABLE program_training_requirements (
    organization_id uuid    NOT NULL REFERENCES organizations,
    module          text    NOT NULL CHECK (module ~ '^[a-z][a-z0-9_]{2,63}$'),
    -- NULL: a completion does not expire by the program's rule.
    validity_days   integer CHECK (validity_days > 0),
    PRIMARY KEY (organization_id, module)
);

-- Only what features use: no legal name, address, contact details or birth date.
CREATE TABLE persons (
    person_id           uuid        PRIMARY KEY,
    roles               text[]      NOT NULL CHECK (
        cardinality(roles) > 0
        AND roles <@ ARRAY['member', 'peer_supporter', 'clinician', 'coordinator',
                           'supervisor', 'admin']
    ),
    organization_id     uuid        REFERENCES organizations,
    display_name        text        NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 80),
    contact_preference  text        CHECK (contact_preference IN (
        'in_app', 'sms', 'email', 'phone_call', 'no_contact'
    )),
    language            text        NOT NULL CHECK (char_length(language) BETWEEN 1 AND 35),
    time_zone           text        NOT NULL CHECK (char_length(time_zone) BETWEEN 1 AND 64),
    age_band            text        CHECK (age_band IN (
        '18_to_24', '25_to_34', '35_to_44', '45_to_54', '55_to_64', '65_or_older'
    )),
    create_time         timestamptz NOT NULL,
    update_time         timestamptz NOT NULL,
    version             bigint      NOT NULL CHECK (version >= 1),
    -- The age band is collected for members only.
    CHECK (age_band IS NULL OR 'member' = ANY (roles))
);

CREATE INDEX persons_by_organization ON persons (organization_id);

-- Partner clients of an organization. Credentials are kept elsewhere, later.
CREATE TABLE clients (
    client_id       uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations,
    kind            text        NOT NULL CHECK (kind IN ('app', 'ehr_integration')),
    display_name    text        NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 200),
    scopes          text[]      NOT NULL CHECK (cardinality(scopes) BETWEEN 1 AND 32),
    create_time     timestamptz NOT NULL
);

CREATE TABLE training_records (
    training_record_id  uuid        PRIMARY KEY,
    person_id           uuid        NOT NULL REFERENCES persons,
    module              text        NOT NULL CHECK (module ~ '^[a-z][a-z0-9_]{2,63}$'),
    completed_on        date        NOT NULL,
    expires_on          date        CHECK (expires_on > completed_on),
    create_time         timestamptz NOT NULL
);

CREATE INDEX training_records_by_person ON training_records (person_id, completed_on);

CREATE TABLE certifications (
    certification_id    uuid        PRIMARY KEY,
    person_id           uuid        NOT NULL REFERENCES persons,
    credential_type     text        NOT NULL CHECK (char_length(credential_type) BETWEEN 1 AND 120),
    issuing_body        text        NOT NULL CHECK (char_length(issuing_body) BETWEEN 1 AND 200),
    credential_number   text        NOT NULL CHECK (char_length(credential_number) BETWEEN 1 AND 64),
    valid_from          date        NOT NULL,
    -- The last day the credential is valid.
    valid_until         date        NOT NULL CHECK (valid_until >= valid_from),
    verification_status text        NOT NULL CHECK (
        verification_status IN ('pending', 'verified', 'rejected')
    ),
    verified_by         uuid        REFERENCES persons,
    verify_time         timestamptz,
    create_time         timestamptz NOT NULL,
    CHECK ((verification_status = 'pending') = (verified_by IS NULL)),
    CHECK ((verified_by IS NULL) = (verify_time IS NULL))
);

CREATE INDEX certifications_by_person ON certifications (person_id, valid_from);

-- Each supporter has at most one supervisor at a time.
CREATE TABLE supervision (
    supporter_id    uuid        PRIMARY KEY REFERENCES persons,
    supervisor_id   uuid        NOT NULL REFERENCES persons,
    assign_time     timestamptz NOT NULL,
    CHECK (supporter_id <> supervisor_id)
);

CREATE INDEX supervision_by_supervisor ON supervision (supervisor_id);

-- The last known eligibility of each (former) supporter: what was announced,
-- and the day the passage of time may change it next.
CREATE TABLE supporter_eligibility (
    person_id       uuid        PRIMARY KEY REFERENCES persons,
    organization_id uuid        REFERENCES organizations,
    status          text        NOT NULL CHECK (status IN ('eligible', 'expiring_soon', 'ineligible')),
    -- [{"code": ..., "module": ... | null, "on": "YYYY-MM-DD" | null}, ...]
    reasons         jsonb       NOT NULL,
    -- The first day no longer eligible; NULL when ineligible or when nothing lapses.
    lapses_on       date,
    review_on       date,
    evaluated_on    date        NOT NULL,
    change_time     timestamptz NOT NULL,
    version         bigint      NOT NULL CHECK (version >= 1),
    CHECK (status <> 'ineligible' OR lapses_on IS NULL)
);

-- The scheduled review: who is due.
CREATE INDEX supporter_eligibility_due ON supporter_eligibility (review_on)
    WHERE review_on IS NOT NULL;
-- Listings of eligible supporters, per program, by person id.
CREATE INDEX supporter_eligibility_eligible ON supporter_eligibility (person_id)
    WHERE status <> 'ineligible';
CREATE INDEX supporter_eligibility_eligible_by_program
    ON supporter_eligibility (organization_id, person_id)
    WHERE status <> 'ineligible';

-- Idempotency keys of create requests: a retry finds what the first call made.
CREATE TABLE request_log (
    operation       text        NOT NULL,
    request_id      text        NOT NULL CHECK (char_length(request_id) BETWEEN 1 AND 64),
    fingerprint     text        NOT NULL,
    resource_id     uuid        NOT NULL,
    PRIMARY KEY (operation, request_id)
);
