"""The identity domain: people, roles, organizations, qualifications, eligibility. No I/O."""
