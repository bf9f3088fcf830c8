"""Who may see and who may create which referrals: object-level rules as pure functions.

The caller is always the verified principal, never an id from the request body.
A caller with several roles gets the union of what each role allows.

Who sees a referral:
- a member: referrals about themselves;
- a peer supporter: referrals they requested, that is, naming them as the
  requester's practitioner with their own program as the requester (so only
  their own program can put a referral in their name); the members matched
  to them arrive with the matching service;
- a clinician, coordinator, supervisor or partner client: referrals whose
  requester or recipient is their organization (a supervisor's "supporters'
  records" are approximated by their program until supervision links are
  projected from identity's events);
- an administrator: none (least privilege).

One `Visibility` answers both questions, "may this caller see this referral?"
(`admits`) and "which rows may a listing return?" (pushed into the query), so
a Get and a List can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from peerbridge_platform.audit.model import PurposeOfUse
from peerbridge_platform.auth.principal import Principal, Role

from .model import Referral, ReferralDetails
from .values import Direction

# Roles whose visibility is their organization: a clinic, a program, a partner's organization.
_ORGANIZATION_ROLES = frozenset(
    {Role.CLINICIAN, Role.COORDINATOR, Role.SUPERVISOR, Role.PARTNER_CLIENT}
)


@dataclass(frozen=True)
class Visibility:
    """The referrals a caller may see: those matching at least one of the sets.

    Empty sets everywhere means the caller sees nothing.
    """

    member_ids: frozenset[str] = frozenset()
    # (organization id, practitioner id), matched against the requester's.
    requests_of: frozenset[tuple[str, str]] = frozenset()
    # Matched against requester.organization_id and recipient.organization_id.
    organization_ids: frozenset[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not (self.member_ids or self.requests_of or self.organization_ids)

    def admits(self, referral: Referral) -> bool:
        return (
            referral.subject_member_id in self.member_ids
            or (referral.requester.organization_id, referral.requester.practitioner_id)
            in self.requests_of
            or referral.requester.organization_id in self.organization_ids
            or referral.recipient.organization_id in self.organization_ids
        )

    def may_cover_member(self, member_id: str) -> bool:
        """False when the caller can only ever see other members' referrals than `member_id`'s:
        asking for that member's referrals is then an attempt on someone else's records."""
        return bool(self.requests_of or self.organization_ids) or member_id in self.member_ids


def visibility_for(principal: Principal) -> Visibility:
    member_ids: set[str] = set()
    requests_of: set[tuple[str, str]] = set()
    organization_ids: set[str] = set()
    organization = principal.organization_id
    if principal.has_role(Role.MEMBER):
        member_ids.add(principal.subject)
    if organization and principal.has_role(Role.PEER_SUPPORTER):
        requests_of.add((organization, principal.subject))
    if organization and not principal.roles.isdisjoint(_ORGANIZATION_ROLES):
        organization_ids.add(organization)
    return Visibility(frozenset(member_ids), frozenset(requests_of), frozenset(organization_ids))


# The direction each person role creates in: outbound from a program, or from a clinic.
_CREATE_DIRECTION: dict[Role, Direction] = {
    Role.PEER_SUPPORTER: Direction.PEER_SUPPORT_TO_CLINIC,
    Role.COORDINATOR: Direction.PEER_SUPPORT_TO_CLINIC,
    Role.CLINICIAN: Direction.CLINIC_TO_PEER_SUPPORT,
}


def create_refusal(principal: Principal, details: ReferralDetails) -> str | None:
    """Why `principal` may not create this referral, or None when one of its roles allows it."""
    reasons = [_refusal_for_role(role, principal, details) for role in sorted(principal.roles)]
    if any(reason is None for reason in reasons):
        return None
    return "; ".join(r for r in reasons if r) or "the caller's role cannot create referrals"


def _refusal_for_role(role: Role, principal: Principal, details: ReferralDetails) -> str | None:
    requester = details.requester
    if role is Role.PARTNER_CLIENT:
        # An integration sends for its own organization, in either direction.
        return _own_organization(principal, details)
    direction = _CREATE_DIRECTION.get(role)
    if direction is None:
        return f"role {role.value} cannot create referrals"
    if details.direction is not direction:
        return f"role {role.value} creates {direction.value} referrals only"
    if (refused := _own_organization(principal, details)) is not None:
        return refused
    if role is Role.PEER_SUPPORTER and requester.practitioner_id != principal.subject:
        return "requester.practitioner_id must be the peer supporter themselves"
    return None


def _own_organization(principal: Principal, details: ReferralDetails) -> str | None:
    if principal.organization_id is None:
        return "the caller belongs to no organization"
    if details.requester.organization_id != principal.organization_id:
        return "requester.organization_id must be the caller's organization"
    return None


def purpose_of_use(principal: Principal) -> PurposeOfUse:
    """The HL7 purpose recorded in the audit trail when the call names none."""
    if principal.has_role(Role.CLINICIAN):
        return PurposeOfUse.TREAT
    if principal.roles == {Role.MEMBER}:
        return PurposeOfUse.PATRQT
    return PurposeOfUse.HOPERAT
