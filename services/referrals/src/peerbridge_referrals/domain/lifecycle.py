"""The referral lifecycle as FHIR Task statuses (HL7 Gravity SDOH referral Task), as pure rules.

Three questions, each answered by a table below:
- which status may follow which (`NEXT_STATUSES`; the terminal ones allow nothing);
- which side may set a status (`SET_BY`): the requesting organization or the
  receiving one (the performer); either may cancel;
- what a status needs: a short reason for rejected, cancelled, on-hold and
  failed (FHIR `statusReason.text`), an outcome for completed (`Task.output`).

Checked in this order, so each refusal names the first thing that is wrong:
the caller's side, the version the caller read, then the transition itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from peerbridge_platform.auth.principal import Principal, Role
from peerbridge_platform.errors import (
    Conflict,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
)

from .commands import UpdateReferralStatus
from .events import ReferralStatusChanged
from .model import Referral
from .rules import REASON_MAX_CHARS, parse_choice
from .values import Status, StatusReasonCategory

S = Status

# Allowed next statuses. Gravity's diagram, plus accepted -> failed and
# on-hold -> failed (a member who never comes, or stays unreachable while
# paused, ends as failed without pretending the work started again).
# Nothing returns to draft: the recipient may already have seen the request.
# entered-in-error withdraws a referral made by mistake, from any open status.
NEXT_STATUSES: dict[Status, frozenset[Status]] = {
    S.DRAFT: frozenset({S.REQUESTED, S.CANCELLED, S.ENTERED_IN_ERROR}),
    S.REQUESTED: frozenset({S.ACCEPTED, S.REJECTED, S.CANCELLED, S.ENTERED_IN_ERROR}),
    S.ACCEPTED: frozenset({S.IN_PROGRESS, S.FAILED, S.CANCELLED, S.ENTERED_IN_ERROR}),
    S.IN_PROGRESS: frozenset({S.ON_HOLD, S.COMPLETED, S.FAILED, S.CANCELLED, S.ENTERED_IN_ERROR}),
    S.ON_HOLD: frozenset({S.IN_PROGRESS, S.FAILED, S.CANCELLED, S.ENTERED_IN_ERROR}),
    S.REJECTED: frozenset(),
    S.FAILED: frozenset(),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.ENTERED_IN_ERROR: frozenset(),
}
TERMINAL: frozenset[Status] = frozenset(s for s, after in NEXT_STATUSES.items() if not after)


class Side(StrEnum):
    REQUESTER = "requester"
    PERFORMER = "performer"


_EITHER = frozenset(Side)
_REQUESTER = frozenset({Side.REQUESTER})
_PERFORMER = frozenset({Side.PERFORMER})

# Who may set each status.
SET_BY: dict[Status, frozenset[Side]] = {
    S.DRAFT: _REQUESTER,
    S.REQUESTED: _REQUESTER,
    S.ENTERED_IN_ERROR: _REQUESTER,
    S.ACCEPTED: _PERFORMER,
    S.REJECTED: _PERFORMER,
    S.IN_PROGRESS: _PERFORMER,
    S.ON_HOLD: _PERFORMER,
    S.FAILED: _PERFORMER,
    S.COMPLETED: _PERFORMER,
    S.CANCELLED: _EITHER,
}

REASON_REQUIRED: frozenset[Status] = frozenset({S.REJECTED, S.CANCELLED, S.ON_HOLD, S.FAILED})
OUTCOME_REQUIRED: frozenset[Status] = frozenset({S.COMPLETED})
STATUS_REASON_MAX_CHARS = 500
OUTCOME_MAX_CHARS = REASON_MAX_CHARS

# Roles that act for their organization. Members never change a referral's status;
# an administrator sees no referral at all.
_ACTING_ROLES = frozenset(
    {Role.PEER_SUPPORTER, Role.CLINICIAN, Role.COORDINATOR, Role.SUPERVISOR, Role.PARTNER_CLIENT}
)


def reachable_from(start: Status) -> frozenset[Status]:
    """Every status some sequence of allowed changes leads to from `start`, itself included."""
    seen, frontier = {start}, [start]
    while frontier:
        for after in NEXT_STATUSES[frontier.pop()]:
            if after not in seen:
                seen.add(after)
                frontier.append(after)
    return frozenset(seen)


@dataclass(frozen=True)
class Actor:
    """Who changed a status: the caller, for the side its organization is on."""

    subject: str
    organization_id: str
    side: Side
    client_id: str | None = None


def actor_for(principal: Principal, referral: Referral) -> Actor | None:
    """The caller as a party to `referral`, or None when it speaks for neither side.

    A side is an organization: staff and partner clients of the requester's
    organization are the requester, those of the recipient's the performer.
    """
    organization = principal.organization_id
    if organization is None or principal.roles.isdisjoint(_ACTING_ROLES):
        return None
    if organization == referral.requester.organization_id:
        side = Side.REQUESTER
    elif organization == referral.recipient.organization_id:
        side = Side.PERFORMER
    else:
        return None
    return Actor(principal.subject, organization, side, principal.client_id)


@dataclass(frozen=True)
class StatusChange:
    """A checked request to change a referral's status."""

    referral_id: UUID
    status: Status
    reason: str | None = None
    reason_category: StatusReasonCategory | None = None
    outcome: str | None = None
    # 0: no check.
    expected_version: int = 0


