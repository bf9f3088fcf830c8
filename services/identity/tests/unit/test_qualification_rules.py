"""Training, certification, verification and supervision rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from peerbridge_identity.domain.commands import (
    AssignSupervisor,
    DateInput,
    ModuleInput,
    RecordTraining,
    VerifyCertification,
)
from peerbridge_identity.domain.model import Certification, Person, Profile
from peerbridge_identity.domain.qualification_rules import (
    check_supervision,
    decide,
    parse_supervision,
    parse_verification,
    validate_certification,
    validate_training,
)
from peerbridge_identity.domain.values import Role, VerificationDecision, VerificationStatus
from peerbridge_platform.errors import FailedPrecondition, InvalidArgument

TODAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
PROGRAM = uuid4()


def person(*roles: Role, organization_id: Any = PROGRAM) -> Person:
    return Person(
        uuid4(), frozenset(roles), organization_id, Profile("Sam (test)", "en", "UTC"), NOW, NOW, 1
    )


def training(**changes: Any) -> RecordTraining:
    fields: dict[str, Any] = {
        "request_id": "",
        "person_id": str(uuid4()),
        "module": ModuleInput("standard", "ethics"),
        "completed_on": DateInput(2026, 2, 1),
        "expires_on": None,
    }
    fields.update(changes)
    return RecordTraining(**fields)


def test_a_training_record() -> None:
    _, details = validate_training(training(expires_on=DateInput(2028, 2, 1)), TODAY)

    assert (details.module, details.completed_on, details.expires_on) == (
        "ethics",
        date(2026, 2, 1),
        date(2028, 2, 1),
    )


def test_a_training_completed_today_is_accepted() -> None:
    validate_training(training(completed_on=DateInput(2026, 3, 2)), TODAY)


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"completed_on": DateInput(2026, 3, 3)}, ["completed_on"]),
        ({"completed_on": DateInput(2026, 2, 30)}, ["completed_on"]),
        ({"completed_on": None}, ["completed_on"]),
        ({"expires_on": DateInput(2026, 2, 1)}, ["expires_on"]),
        ({"expires_on": DateInput(0, 0, 0)}, ["expires_on"]),
        ({"module": None}, ["module"]),
        ({"person_id": "someone"}, ["person_id"]),
    ],
)
def test_bad_training_records(changes: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_training(training(**changes), TODAY)

    assert [v.field for v in caught.value.violations] == fields


def test_a_certification(build: Any) -> None:
    command = build.certification(uuid4(), TODAY, TODAY)  # one day is enough

    _, details = validate_certification(command)

    assert (details.valid_from, details.valid_until) == (TODAY, TODAY)


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"valid_until": DateInput(2026, 3, 1)}, ["valid_until"]),
        ({"credential_number": ""}, ["credential_number"]),
        ({"credential_number": "PR#1"}, ["credential_number"]),
        ({"credential_number": "-starts-with-dash"}, ["credential_number"]),
        ({"credential_type": ""}, ["credential_type"]),
        ({"issuing_body": "b" * 201}, ["issuing_body"]),
        ({"valid_from": None, "valid_until": None}, ["valid_from", "valid_until"]),
    ],
)
def test_bad_certifications(build: Any, changes: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_certification(replace(build.certification(uuid4(), TODAY, TODAY), **changes))

    assert [v.field for v in caught.value.violations] == fields


def certification(
    holder: Person, status: VerificationStatus = VerificationStatus.PENDING
) -> Certification:
    decided = status is not VerificationStatus.PENDING
    return Certification(
        uuid4(),
        holder.person_id,
        "IC&RC Peer Recovery (PR)",
        "Synthetic Certification Board",
        "PR-1",
        TODAY,
        TODAY + timedelta(days=700),
        status,
        uuid4() if decided else None,
        NOW if decided else None,
        NOW,
    )


SUPPORTER = person(Role.PEER_SUPPORTER)
SUPERVISOR = person(Role.SUPERVISOR)


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.COORDINATOR, Role.ADMIN])
def test_staff_may_verify(role: Role) -> None:
    verifier = person(role)

    decided = decide(certification(SUPPORTER), VerificationDecision.VERIFIED, verifier, NOW)

    assert decided is not None
    assert decided.verification_status is VerificationStatus.VERIFIED
    assert (decided.verified_by, decided.verify_time) == (verifier.person_id, NOW)


@pytest.mark.parametrize("role", [Role.MEMBER, Role.PEER_SUPPORTER, Role.CLINICIAN])
def test_others_may_not_verify(role: Role) -> None:
    with pytest.raises(FailedPrecondition):
        decide(certification(SUPPORTER), VerificationDecision.VERIFIED, person(role), NOW)


def test_nobody_verifies_their_own_certification() -> None:
    supervising_supporter = person(Role.PEER_SUPPORTER, Role.SUPERVISOR)

    with pytest.raises(FailedPrecondition, match="own"):
        decide(
            certification(supervising_supporter),
            VerificationDecision.VERIFIED,
            supervising_supporter,
            NOW,
        )


@pytest.mark.parametrize(
    ("current", "decision", "outcome"),
    [
        (VerificationStatus.PENDING, VerificationDecision.REJECTED, VerificationStatus.REJECTED),
        (VerificationStatus.VERIFIED, VerificationDecision.VERIFIED, None),
        (VerificationStatus.VERIFIED, VerificationDecision.REJECTED, VerificationStatus.REJECTED),
        (VerificationStatus.REJECTED, VerificationDecision.REJECTED, None),
    ],
)
def test_decisions_after_decisions(
    current: VerificationStatus,
    decision: VerificationDecision,
    outcome: VerificationStatus | None,
) -> None:
    decided = decide(certification(SUPPORTER, current), decision, SUPERVISOR, NOW)

    assert (decided.verification_status if decided else None) is outcome


def test_a_rejected_certification_stays_rejected() -> None:
    rejected = certification(SUPPORTER, VerificationStatus.REJECTED)

    with pytest.raises(FailedPrecondition, match="record a new one"):
        decide(rejected, VerificationDecision.VERIFIED, SUPERVISOR, NOW)


def test_bad_verifications() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_verification(VerifyCertification("", "approved", "x"))

    assert [v.field for v in caught.value.violations] == [
        "certification_id",
        "decision",
        "verified_by",
    ]


def test_supervision_needs_a_supervisor_of_the_same_program() -> None:
    check_supervision(SUPPORTER, SUPERVISOR)
    with pytest.raises(FailedPrecondition, match="not a supervisor"):
        check_supervision(SUPPORTER, person(Role.COORDINATOR))
    with pytest.raises(FailedPrecondition, match="program"):
        check_supervision(SUPPORTER, person(Role.SUPERVISOR, organization_id=uuid4()))
    with pytest.raises(FailedPrecondition, match="not a peer supporter"):
        check_supervision(person(Role.MEMBER), SUPERVISOR)


def test_nobody_supervises_themselves() -> None:
    same = str(uuid4())

    with pytest.raises(InvalidArgument) as caught:
        parse_supervision(AssignSupervisor(same, same))

    assert [v.field for v in caught.value.violations] == ["supervisor_id"]
