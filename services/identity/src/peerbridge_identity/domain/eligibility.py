"""Whether a peer supporter may support members, as pure functions of the facts and a day.

Eligible means, on a given day: the person holds PEER_SUPPORTER; a verified
certification is valid that day; every module the program requires has a
completion that has not lapsed; and a supervisor is assigned. EXPIRING_SOON
is eligible with something lapsing within the warning window.

Every date here is a calendar day. A lapse date is the first day something
no longer counts:
- a certification lapses the day after its `valid_until`, or `renewal_days`
  after its `valid_from` when the program renews sooner;
- a training completion lapses on its own `expires_on`, or `validity_days`
  after `completed_on` when the program sets a validity, whichever is first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from .events import SupporterEligibilityChanged
from .model import Certification, ModuleCode, ProgramSettings, TrainingRecord
from .values import (
    LAPSE_REASONS,
    EligibilityChange,
    EligibilityStatus,
    ReasonCode,
    VerificationStatus,
)

DEFAULT_WARNING_DAYS = 30
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    module: ModuleCode | None = None
    on: date | None = None


@dataclass(frozen=True)
class SupporterFacts:
    """Everything eligibility depends on, as stored."""

    is_supporter: bool
    certifications: tuple[Certification, ...]
    training: tuple[TrainingRecord, ...]
    has_supervisor: bool
    program: ProgramSettings


@dataclass(frozen=True)
class Assessment:
    status: EligibilityStatus
    reasons: tuple[Reason, ...]
    # First day no longer eligible; None when ineligible.
    lapses_on: date | None
    # The next day on which the passage of time alone may change the outcome.
    review_on: date | None
    evaluated_on: date


def certification_lapses_on(certification: Certification, renewal_days: int | None) -> date:
    lapse = certification.valid_until + ONE_DAY
    if renewal_days is not None:
        lapse = min(lapse, certification.valid_from + timedelta(days=renewal_days))
    return lapse


def training_lapses_on(record: TrainingRecord, validity_days: int | None) -> date | None:
    candidates = [record.expires_on] if record.expires_on is not None else []
    if validity_days is not None:
        candidates.append(record.completed_on + timedelta(days=validity_days))
    return min(candidates, default=None)


@dataclass(frozen=True)
class _Outcome:
    """One requirement: what blocks it, or until when it holds (None: for good)."""

    blocking: tuple[Reason, ...] = ()
    holds_until: date | None = None
    expiring_reason: ReasonCode | None = None
    module: ModuleCode | None = None
    starts: tuple[date, ...] = ()


def _certification(facts: SupporterFacts, today: date) -> _Outcome:
    renewal = facts.program.certification_renewal_days
    verified = [
        c for c in facts.certifications if c.verification_status is VerificationStatus.VERIFIED
    ]
    lapses = {c.certification_id: certification_lapses_on(c, renewal) for c in verified}
    future = [c.valid_from for c in verified if c.valid_from > today]
    valid = [
        lapses[c.certification_id]
        for c in verified
        if c.valid_from <= today < lapses[c.certification_id]
    ]
    if valid:
        return _Outcome(
            holds_until=max(valid),
            expiring_reason=ReasonCode.CERTIFICATION_EXPIRING,
            starts=tuple(future),
        )
    reasons: list[Reason] = []
    lapsed = [lapse for lapse in lapses.values() if lapse <= today]
    if lapsed:
        reasons.append(Reason(ReasonCode.CERTIFICATION_EXPIRED, on=max(lapsed)))
    if future:
        reasons.append(Reason(ReasonCode.CERTIFICATION_NOT_YET_VALID, on=min(future)))
    if any(c.verification_status is VerificationStatus.PENDING for c in facts.certifications):
        reasons.append(Reason(ReasonCode.CERTIFICATION_UNVERIFIED))
    if not reasons:
        reasons.append(Reason(ReasonCode.CERTIFICATION_MISSING))
    return _Outcome(blocking=tuple(reasons), starts=tuple(future))


def _module(
    facts: SupporterFacts, module: ModuleCode, validity: int | None, today: date
) -> _Outcome:
    records = [r for r in facts.training if r.module == module]
    future = tuple(r.completed_on for r in records if r.completed_on > today)
    done = [r for r in records if r.completed_on <= today]
    lapses = [training_lapses_on(r, validity) for r in done]
    current = [lapse for lapse in lapses if lapse is None or today < lapse]
    if current:
        holds_until = None if None in current else max(d for d in current if d is not None)
        return _Outcome(
            holds_until=holds_until,
            expiring_reason=ReasonCode.TRAINING_EXPIRING,
            module=module,
            starts=future,
        )
    lapsed = [lapse for lapse in lapses if lapse is not None]
    reason = (
        Reason(ReasonCode.TRAINING_EXPIRED, module, max(lapsed))
        if lapsed
        else Reason(ReasonCode.TRAINING_MISSING, module)
    )
    return _Outcome(blocking=(reason,), starts=future)


def assess(
    facts: SupporterFacts, today: date, warning_days: int = DEFAULT_WARNING_DAYS
) -> Assessment:
    """The supporter's eligibility on `today`, with every reason spelled out."""
    if not facts.is_supporter:
        return Assessment(
            EligibilityStatus.INELIGIBLE,
            (Reason(ReasonCode.NOT_A_PEER_SUPPORTER),),
            lapses_on=None,
            review_on=None,
            evaluated_on=today,
        )
    outcomes = [_certification(facts, today)]
    outcomes += [
        _module(facts, requirement.module, requirement.validity_days, today)
        for requirement in facts.program.required_training
    ]
    if not facts.has_supervisor:
        outcomes.append(_Outcome(blocking=(Reason(ReasonCode.SUPERVISOR_MISSING),)))
    starts = [start for outcome in outcomes for start in outcome.starts]
    blocking = tuple(reason for outcome in outcomes for reason in outcome.blocking)
    if blocking:
        return Assessment(
            EligibilityStatus.INELIGIBLE,
            blocking,
            lapses_on=None,
            review_on=min(starts, default=None),
            evaluated_on=today,
        )
    window_end = today + timedelta(days=warning_days)
    lapsing = [o for o in outcomes if o.holds_until is not None]
    expiring = tuple(
        Reason(o.expiring_reason, o.module, o.holds_until)
        for o in lapsing
        if o.expiring_reason is not None
        and o.holds_until is not None
        and o.holds_until <= window_end
    )
    lapse_dates = [o.holds_until for o in lapsing if o.holds_until is not None]
    return Assessment(
        EligibilityStatus.EXPIRING_SOON if expiring else EligibilityStatus.ELIGIBLE,
        expiring,
        lapses_on=min(lapse_dates, default=None),
        review_on=_next_review(lapse_dates, starts, today, warning_days),
        evaluated_on=today,
    )


