"""Who may record, revoke and read which consents: object-level rules as pure functions.

- the member: their own consents, to record, revoke and read;
- coordinators and peer supporters of the disclosing program: record and revoke on the
  member's behalf, and read, the consents their program discloses under (the member's
  program is approximated by the disclosing organization until program enrolment is
  projected from identity's events); a supervisor of that program reads them;
- clinicians, partner clients and anyone else with an organization: read only the
  consents naming their organization as a recipient;
- an administrator: nothing (least privilege).

As with referrals, a consent the caller may not see is answered like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass

from peerbridge_platform.auth.principal import Principal, Role

from .consent import Consent, ConsentTerms

# Program staff who record and revoke for the member.
_PROGRAM_STAFF = frozenset({Role.COORDINATOR, Role.PEER_SUPPORTER})
_PROGRAM_READERS = _PROGRAM_STAFF | {Role.SUPERVISOR}
# Roles that read the consents naming their organization as a recipient.
_RECIPIENT_ROLES = frozenset(
    {Role.CLINICIAN, Role.PARTNER_CLIENT, Role.COORDINATOR, Role.SUPERVISOR, Role.PEER_SUPPORTER}
)


@dataclass(frozen=True)
class ConsentVisibility:
    """The consents a caller may see: those matching at least one of the sets."""

    member_ids: frozenset[str] = frozenset()
    # Matched against the disclosing organization.
    program_ids: frozenset[str] = frozenset()
    # Matched against the organizations named as recipients.
    recipient_ids: frozenset[str] = frozenset()

    def admits(self, consent: Consent) -> bool:
        terms = consent.terms
        return (
            terms.subject_member_id in self.member_ids
            or terms.disclosing_organization_id in self.program_ids
            or not self.recipient_ids.isdisjoint(terms.recipient_organization_ids)
        )

    def may_cover_member(self, member_id: str) -> bool:
        """False when the caller can only ever see another member's consents than
        `member_id`'s: asking for them is an attempt on someone else's records."""
        return bool(self.program_ids or self.recipient_ids) or member_id in self.member_ids


def consent_visibility(principal: Principal) -> ConsentVisibility:
    organization = principal.organization_id
    members = frozenset({principal.subject}) if principal.has_role(Role.MEMBER) else frozenset()
    programs: frozenset[str] = frozenset()
    recipients: frozenset[str] = frozenset()
    if organization is not None:
        if not principal.roles.isdisjoint(_PROGRAM_READERS):
            programs = frozenset({organization})
        if not principal.roles.isdisjoint(_RECIPIENT_ROLES):
            recipients = frozenset({organization})
    return ConsentVisibility(members, programs, recipients)


def may_manage(principal: Principal, terms: ConsentTerms) -> bool:
    """Whether the caller may record or revoke a consent with these terms."""
    if principal.has_role(Role.MEMBER) and principal.subject == terms.subject_member_id:
        return True
    return (
        principal.organization_id == terms.disclosing_organization_id
        and not principal.roles.isdisjoint(_PROGRAM_STAFF)
    )
