-- Clinics' patient identifiers (a medical record number, say), each linked to
-- one member. Found only by the exact (system, value): never by demographics,
-- which are not stored here.

-- An identifier system belongs to the organization that first used it; only
-- that organization resolves identifiers of the system.
CREATE TABLE patient_identifier_systems (
    system          text        PRIMARY KEY CHECK (char_length(system) BETWEEN 1 AND 255),
    organization_id uuid        NOT NULL REFERENCES organizations,
    claim_time      timestamptz NOT NULL
);

-- The primary key is what makes two concurrent enrolments of one patient
-- create one member: the second insert fails and its request starts over.
CREATE TABLE patient_identifiers (
    system                      text        NOT NULL REFERENCES patient_identifier_systems,
    value                       text        NOT NULL CHECK (char_length(value) BETWEEN 1 AND 128),
    assigning_organization_id   uuid        NOT NULL REFERENCES organizations,
    person_id                   uuid        NOT NULL REFERENCES persons,
    -- True when linking the identifier enrolled the member.
    enrolled                    boolean     NOT NULL,
    create_time                 timestamptz NOT NULL,
    PRIMARY KEY (system, value)
);

CREATE INDEX patient_identifiers_by_person ON patient_identifiers (person_id);
