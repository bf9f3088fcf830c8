"""The scopes of the platform's APIs, and what each role may be granted.

A token carries the scopes granted at sign-in: the ones asked for that the
caller's roles (or, for a partner client, its registration) allow, or all of
those when none were asked for. Scopes say which APIs a token may call;
object-level rules in each service still decide which records.
"""

from __future__ import annotations

from collections.abc import Iterable

from .principal import Role

REFERRALS_READ = "referrals.read"
REFERRALS_WRITE = "referrals.write"
PEOPLE_READ = "people.read"
PEOPLE_WRITE = "people.write"
QUALIFICATIONS_READ = "qualifications.read"
QUALIFICATIONS_WRITE = "qualifications.write"
# Recording and revoking a member's consent to disclose (42 CFR 2.31): the member's own
# decision, so members hold it though they may not write referrals.
CONSENTS_WRITE = "consents.write"
# Crisis escalation: raising a risk flag (anyone of the program, the member about themselves)
# and reading or acknowledging the program's flags (object rules narrow each call).
RISK_FLAGS_READ = "risk_flags.read"
RISK_FLAGS_WRITE = "risk_flags.write"
# Linking a clinic's patient identifier to a member, enrolling one when none is linked.
PATIENTS_LINK = "patients.link"
# Break-the-glass disclosure in a medical emergency (42 CFR 2.51): clinicians only.
REFERRALS_EMERGENCY = "referrals.emergency"
ADMIN = "admin"

ALL_SCOPES = frozenset(
    {
        REFERRALS_READ,
        REFERRALS_WRITE,
        PEOPLE_READ,
        PEOPLE_WRITE,
        QUALIFICATIONS_READ,
        QUALIFICATIONS_WRITE,
        CONSENTS_WRITE,
        RISK_FLAGS_READ,
        RISK_FLAGS_WRITE,
        PATIENTS_LINK,
        REFERRALS_EMERGENCY,
        ADMIN,
    }
)

# Least privilege: an administrator manages people and access, not clinical records.
ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.MEMBER: frozenset({PEOPLE_READ, PEOPLE_WRITE, REFERRALS_READ, CONSENTS_WRITE})
    | {RISK_FLAGS_READ, RISK_FLAGS_WRITE},
    # qualifications.write: a supporter records their own certification (identity's rules
    # keep it to their own, pending until someone else verifies it).
    Role.PEER_SUPPORTER: frozenset(
        {
            PEOPLE_READ,
            REFERRALS_READ,
            REFERRALS_WRITE,
            QUALIFICATIONS_READ,
            QUALIFICATIONS_WRITE,
            CONSENTS_WRITE,
        }
    )
    | {RISK_FLAGS_READ, RISK_FLAGS_WRITE},
    Role.CLINICIAN: frozenset({PEOPLE_READ, REFERRALS_READ, REFERRALS_WRITE, PATIENTS_LINK})
    | {RISK_FLAGS_READ, RISK_FLAGS_WRITE}
    | {REFERRALS_EMERGENCY},
    Role.COORDINATOR: frozenset(
        {
            PEOPLE_READ,
            PEOPLE_WRITE,
            REFERRALS_READ,
            REFERRALS_WRITE,
            QUALIFICATIONS_READ,
            QUALIFICATIONS_WRITE,
            CONSENTS_WRITE,
        }
    )
    | {RISK_FLAGS_READ, RISK_FLAGS_WRITE},
    Role.SUPERVISOR: frozenset(
        {PEOPLE_READ, REFERRALS_READ, QUALIFICATIONS_READ, QUALIFICATIONS_WRITE}
    )
    | {RISK_FLAGS_READ, RISK_FLAGS_WRITE},
    Role.ADMIN: frozenset(
        {PEOPLE_READ, PEOPLE_WRITE, QUALIFICATIONS_READ, QUALIFICATIONS_WRITE, ADMIN}
    ),
    # A partner client's scopes come from its registration, not from its role.
    Role.PARTNER_CLIENT: frozenset(),
}


def allowed_scopes(roles: Iterable[Role]) -> frozenset[str]:
    """Every scope that at least one of `roles` allows."""
    allowed: set[str] = set()
    for role in roles:
        allowed |= ROLE_SCOPES[role]
    return frozenset(allowed)


def granted_scopes(requested: Iterable[str], allowed: Iterable[str]) -> frozenset[str]:
    """What a token gets: `requested` when all of it is allowed, all of `allowed` when
    nothing was requested. Raises ValueError naming the scopes that are not allowed
    (the token endpoint answers `invalid_scope`)."""
    wanted = frozenset(requested)
    permitted = frozenset(allowed)
    if not wanted:
        return permitted
    refused = sorted(wanted - permitted)
    if refused:
        raise ValueError(f"scope not allowed: {' '.join(refused)}")
    return wanted
