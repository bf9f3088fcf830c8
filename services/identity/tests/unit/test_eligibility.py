"""Eligibility rules, one requirement at a time, with the day boundaries spelled out.

Dates: a certification is valid from `valid_from` through `valid_until`; a
training completion stops counting on its `expires_on`; a lapse date is the
first day something no longer counts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerbridge_identity.domain.eligibility import (
    Reason,
    SupporterFacts,
    assess,
    certification_lapses_on,
    training_lapses_on,
)
from peerbridge_identity.domain.model import (
    Certification,
    ProgramSettings,
    TrainingRecord,
    TrainingRequirement,
)
from peerbridge_identity.domain.values import EligibilityStatus, ReasonCode, VerificationStatus

TODAY = date(2026, 3, 2)
LONG_AGO = date(2024, 1, 1)
FAR_AHEAD = date(2028, 12, 31)
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
PERSON = uuid4()
MODULES = ("ethics", "confidentiality", "crisis_management")
ELIGIBLE, EXPIRING, INELIGIBLE = (
    EligibilityStatus.ELIGIBLE,
    EligibilityStatus.EXPIRING_SOON,
    EligibilityStatus.INELIGIBLE,
)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def cert(
    valid_from: date = LONG_AGO,
    valid_until: date = FAR_AHEAD,
    status: VerificationStatus = VerificationStatus.VERIFIED,
) -> Certification:
    return Certification(
        certification_id=uuid4(),
        person_id=PERSON,
        credential_type="IC&RC Peer Recovery (PR)",
        issuing_body="Synthetic Certification Board",
        credential_number="PR-0001",
        valid_from=valid_from,
        valid_until=valid_until,
        verification_status=status,
        verified_by=None if status is VerificationStatus.PENDING else uuid4(),
        verify_time=None if status is VerificationStatus.PENDING else NOW,
        create_time=NOW,
    )


def trained(
    module: str, completed_on: date = LONG_AGO, expires_on: date | None = None
) -> TrainingRecord:
    return TrainingRecord(uuid4(), PERSON, module, completed_on, expires_on, NOW)


def program(
    modules: tuple[str, ...] = MODULES, validity: int | None = None, renewal: int | None = None
) -> ProgramSettings:
    return ProgramSettings(
        required_training=tuple(TrainingRequirement(m, validity) for m in sorted(modules)),
        certification_renewal_days=renewal,
    )


def facts(
    certifications: tuple[Certification, ...] | None = None,
    training: tuple[TrainingRecord, ...] | None = None,
    *,
    supervisor: bool = True,
    supporter: bool = True,
    settings: ProgramSettings | None = None,
) -> SupporterFacts:
    settings = settings or program()
    return SupporterFacts(
        is_supporter=supporter,
        certifications=(cert(),) if certifications is None else certifications,
        training=(
            tuple(trained(r.module) for r in settings.required_training)
            if training is None
            else training
        ),
        has_supervisor=supervisor,
        program=settings,
    )


def codes(f: SupporterFacts, today: date = TODAY, warning: int = 30) -> list[ReasonCode]:
    return [reason.code for reason in assess(f, today, warning).reasons]


# -- everything met -------------------------------------------------------------


def test_a_supporter_meeting_every_requirement_is_eligible_without_reasons() -> None:
    outcome = assess(facts(), TODAY)

    assert outcome.status is ELIGIBLE
    assert outcome.reasons == ()
    assert outcome.lapses_on == FAR_AHEAD + days(1)
    assert outcome.evaluated_on == TODAY


def test_a_program_without_required_training_needs_certification_and_supervision_only() -> None:
    outcome = assess(facts(training=(), settings=program(modules=())), TODAY)

    assert outcome.status is ELIGIBLE


def test_someone_who_is_not_a_peer_supporter_is_ineligible_for_that_reason_alone() -> None:
    outcome = assess(facts(certifications=(), supervisor=False, supporter=False), TODAY)

    assert outcome.status is INELIGIBLE
    assert outcome.reasons == (Reason(ReasonCode.NOT_A_PEER_SUPPORTER),)
    assert outcome.review_on is None


# -- certification --------------------------------------------------------------


@pytest.mark.parametrize(
    ("certifications", "expected"),
    [
        ((), [ReasonCode.CERTIFICATION_MISSING]),
        ((cert(status=VerificationStatus.REJECTED),), [ReasonCode.CERTIFICATION_MISSING]),
        ((cert(status=VerificationStatus.PENDING),), [ReasonCode.CERTIFICATION_UNVERIFIED]),
        (
            (cert(valid_until=TODAY - days(1)), cert(status=VerificationStatus.PENDING)),
            [ReasonCode.CERTIFICATION_EXPIRED, ReasonCode.CERTIFICATION_UNVERIFIED],
        ),
        (
            (cert(valid_from=TODAY + days(3)),),
            [ReasonCode.CERTIFICATION_NOT_YET_VALID],
        ),
    ],
    ids=["none", "rejected only", "pending only", "expired and pending", "not yet valid"],
)
def test_certification_reasons(
    certifications: tuple[Certification, ...], expected: list[ReasonCode]
) -> None:
    assert codes(facts(certifications)) == expected


@pytest.mark.parametrize(
    ("valid_until", "status"),
    [
        (TODAY - days(1), INELIGIBLE),  # lapsed this morning
        (TODAY, EXPIRING),  # today is its last day
        (TODAY + days(29), EXPIRING),
        (TODAY + days(30), ELIGIBLE),  # lapses in 31 days: outside the 30-day window
    ],
)
def test_valid_until_is_the_last_valid_day(valid_until: date, status: EligibilityStatus) -> None:
    assert assess(facts((cert(valid_until=valid_until),)), TODAY).status is status


def test_an_expired_certification_says_when_it_lapsed() -> None:
    outcome = assess(facts((cert(valid_until=TODAY - days(10)),)), TODAY)

    assert outcome.reasons == (Reason(ReasonCode.CERTIFICATION_EXPIRED, on=TODAY - days(9)),)
    assert outcome.lapses_on is None


@pytest.mark.parametrize(
    ("valid_from", "status"), [(TODAY, ELIGIBLE), (TODAY + days(1), INELIGIBLE)]
)
def test_valid_from_is_the_first_valid_day(valid_from: date, status: EligibilityStatus) -> None:
    assert assess(facts((cert(valid_from=valid_from),)), TODAY).status is status


def test_a_certification_that_starts_later_is_reviewed_on_its_first_day() -> None:
    outcome = assess(facts((cert(valid_from=TODAY + days(5)),)), TODAY)

    assert outcome.reasons == (Reason(ReasonCode.CERTIFICATION_NOT_YET_VALID, on=TODAY + days(5)),)
    assert outcome.review_on == TODAY + days(5)


def test_a_pending_or_rejected_certification_never_counts_whatever_its_dates() -> None:
    for status in (VerificationStatus.PENDING, VerificationStatus.REJECTED):
        assert assess(facts((cert(status=status),)), TODAY).status is INELIGIBLE


@pytest.mark.parametrize(
    ("started_days_ago", "status"),
    [(730, INELIGIBLE), (729, EXPIRING), (700, EXPIRING), (699, ELIGIBLE)],
)
def test_the_program_renewal_period_can_end_a_certification_early(
    started_days_ago: int, status: EligibilityStatus
) -> None:
    certification = cert(valid_from=TODAY - days(started_days_ago), valid_until=FAR_AHEAD)

    outcome = assess(facts((certification,), settings=program(renewal=730)), TODAY)

    assert outcome.status is status


def test_a_renewal_period_longer_than_the_credential_changes_nothing() -> None:
    certification = cert(valid_from=TODAY - days(10), valid_until=TODAY + days(100))

    assert certification_lapses_on(certification, 10_000) == TODAY + days(101)


def test_the_best_valid_certification_decides_when_eligibility_lapses() -> None:
    older = cert(valid_until=TODAY - days(1))
    short = cert(valid_until=TODAY + days(40))
    long = cert(valid_until=TODAY + days(400))

    outcome = assess(facts((older, short, long)), TODAY)

    assert outcome.status is ELIGIBLE
    assert outcome.lapses_on == TODAY + days(401)


# -- training -------------------------------------------------------------------


def test_each_missing_module_is_named() -> None:
    outcome = assess(facts(training=(trained("ethics"),)), TODAY)

    assert outcome.reasons == (
        Reason(ReasonCode.TRAINING_MISSING, "confidentiality"),
        Reason(ReasonCode.TRAINING_MISSING, "crisis_management"),
    )


@pytest.mark.parametrize(
    ("expires_on", "status"),
    [(TODAY, INELIGIBLE), (TODAY + days(1), EXPIRING), (TODAY + days(31), ELIGIBLE)],
)
def test_a_training_stops_counting_on_its_expiry_day(
    expires_on: date, status: EligibilityStatus
) -> None:
    training = (
        trained("ethics", expires_on=expires_on),
        trained("confidentiality"),
        trained("crisis_management"),
    )

    assert assess(facts(training=training), TODAY).status is status


def test_an_expired_training_names_the_module_and_the_day() -> None:
    training = (
        trained("ethics", expires_on=TODAY - days(3)),
        trained("confidentiality"),
        trained("crisis_management"),
    )

    assert assess(facts(training=training), TODAY).reasons == (
        Reason(ReasonCode.TRAINING_EXPIRED, "ethics", TODAY - days(3)),
    )


@pytest.mark.parametrize(
    ("completed_days_ago", "status"),
    [(365, INELIGIBLE), (364, EXPIRING), (335, EXPIRING), (334, ELIGIBLE)],
)
def test_the_program_validity_ages_out_a_completion(
    completed_days_ago: int, status: EligibilityStatus
) -> None:
    completed = TODAY - days(completed_days_ago)
    training = tuple(trained(m, completed_on=completed) for m in MODULES)

    outcome = assess(facts(training=training, settings=program(validity=365)), TODAY)

    assert outcome.status is status


def test_the_earlier_of_the_record_expiry_and_the_program_validity_wins() -> None:
    record = trained("ethics", completed_on=TODAY - days(10), expires_on=TODAY + days(500))

    assert training_lapses_on(record, 100) == TODAY + days(90)
    assert training_lapses_on(record, None) == TODAY + days(500)
    assert training_lapses_on(trained("ethics"), None) is None


def test_a_newer_completion_replaces_an_expired_one() -> None:
    training = (
        trained("ethics", completed_on=LONG_AGO, expires_on=TODAY - days(100)),
        trained("ethics", completed_on=TODAY - days(5)),
        trained("confidentiality"),
        trained("crisis_management"),
    )

    assert assess(facts(training=training), TODAY).status is ELIGIBLE


def test_a_completion_dated_in_the_future_does_not_count_yet() -> None:
    training = (
        trained("ethics", completed_on=TODAY + days(2)),
        trained("confidentiality"),
        trained("crisis_management"),
    )

    outcome = assess(facts(training=training), TODAY)

    assert outcome.reasons == (Reason(ReasonCode.TRAINING_MISSING, "ethics"),)
    assert outcome.review_on == TODAY + days(2)


def test_program_defined_modules_are_required_like_standard_ones() -> None:
    settings = program(modules=("ethics", "hiv_bloodborne_pathogens"))

    missing = assess(facts(training=(trained("ethics"),), settings=settings), TODAY)
    done = assess(
        facts(training=(trained("ethics"), trained("hiv_bloodborne_pathogens")), settings=settings),
        TODAY,
    )

    assert missing.reasons == (Reason(ReasonCode.TRAINING_MISSING, "hiv_bloodborne_pathogens"),)
    assert done.status is ELIGIBLE


def test_training_the_program_does_not_require_is_ignored() -> None:
    training = (*(trained(m) for m in MODULES), trained("boundaries", expires_on=TODAY - days(1)))

    assert assess(facts(training=training), TODAY).status is ELIGIBLE


# -- supervision and everything at once ------------------------------------------


def test_a_supporter_without_a_supervisor_is_ineligible() -> None:
    assert codes(facts(supervisor=False)) == [ReasonCode.SUPERVISOR_MISSING]


def test_every_unmet_requirement_is_listed_certification_then_training_then_supervision() -> None:
    outcome = assess(facts((), (), supervisor=False), TODAY)

    assert outcome.status is INELIGIBLE
    assert [r.code for r in outcome.reasons] == [
        ReasonCode.CERTIFICATION_MISSING,
        ReasonCode.TRAINING_MISSING,
        ReasonCode.TRAINING_MISSING,
        ReasonCode.TRAINING_MISSING,
        ReasonCode.SUPERVISOR_MISSING,
    ]
    assert outcome.lapses_on is None
    assert outcome.review_on is None


# -- expiring soon ----------------------------------------------------------------


def test_expiring_soon_names_everything_that_lapses_within_the_window() -> None:
    certification = cert(valid_until=TODAY + days(9))
    training = (
        trained("ethics", expires_on=TODAY + days(20)),
        trained("confidentiality", expires_on=TODAY + days(31)),
        trained("crisis_management"),
    )

    outcome = assess(facts((certification,), training), TODAY)

    assert outcome.status is EXPIRING
    assert outcome.reasons == (
        Reason(ReasonCode.CERTIFICATION_EXPIRING, on=TODAY + days(10)),
        Reason(ReasonCode.TRAINING_EXPIRING, "ethics", TODAY + days(20)),
    )
    assert outcome.lapses_on == TODAY + days(10)


@pytest.mark.parametrize(
    ("warning", "status"), [(0, ELIGIBLE), (6, ELIGIBLE), (7, EXPIRING), (90, EXPIRING)]
)
def test_the_warning_window_is_configurable(warning: int, status: EligibilityStatus) -> None:
    certification = cert(valid_until=TODAY + days(6))  # lapses in 7 days

    assert assess(facts((certification,)), TODAY, warning).status is status


# -- when to look again -------------------------------------------------------------


def test_an_eligible_supporter_is_reviewed_when_the_first_lapse_enters_the_window() -> None:
    outcome = assess(facts((cert(valid_until=TODAY + days(99)),)), TODAY)

    assert outcome.review_on == TODAY + days(100 - 30)


def test_an_expiring_supporter_is_reviewed_on_the_lapse_day() -> None:
    outcome = assess(facts((cert(valid_until=TODAY + days(9)),)), TODAY)

    assert outcome.review_on == TODAY + days(10)


def test_an_expiring_supporter_with_a_renewal_starting_sooner_is_reviewed_then() -> None:
    current = cert(valid_until=TODAY + days(9))
    renewal = cert(valid_from=TODAY + days(4), valid_until=FAR_AHEAD)

    outcome = assess(facts((current, renewal)), TODAY)

    assert outcome.status is EXPIRING
    assert outcome.review_on == TODAY + days(4)
    assert assess(facts((current, renewal)), TODAY + days(4)).status is ELIGIBLE


def test_nothing_to_review_when_nothing_lapses_and_nothing_starts() -> None:
    # Without an end date nothing lapses; a certification always ends, so an
    # ineligible supporter with nothing pending in time is the only such case.
    outcome = assess(facts((cert(valid_until=TODAY - days(1)),)), TODAY)

    assert outcome.review_on is None


dates = st.integers(min_value=-60, max_value=60).map(lambda n: TODAY + days(n))


@st.composite
def random_facts(draw: st.DrawFn) -> SupporterFacts:
    certifications = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(dates)
        certifications.append(
            cert(
                valid_from=start,
                valid_until=start + days(draw(st.integers(0, 90))),
                status=draw(st.sampled_from(list(VerificationStatus))),
            )
        )
    training = []
    for module in MODULES:
        for _ in range(draw(st.integers(0, 2))):
            completed = draw(dates)
            lasts = draw(st.none() | st.integers(1, 90))
            expires = completed + days(lasts) if lasts is not None else None
            training.append(trained(module, completed, expires))
    settings = program(
        validity=draw(st.none() | st.integers(1, 120)),
        renewal=draw(st.none() | st.integers(1, 120)),
    )
    return facts(
        tuple(certifications),
        tuple(training),
        supervisor=draw(st.booleans()),
        settings=settings,
    )


@settings(max_examples=300, deadline=None)
@given(random_facts(), st.integers(0, 45))
def test_the_status_holds_every_day_until_the_review_day(
    supporter: SupporterFacts, warning: int
) -> None:
    """The scheduled review never misses a change: until `review_on`, time alone
    changes nothing."""
    outcome = assess(supporter, TODAY, warning)
    last = outcome.review_on or TODAY + days(200)

    for offset in range(1, (last - TODAY).days):
        assert assess(supporter, TODAY + days(offset), warning).status is outcome.status
    if outcome.review_on is not None:
        assert outcome.review_on > TODAY
