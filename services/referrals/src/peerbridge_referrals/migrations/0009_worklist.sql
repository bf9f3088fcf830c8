-- Follow-up of referrals. Each overdue state is raised once: a row per
-- (referral, status version, kind), inserted in the transaction that enqueues
-- its ReferralOverdue event. A later status change is a new version, so the
-- row no longer matches the referral and it leaves the worklist.
CREATE TABLE referral_overdue (
    referral_id                 uuid        NOT NULL REFERENCES referrals (referral_id),
    referral_version            bigint      NOT NULL CHECK (referral_version >= 1),
    kind                        text        NOT NULL CHECK (kind IN ('acknowledge', 'act')),
    status                      text        NOT NULL CHECK (status IN ('requested', 'accepted')),
    priority                    text        NOT NULL,
    due_time                    timestamptz NOT NULL,
    detect_time                 timestamptz NOT NULL,
    PRIMARY KEY (referral_id, referral_version, kind)
);

-- A closed-loop item marked seen by its requesting organization, at the
-- referral's final version.
CREATE TABLE worklist_seen (
    organization_id             text        NOT NULL,
    referral_id                 uuid        NOT NULL REFERENCES referrals (referral_id),
    referral_version            bigint      NOT NULL,
    seen_by                     text        NOT NULL,
    seen_at                     timestamptz NOT NULL,
    PRIMARY KEY (organization_id, referral_id, referral_version)
);

-- What the sweeper scans: referrals waiting in a windowed status, oldest first.
CREATE INDEX referrals_waiting ON referrals (update_time)
    WHERE status IN ('requested', 'accepted');
-- An organization's recently closed requests.
CREATE INDEX referrals_closed_by_requester ON referrals (requester_organization_id, update_time)
    WHERE status IN ('completed', 'rejected', 'failed', 'cancelled');
