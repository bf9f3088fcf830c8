-- The audit trail of the owning service: every read or change of protected
-- data and every denied attempt, written in the same transaction as the work
-- it describes (or on its own for a denial). Append-only: the triggers below
-- refuse UPDATE, DELETE and TRUNCATE whoever asks. Only the table's owner can
-- disable a trigger, so in production the service connects as a role that
-- does not own the table and holds INSERT and SELECT on it only.
CREATE TABLE audit_log (
    id                    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    audit_id              uuid        NOT NULL UNIQUE,
    occurred_at           timestamptz NOT NULL,
    recorded_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    service               text        NOT NULL,
    action                text        NOT NULL,
    resource_type         text        NOT NULL,
    resource_id           text,
    -- The member the data is about (the data subject).
    subject_id            text,
    outcome               text        NOT NULL CHECK (outcome IN ('allowed', 'denied')),
    -- An HL7 v3 PurposeOfUse code (v3-ActReason).
    purpose_of_use        text        NOT NULL,
    reason                text        CHECK (char_length(reason) <= 1000),
    actor_subject_id      text,
    actor_client_id       text,
    actor_organization_id text,
    actor_roles           text[]      NOT NULL DEFAULT '{}',
    actor_asserted        text,
    peer                  text,
    request_id            text,
    trace_id              text
);

-- "Who looked at this member's records?" and "what did this person look at?"
CREATE INDEX audit_log_subject ON audit_log (subject_id, occurred_at) WHERE subject_id IS NOT NULL;
CREATE INDEX audit_log_actor ON audit_log (actor_subject_id, occurred_at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
