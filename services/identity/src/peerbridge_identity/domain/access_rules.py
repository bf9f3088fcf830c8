"""Who may call what: one pure rule per IdentityService RPC.

A rule takes the verified caller (a Principal) and the facts about the
target that storage provided, and returns a Decision. Scopes say which APIs
a token may call; the rules here decide which records. A caller who may not
know that a person exists is answered as if they did not (`hidden`), never
with a refusal that would confirm them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from uuid import UUID

from peerbridge_platform.audit.model import PurposeOfUse
from peerbridge_platform.auth import scopes
from peerbridge_platform.auth.principal import Principal
from peerbridge_platform.auth.principal import Role as CallerRole

from .values import Role

# The roles a coordinator may give the people they register into their program.
COORDINATOR_REGISTERS = frozenset({Role.MEMBER, Role.PEER_SUPPORTER})


class Verdict(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"  # PERMISSION_DENIED: the caller may know the target exists
    HIDDEN = "hidden"  # NOT_FOUND: the target's existence is not the caller's to know


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    # Short and non-clinical: what the audit record says about the decision.
    reason: str

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOWED


def allow(reason: str) -> Decision:
    return Decision(Verdict.ALLOWED, reason)


def deny(reason: str) -> Decision:
    return Decision(Verdict.DENIED, reason)


def hide(reason: str) -> Decision:
    return Decision(Verdict.HIDDEN, reason)


@dataclass(frozen=True)
class Access:
    """One audited access: `subject_id` is the person the data is about."""

    action: str
    resource_type: str
    resource_id: str | None
    subject_id: str | None
    purpose: PurposeOfUse
    reason: str | None = None

    def because(self, decision: Decision) -> Access:
        return replace(self, reason=decision.reason)

    def on(self, resource_id: UUID, subject_id: UUID | None = None) -> Access:
        """The same access, on an object created by the call."""
        subject = str(subject_id) if subject_id else self.subject_id
        return replace(self, resource_id=str(resource_id), subject_id=subject)


@dataclass(frozen=True)
class PersonFacts:
    """What the rules need to know about a target person."""

    person_id: UUID
    roles: frozenset[Role]
    organization_id: UUID | None
    # Only looked up for peer supporters; None when unassigned or not a supporter.
    supervisor_id: UUID | None = None


def _holds(principal: Principal, *roles: CallerRole) -> bool:
    return not principal.roles.isdisjoint(roles)


def _same_organization(principal: Principal, organization_id: UUID | None) -> bool:
    return organization_id is not None and principal.organization_id == str(organization_id)


def is_self(principal: Principal, person_id: UUID) -> bool:
    # A partner client's subject is its client id, never a person's id.
    return principal.client_id is None and principal.subject == str(person_id)


def _is_admin(principal: Principal) -> bool:
    return _holds(principal, CallerRole.ADMIN)


def _coordinates(principal: Principal, target: PersonFacts) -> bool:
    return _holds(principal, CallerRole.COORDINATOR) and _same_organization(
        principal, target.organization_id
    )


def _supervises(principal: Principal, target: PersonFacts) -> bool:
    return (
        _holds(principal, CallerRole.SUPERVISOR)
        and target.supervisor_id is not None
        and principal.subject == str(target.supervisor_id)
    )


def _clinic_colleague(principal: Principal, target: PersonFacts) -> bool:
    return (
        _holds(principal, CallerRole.CLINICIAN)
        and Role.CLINICIAN in target.roles
        and _same_organization(principal, target.organization_id)
    )


def _sees_person(
    principal: Principal, target: PersonFacts, *, clinic_colleagues: bool = True
) -> str | None:
    """Why the caller may know this person exists, or None."""
    if is_self(principal, target.person_id):
        return "the person themselves"
    if _is_admin(principal):
        return "administrator"
    if _coordinates(principal, target):
        return "coordinator of the person's program"
    if _supervises(principal, target):
        return "supervisor of the supporter"
    if clinic_colleagues and _clinic_colleague(principal, target):
        return "clinician of the same clinic"
    return None


def _missing_scope(principal: Principal, scope: str) -> Decision | None:
    if scope in principal.scopes:
        return None
    return deny(f"token lacks scope {scope}")


def _refused(principal: Principal, target: PersonFacts, reason: str) -> Decision:
    """Refused: openly if the caller may see the target, else as if it did not exist."""
    if _sees_person(principal, target) is not None:
        return deny(reason)
    return hide("not visible to the caller")


def administer(principal: Principal) -> Decision:
    """RegisterOrganization, RegisterClient: administrators only."""
    if missing := _missing_scope(principal, scopes.ADMIN):
        return missing
    if not _is_admin(principal):
        return deny("administrators only")
    return allow("administrator")


def change_roles(principal: Principal, person_id: UUID) -> Decision:
    """GrantRole, RevokeRole: administrators, on anyone but themselves."""
    if is_self(principal, person_id):
        # Checked first: editing one's own roles is refused whatever the token says.
        return deny("may not change their own roles")
    return administer(principal)


def set_password(principal: Principal, target: PersonFacts) -> Decision:
    """SetPassword: the person themselves (with their current password), or an administrator
    (with people.write; a coordinator registers people, an administrator gives them access)."""
    if is_self(principal, target.person_id):
        return allow("the person themselves")
    if _is_admin(principal):
        return _missing_scope(principal, scopes.PEOPLE_WRITE) or allow("administrator")
    return _refused(principal, target, "only the person or an administrator sets a password")


def register_person(
    principal: Principal, roles: frozenset[Role], organization_id: UUID | None
) -> Decision:
    """Administrators; coordinators for members and supporters of their own program."""
    if missing := _missing_scope(principal, scopes.PEOPLE_WRITE):
        return missing
    if _is_admin(principal):
        return allow("administrator")
    if not _holds(principal, CallerRole.COORDINATOR):
        return deny("administrators and coordinators only")
    if not roles <= COORDINATOR_REGISTERS:
        return deny("coordinators register members and peer supporters only")
    if not _same_organization(principal, organization_id):
        return deny("coordinators register into their own program only")
    return allow("coordinator of the program")


def read_person(principal: Principal, target: PersonFacts) -> Decision:
    """GetPerson: self, administrators, coordinators, supervisors, clinic colleagues."""
    if missing := _missing_scope(principal, scopes.PEOPLE_READ):
        return missing
    reason = _sees_person(principal, target)
    return allow(reason) if reason else hide("not visible to the caller")


def update_profile(principal: Principal, target: PersonFacts) -> Decision:
    """UpdateProfile: self, administrators, coordinators of the person's program."""
    if missing := _missing_scope(principal, scopes.PEOPLE_WRITE):
        return missing
    if is_self(principal, target.person_id):
        return allow("the person themselves")
    if _is_admin(principal):
        return allow("administrator")
    if _coordinates(principal, target):
        return allow("coordinator of the person's program")
    return _refused(principal, target, "may not change this profile")


