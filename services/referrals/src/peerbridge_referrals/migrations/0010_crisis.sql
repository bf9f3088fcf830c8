-- Crisis escalation: members' clinical contacts, the programs' on-call
-- supervisors, and every risk flag with where it went. Codes and ids only:
-- what the member said stays with whoever heard it.

-- One designated clinic per member and program (the program that escalates).
CREATE TABLE clinical_contacts (
    member_id          text        NOT NULL CHECK (member_id <> ''),
    program_id         text        NOT NULL CHECK (program_id <> ''),
    organization_id    text        NOT NULL CHECK (organization_id <> ''),
    display_name       text        NOT NULL CHECK (display_name <> ''),
    set_by             text        NOT NULL CHECK (set_by <> ''),
    update_time        timestamptz NOT NULL,
    PRIMARY KEY (member_id, program_id),
    CHECK (organization_id <> program_id)
);

-- Who is on call when; of overlapping entries the latest named counts.
CREATE TABLE on_call_shifts (
    shift_id           uuid        PRIMARY KEY,
    program_id         text        NOT NULL CHECK (program_id <> ''),
    supervisor_id      text        NOT NULL CHECK (supervisor_id <> ''),
    start_time         timestamptz NOT NULL,
    end_time           timestamptz NOT NULL CHECK (end_time > start_time),
    set_by             text        NOT NULL CHECK (set_by <> ''),
    create_time        timestamptz NOT NULL
);

CREATE INDEX on_call_shifts_by_program ON on_call_shifts (program_id, end_time);

CREATE TABLE risk_flags (
    flag_id                 uuid        PRIMARY KEY,
    -- The raiser's idempotency key; NULL when the caller sent none.
    request_id              text        CHECK (request_id <> ''),
    raised_by               text        NOT NULL CHECK (raised_by <> ''),
    member_id               text        NOT NULL CHECK (member_id <> ''),
    program_id              text        NOT NULL CHECK (program_id <> ''),
    level                   text        NOT NULL CHECK (level IN ('elevated', 'imminent')),
    kind                    text        NOT NULL CHECK (kind IN (
        'self_harm', 'overdose', 'return_to_use', 'violence', 'other'
    )),
    source                  text        NOT NULL CHECK (source IN (
        'check_in', 'peer_supporter', 'session_facilitator'
    )),
    raise_time              timestamptz NOT NULL,
    route                   text        NOT NULL CHECK (route IN (
        'clinical_contact', 'on_call_supervisor', 'coordinators'
    )),
    referral_id             uuid        REFERENCES referrals (referral_id),
    clinic_organization_id  text,
    assigned_supervisor_id  text,
    status                  text        NOT NULL CHECK (status IN ('unhandled', 'acknowledged')),
    acknowledged_by         text,
    acknowledge_time        timestamptz,
    CHECK ((route = 'clinical_contact') = (referral_id IS NOT NULL)),
    CHECK ((route = 'on_call_supervisor') = (assigned_supervisor_id IS NOT NULL)),
    CHECK ((status = 'acknowledged') = (acknowledge_time IS NOT NULL))
);

CREATE UNIQUE INDEX risk_flags_request_id_key ON risk_flags (raised_by, request_id);
CREATE INDEX risk_flags_by_program ON risk_flags (program_id, raise_time DESC, flag_id DESC);
CREATE INDEX risk_flags_unhandled ON risk_flags (program_id, raise_time DESC, flag_id DESC)
    WHERE status = 'unhandled';