def validate_status_change(command: UpdateReferralStatus) -> StatusChange:
    """The checked request, or InvalidArgument naming every bad field at once."""
    violations: list[FieldViolation] = []
    referral_id = _parse_uuid("referral_id", command.referral_id, violations)
    status = parse_choice(Status, "status", command.status, violations)
    category = (
        parse_choice(
            StatusReasonCategory,
            "status_reason_category",
            command.status_reason_category,
            violations,
        )
        if command.status_reason_category
        else None
    )
    reason = _optional_text(
        "status_reason", command.status_reason, STATUS_REASON_MAX_CHARS, violations
    )
    outcome = _optional_text("outcome", command.outcome, OUTCOME_MAX_CHARS, violations)
    if command.expected_version < 0:
        violations.append(FieldViolation("expected_version", "must not be negative"))
    if status is not None:
        _check_status_needs(status, reason, category, outcome, violations)
    if violations or referral_id is None or status is None:
        raise InvalidArgument("the status change is not valid", violations)
    return StatusChange(referral_id, status, reason, category, outcome, command.expected_version)


def _parse_uuid(field: str, value: str, violations: list[FieldViolation]) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        violations.append(FieldViolation(field, "must be a UUID" if value else "is required"))
        return None


def _optional_text(
    field: str, value: str, max_chars: int, violations: list[FieldViolation]
) -> str | None:
    if not value.strip():
        return None
    if len(value) > max_chars:
        violations.append(FieldViolation(field, f"must be at most {max_chars} characters"))
    return value


def _check_status_needs(
    status: Status,
    reason: str | None,
    category: StatusReasonCategory | None,
    outcome: str | None,
    violations: list[FieldViolation],
) -> None:
    if status in REASON_REQUIRED and reason is None:
        violations.append(FieldViolation("status_reason", f"is required for status {status}"))
    if category is not None and reason is None:
        violations.append(FieldViolation("status_reason", "is required with a category"))
    if status in OUTCOME_REQUIRED and outcome is None:
        violations.append(FieldViolation("outcome", f"is required for status {status}"))
    if status not in OUTCOME_REQUIRED and outcome is not None:
        violations.append(FieldViolation("outcome", f"must be empty for status {status}"))


def change_status(
    referral: Referral, change: StatusChange, actor: Actor | None, *, now: datetime
) -> tuple[Referral, ReferralStatusChanged]:
    """The referral after `change` by `actor`, and the fact of it.

    PermissionDenied for the wrong side (or none), Conflict when the referral is
    no longer at the version the caller read, FailedPrecondition for a change
    the table does not allow. A refusal leaves `referral` as it was.
    """
    target = change.status
    allowed = SET_BY[target]
    if actor is None:
        raise PermissionDenied(
            "only the requesting or the receiving organization changes a referral's status"
        )
    if actor.side not in allowed:
        setters = " or ".join(sorted(side.value for side in allowed))
        raise PermissionDenied(f"only the {setters} sets status {target}, not the {actor.side}")
    if change.expected_version and change.expected_version != referral.version:
        raise Conflict(
            f"the referral is at version {referral.version}, not {change.expected_version}:"
            " read it again"
        )
    if target not in NEXT_STATUSES[referral.status]:
        raise FailedPrecondition(transition_refusal(referral.status, target))
    changed = replace(
        referral,
        status=target,
        status_reason=change.reason,
        status_reason_category=change.reason_category,
        outcome=change.outcome,
        update_time=now,
        version=referral.version + 1,
    )
    return changed, ReferralStatusChanged(changed, referral.status, actor)


def transition_refusal(current: Status, target: Status) -> str:
    if current in TERMINAL:
        return f"status {current} is final: the referral cannot become {target}"
    return f"a referral cannot go from status {current} to {target}"