def manage_qualifications(principal: Principal, supporter: PersonFacts) -> Decision:
    """RecordTraining, AssignSupervisor: coordinators of the program, administrators."""
    if missing := _missing_scope(principal, scopes.QUALIFICATIONS_WRITE):
        return missing
    if _is_admin(principal):
        return allow("administrator")
    if _coordinates(principal, supporter):
        return allow("coordinator of the supporter's program")
    return _refused(principal, supporter, "coordinators of the program and administrators only")


def record_certification(principal: Principal, supporter: PersonFacts) -> Decision:
    """RecordCertification: as manage_qualifications, and the supporter themselves
    (a certification starts PENDING, so recording one proves nothing yet)."""
    if is_self(principal, supporter.person_id):
        if missing := _missing_scope(principal, scopes.QUALIFICATIONS_WRITE):
            return missing
        return allow("the supporter themselves")
    return manage_qualifications(principal, supporter)


def verify_certification(principal: Principal, holder: PersonFacts, verified_by: UUID) -> Decision:
    """VerifyCertification: supervisors and coordinators of the holder's program (in their
    own name), administrators (who may record a named verifier's decision); never the holder."""
    if missing := _missing_scope(principal, scopes.QUALIFICATIONS_WRITE):
        return missing
    if is_self(principal, holder.person_id):
        return deny("may not verify their own certification")
    if _is_admin(principal):
        return allow("administrator")
    in_program = _holds(
        principal, CallerRole.SUPERVISOR, CallerRole.COORDINATOR
    ) and _same_organization(principal, holder.organization_id)
    if not in_program:
        return _refused(principal, holder, "supervisors and coordinators of the program only")
    if principal.subject != str(verified_by):
        return deny("may not record a decision in someone else's name")
    return allow("verifier of the supporter's program")


