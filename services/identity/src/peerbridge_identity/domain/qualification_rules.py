"""Rules for a peer supporter's training, certifications and supervision."""

from __future__ import annotations

import re
from datetime import date, datetime
from uuid import UUID

from peerbridge_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument

from .checks import Violations, check_request_id, check_text, parse_choice, parse_uuid
from .commands import (
    AssignSupervisor,
    DateInput,
    RecordCertification,
    RecordTraining,
    VerifyCertification,
)
from .model import Certification, CertificationDetails, Person, TrainingDetails
from .training_modules import parse_module
from .values import VERIFIER_ROLES, Role, VerificationDecision, VerificationStatus

CREDENTIAL_TYPE_MAX_CHARS = 120
ISSUING_BODY_MAX_CHARS = 200
_CREDENTIAL_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./\-]{0,63}")


def parse_date(field: str, given: DateInput | None, violations: Violations) -> date | None:
    if given is None:
        violations.append(FieldViolation(field, "is required"))
        return None
    try:
        return date(given.year, given.month, given.day)
    except ValueError:
        violations.append(FieldViolation(field, "must be a valid calendar date"))
        return None


def validate_training(command: RecordTraining, today: date) -> tuple[str | None, TrainingDetails]:
    violations: Violations = []
    request_id = check_request_id(command.request_id, violations)
    person_id = parse_uuid("person_id", command.person_id, violations)
    module = parse_module("module", command.module, violations)
    completed_on = parse_date("completed_on", command.completed_on, violations)
    expires_on = (
        parse_date("expires_on", command.expires_on, violations)
        if command.expires_on is not None
        else None
    )
    if completed_on is not None and completed_on > today:
        violations.append(FieldViolation("completed_on", "must not be in the future"))
    if completed_on is not None and expires_on is not None and expires_on <= completed_on:
        violations.append(FieldViolation("expires_on", "must be after completed_on"))
    if violations or person_id is None or module is None or completed_on is None:
        raise InvalidArgument("the training record is not valid", violations)
    return request_id, TrainingDetails(person_id, module, completed_on, expires_on)


def validate_certification(command: RecordCertification) -> tuple[str | None, CertificationDetails]:
    violations: Violations = []
    request_id = check_request_id(command.request_id, violations)
    person_id = parse_uuid("person_id", command.person_id, violations)
    check_text("credential_type", command.credential_type, CREDENTIAL_TYPE_MAX_CHARS, violations)
    check_text("issuing_body", command.issuing_body, ISSUING_BODY_MAX_CHARS, violations)
    if not command.credential_number:
        violations.append(FieldViolation("credential_number", "is required"))
    elif not _CREDENTIAL_NUMBER.fullmatch(command.credential_number):
        violations.append(
            FieldViolation(
                "credential_number",
                "must be 1 to 64 characters of A-Z, a-z, 0-9, space, '-', '.' or '/'",
            )
        )
    valid_from = parse_date("valid_from", command.valid_from, violations)
    valid_until = parse_date("valid_until", command.valid_until, violations)
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        violations.append(FieldViolation("valid_until", "must not be before valid_from"))
    if violations or person_id is None or valid_from is None or valid_until is None:
        raise InvalidArgument("the certification is not valid", violations)
    return request_id, CertificationDetails(
        person_id,
        command.credential_type,
        command.issuing_body,
        command.credential_number,
        valid_from,
        valid_until,
    )


def check_is_supporter(person: Person) -> None:
    if not person.holds(Role.PEER_SUPPORTER):
        raise FailedPrecondition(f"person {person.person_id} is not a peer supporter")


def parse_verification(command: VerifyCertification) -> tuple[UUID, VerificationDecision, UUID]:
    violations: Violations = []
    certification_id = parse_uuid("certification_id", command.certification_id, violations)
    decision = parse_choice(VerificationDecision, "decision", command.decision, violations)
    verified_by = parse_uuid("verified_by", command.verified_by, violations)
    if violations or certification_id is None or decision is None or verified_by is None:
        raise InvalidArgument("the verification is not valid", violations)
    return certification_id, decision, verified_by


def decide(
    certification: Certification,
    decision: VerificationDecision,
    verifier: Person,
    now: datetime,
) -> Certification | None:
    """The certification after the decision; None when it was already so decided.

    A verified certification may later be rejected (a revocation); a rejected
    one stays rejected: the supporter records a new one instead.
    """
    if not verifier.roles & VERIFIER_ROLES:
        allowed = ", ".join(sorted(r.value for r in VERIFIER_ROLES))
        raise FailedPrecondition(f"verified_by must hold one of: {allowed}")
    if verifier.person_id == certification.person_id:
        raise FailedPrecondition("a supporter cannot verify their own certification")
    current = certification.verification_status
    if current.value == decision.value:
        return None
    if current is VerificationStatus.REJECTED:
        raise FailedPrecondition("the certification was rejected; record a new one instead")
    return certification.decided(decision, verifier.person_id, now)


def parse_supervision(command: AssignSupervisor) -> tuple[UUID, UUID]:
    violations: Violations = []
    supporter_id = parse_uuid("supporter_id", command.supporter_id, violations)
    supervisor_id = parse_uuid("supervisor_id", command.supervisor_id, violations)
    if supporter_id is not None and supporter_id == supervisor_id:
        violations.append(FieldViolation("supervisor_id", "must differ from supporter_id"))
    if violations or supporter_id is None or supervisor_id is None:
        raise InvalidArgument("the supervision is not valid", violations)
    return supporter_id, supervisor_id


def check_supervision(supporter: Person, supervisor: Person) -> None:
    check_is_supporter(supporter)
    if not supervisor.holds(Role.SUPERVISOR):
        raise FailedPrecondition(f"person {supervisor.person_id} is not a supervisor")
    if supervisor.organization_id != supporter.organization_id:
        raise FailedPrecondition("the supervisor must belong to the supporter's program")