def _next_review(
    lapse_dates: Iterable[date], starts: Iterable[date], today: date, warning_days: int
) -> date | None:
    """The first day after `today` when a lapse enters the window, a lapse happens,
    or something starts to count."""
    candidates = list(starts)
    for lapse in lapse_dates:
        warning = lapse - timedelta(days=warning_days)
        candidates.append(warning if warning > today else lapse)
    return min((day for day in candidates if day > today), default=None)


@dataclass(frozen=True)
class EligibilityState:
    """The last known eligibility of a supporter, as stored and announced."""

    person_id: UUID
    organization_id: UUID | None
    status: EligibilityStatus
    reasons: tuple[Reason, ...]
    lapses_on: date | None
    review_on: date | None
    evaluated_on: date
    change_time: datetime  # when the status last changed
    version: int


def change_between(previous: EligibilityStatus, current: Assessment) -> EligibilityChange | None:
    """How the status moved; None when it stayed the same."""
    if previous is current.status:
        return None
    if current.status is EligibilityStatus.EXPIRING_SOON:
        if previous is EligibilityStatus.ELIGIBLE:
            return EligibilityChange.EXPIRING_SOON
        return EligibilityChange.GRANTED
    if current.status is EligibilityStatus.ELIGIBLE:
        return EligibilityChange.GRANTED
    if any(reason.code in LAPSE_REASONS for reason in current.reasons):
        return EligibilityChange.EXPIRED
    return EligibilityChange.REVOKED


def record_assessment(
    previous: EligibilityState | None,
    assessment: Assessment,
    *,
    person_id: UUID,
    organization_id: UUID | None,
    now: datetime,
) -> tuple[EligibilityState, SupporterEligibilityChanged | None]:
    """The state to store after `assessment`, and the event when the status changed.

    A supporter with no stored state counts as INELIGIBLE, so the first event
    a new supporter causes is GRANTED.
    """
    previous_status = previous.status if previous else EligibilityStatus.INELIGIBLE
    change = change_between(previous_status, assessment)
    state = EligibilityState(
        person_id=person_id,
        organization_id=organization_id,
        status=assessment.status,
        reasons=assessment.reasons,
        lapses_on=assessment.lapses_on,
        review_on=assessment.review_on,
        evaluated_on=assessment.evaluated_on,
        change_time=now if change is not None or previous is None else previous.change_time,
        version=(previous.version + 1) if previous else 1,
    )
    if change is None:
        return state, None
    return state, SupporterEligibilityChanged(state, previous_status, change)