def read_eligibility(principal: Principal, supporter: PersonFacts) -> Decision:
    """GetSupporterEligibility: the supporter, their supervisor, coordinators of the
    program, administrators, and partner clients of the same organization."""
    if missing := _missing_scope(principal, scopes.QUALIFICATIONS_READ):
        return missing
    if _holds(principal, CallerRole.PARTNER_CLIENT) and _same_organization(
        principal, supporter.organization_id
    ):
        return allow("partner client of the supporter's organization")
    # A clinician knows clinic colleagues, not a program's supporters' qualifications.
    reason = _sees_person(principal, supporter, clinic_colleagues=False)
    return allow(reason) if reason else hide("not visible to the caller")


@dataclass(frozen=True)
class ListingDecision:
    decision: Decision
    # The program the listing is narrowed to; None: every program (administrators).
    organization_id: str | None


def list_eligible(principal: Principal, organization_id: str | None) -> ListingDecision:
    """ListEligibleSupporters: administrators (any program); coordinators, supervisors and
    partner clients their own program only (no filter means their own)."""
    if missing := _missing_scope(principal, scopes.QUALIFICATIONS_READ):
        return ListingDecision(missing, organization_id)
    if _is_admin(principal):
        return ListingDecision(allow("administrator"), organization_id)
    own = principal.organization_id
    staff = _holds(
        principal, CallerRole.COORDINATOR, CallerRole.SUPERVISOR, CallerRole.PARTNER_CLIENT
    )
    if not staff or own is None:
        return ListingDecision(deny("program staff and administrators only"), organization_id)
    if organization_id and organization_id != own:
        return ListingDecision(deny("only the caller's own program"), organization_id)
    return ListingDecision(allow("staff of the program"), own)


def purpose(principal: Principal, subject_id: UUID | None, *, qualifications: bool) -> PurposeOfUse:
    """The purpose of use recorded with an access, when the caller names none.

    A person's own request, an administrator's work, credentialing of staff
    (operations), or coordination of a member's care.
    """
    if subject_id is not None and is_self(principal, subject_id):
        return PurposeOfUse.PATRQT
    if _is_admin(principal):
        return PurposeOfUse.HSYSADMIN
    if qualifications:
        return PurposeOfUse.HOPERAT
    return PurposeOfUse.COC


def about_person(principal: Principal, action: str, person_id: UUID | None) -> Access:
    """An access to a person's record (`person_id` None until registration creates it)."""
    subject = str(person_id) if person_id else None
    return Access(
        action, "person", subject, subject, purpose(principal, person_id, qualifications=False)
    )


def about_qualifications(
    principal: Principal,
    action: str,
    resource_type: str,
    resource_id: UUID | None,
    supporter_id: UUID | None,
) -> Access:
    """An access to a supporter's training, certification, supervision or eligibility."""
    return Access(
        action,
        resource_type,
        str(resource_id) if resource_id else None,
        str(supporter_id) if supporter_id else None,
        purpose(principal, supporter_id, qualifications=True),
    )


def administration(action: str, resource_type: str) -> Access:
    """An access to organizations and partner clients: no person's data."""
    return Access(action, resource_type, None, None, PurposeOfUse.HSYSADMIN)
