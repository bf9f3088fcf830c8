"""Use cases of the referrals service: handlers over an abstract unit of work."""
