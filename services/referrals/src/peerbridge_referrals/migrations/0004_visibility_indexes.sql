-- Listings are filtered by who may see them (see domain/access_rules.py): by
-- the requester's practitioner within the requester's organization, or by an
-- organization on either side. These serve each filter in the newest-first
-- order, so a page costs alike for a caller who sees few referrals or many.
CREATE INDEX referrals_by_requester_practitioner
    ON referrals (requester_practitioner_id, requester_organization_id,
                  create_time DESC, referral_id DESC)
    WHERE requester_practitioner_id IS NOT NULL;
CREATE INDEX referrals_by_requester_organization
    ON referrals (requester_organization_id, create_time DESC, referral_id DESC);
CREATE INDEX referrals_by_recipient_organization
    ON referrals (recipient_organization_id, create_time DESC, referral_id DESC);
