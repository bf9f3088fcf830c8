"""Handlers for a supporter's training, certifications and supervision.

Each change re-assesses the supporter's eligibility in the same transaction,
so a change of status is announced exactly when the change that caused it
commits.
"""

from __future__ import annotations

from uuid import UUID

from peerbridge_platform.errors import NotFound
from peerbridge_platform.logging import get_logger

from ..domain import access_rules as rules
from ..domain.commands import (
    AssignSupervisor,
    RecordCertification,
    RecordTraining,
    VerifyCertification,
)
from ..domain.model import Certification, Supervision, TrainingRecord
from ..domain.qualification_rules import (
    check_is_supporter,
    check_supervision,
    decide,
    parse_supervision,
    parse_verification,
    validate_certification,
    validate_training,
)
from ..domain.values import VerificationStatus
from .access import audit, caller, enforce, person_facts, recording_denials
from .context import HandlerContext
from .eligibility import refresh_eligibility
from .idempotency import create_once
from .lookups import locked_person, person_not_found
from .unit_of_work import UnitOfWork

log = get_logger(__name__)


async def _load_training(uow: UnitOfWork, record_id: UUID) -> TrainingRecord | None:
    return await uow.training.get(record_id)


async def _load_certification(uow: UnitOfWork, certification_id: UUID) -> Certification | None:
    return await uow.certifications.get(certification_id)


async def record_training(
    command: RecordTraining, uow: UnitOfWork, context: HandlerContext
) -> TrainingRecord:
    request_id, details = validate_training(command, context.today())
    principal = caller()
    access = rules.about_qualifications(
        principal, "training.record", "training_record", None, details.person_id
    )

    async def create(uow: UnitOfWork) -> tuple[TrainingRecord, UUID]:
        person = await locked_person(uow, details.person_id)
        decision = rules.manage_qualifications(principal, await person_facts(uow, person))
        enforce(decision, access, person_not_found(details.person_id))
        check_is_supporter(person)
        record = TrainingRecord(
            training_record_id=context.new_id(),
            person_id=details.person_id,
            module=details.module,
            completed_on=details.completed_on,
            expires_on=details.expires_on,
            create_time=context.now(),
        )
        await uow.training.add(record)
        await audit(uow, access.on(record.training_record_id), decision)
        await refresh_eligibility(uow, person, context)
        return record, record.training_record_id

    async with recording_denials(uow):
        record, created = await create_once(
            uow,
            operation="record_training",
            request_id=request_id,
            details=details,
            load=_load_training,
            create=create,
        )
    if created:
        log.info("training recorded", person_id=str(record.person_id), module=record.module)
    return record


async def record_certification(
    command: RecordCertification, uow: UnitOfWork, context: HandlerContext
) -> Certification:
    request_id, details = validate_certification(command)
    principal = caller()
    access = rules.about_qualifications(
        principal, "certification.record", "certification", None, details.person_id
    )

    async def create(uow: UnitOfWork) -> tuple[Certification, UUID]:
        person = await locked_person(uow, details.person_id)
        decision = rules.record_certification(principal, await person_facts(uow, person))
        enforce(decision, access, person_not_found(details.person_id))
        check_is_supporter(person)
        certification = Certification(
            certification_id=context.new_id(),
            person_id=details.person_id,
            credential_type=details.credential_type,
            issuing_body=details.issuing_body,
            credential_number=details.credential_number,
            valid_from=details.valid_from,
            valid_until=details.valid_until,
            verification_status=VerificationStatus.PENDING,
            verified_by=None,
            verify_time=None,
            create_time=context.now(),
        )
        await uow.certifications.add(certification)
        await audit(uow, access.on(certification.certification_id), decision)
        # Pending counts for nothing yet, but the reasons change (unverified, not missing).
        await refresh_eligibility(uow, person, context)
        return certification, certification.certification_id

    async with recording_denials(uow):
        certification, created = await create_once(
            uow,
            operation="record_certification",
            request_id=request_id,
            details=details,
            load=_load_certification,
            create=create,
        )
    if created:
        log.info(
            "certification recorded",
            person_id=str(certification.person_id),
            certification_id=str(certification.certification_id),
        )
    return certification


async def verify_certification(
    command: VerifyCertification, uow: UnitOfWork, context: HandlerContext
) -> Certification:
    certification_id, decision, verified_by = parse_verification(command)
    principal = caller()
    not_found = NotFound(f"certification {certification_id} not found")
    async with recording_denials(uow), uow:
        found = await uow.certifications.get(certification_id)
        if found is None:
            raise not_found
        people = await uow.persons.lock({found.person_id, verified_by})
        access = rules.about_qualifications(
            principal, "certification.verify", "certification", certification_id, found.person_id
        )
        allowed = rules.verify_certification(
            principal, await person_facts(uow, people[found.person_id]), verified_by
        )
        enforce(allowed, access, not_found)
        await audit(uow, access, allowed)
        if verified_by not in people:
            raise person_not_found(verified_by)
        # Read again under the holder's lock: a concurrent decision may have committed.
        certification = await uow.certifications.get(certification_id)
        assert certification is not None
        decided = decide(certification, decision, people[verified_by], context.now())
        if decided is None:
            await uow.commit()  # nothing changed, but the access stays on record
            return certification
        await uow.certifications.update(decided)
        await refresh_eligibility(uow, people[found.person_id], context)
        await uow.commit()
    log.info(
        "certification decided",
        certification_id=str(certification_id),
        decision=decision.value,
        verified_by=str(verified_by),
    )
    return decided


async def assign_supervisor(
    command: AssignSupervisor, uow: UnitOfWork, context: HandlerContext
) -> Supervision:
    supporter_id, supervisor_id = parse_supervision(command)
    principal = caller()
    access = rules.about_qualifications(
        principal, "supervision.assign", "supervision", supporter_id, supporter_id
    )
    async with recording_denials(uow), uow:
        # Both locked: a concurrent revocation of SUPERVISOR must see this link, or fail it.
        people = await uow.persons.lock({supporter_id, supervisor_id})
        if supporter_id not in people:
            raise person_not_found(supporter_id)
        supporter = people[supporter_id]
        allowed = rules.manage_qualifications(principal, await person_facts(uow, supporter))
        enforce(allowed, access, person_not_found(supporter_id))
        await audit(uow, access, allowed)
        if supervisor_id not in people:
            raise person_not_found(supervisor_id)
        check_supervision(supporter, people[supervisor_id])
        current = await uow.supervision.get(supporter_id)
        if current is not None and current.supervisor_id == supervisor_id:
            await uow.commit()  # nothing changed, but the access stays on record
            return current
        supervision = Supervision(supporter_id, supervisor_id, context.now())
        await uow.supervision.put(supervision)
        await refresh_eligibility(uow, supporter, context)
        await uow.commit()
    log.info(
        "supervisor assigned", supporter_id=str(supporter_id), supervisor_id=str(supervisor_id)
    )
    return supervision
