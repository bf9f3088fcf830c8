"""The identity service over a real socket, on real PostgreSQL: every RPC, and refusals
that write nothing (no row, no outbox record)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from peerbridge.identity.v1 import identity_resources_pb2 as resources_pb2
from peerbridge.identity.v1 import identity_service_pb2 as service_pb2
from peerbridge_platform.grpc import field_violations

pytestmark = pytest.mark.integration

Service = Any  # RunningService from conftest
MODULES = (
    resources_pb2.TRAINING_MODULE_ETHICS,
    resources_pb2.TRAINING_MODULE_CONFIDENTIALITY,
)


def when(day: date) -> resources_pb2.Date:
    return resources_pb2.Date(year=day.year, month=day.month, day=day.day)


def profile(**changes: Any) -> resources_pb2.Profile:
    fields: dict[str, Any] = {
        "display_name": "Robin (test)",
        "contact_preference": resources_pb2.CONTACT_PREFERENCE_IN_APP,
        "language": "en-GB",
        "time_zone": "Europe/London",
    }
    fields.update(changes)
    return resources_pb2.Profile(**fields)


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def a_program(stub: Any, **changes: Any) -> resources_pb2.Organization:
    request = service_pb2.RegisterOrganizationRequest(
        request_id=str(uuid.uuid4()),
        kind=resources_pb2.ORGANIZATION_KIND_PEER_SUPPORT_PROGRAM,
        name="Harbour Peer Recovery (test)",
        program_settings=resources_pb2.ProgramSettings(
            required_training=[
                resources_pb2.TrainingRequirement(
                    module=resources_pb2.TrainingModuleRef(standard=module), validity_days=730
                )
                for module in MODULES
            ],
            certification_renewal_days=730,
        ),
        **changes,
    )
    response = await stub.RegisterOrganization(request)
    organization: resources_pb2.Organization = response.organization
    return organization


async def a_person(
    stub: Any, *roles: int, organization_id: str = "", **profile_changes: Any
) -> resources_pb2.Person:
    response = await stub.RegisterPerson(
        service_pb2.RegisterPersonRequest(
            request_id=str(uuid.uuid4()),
            roles=list(roles) or [resources_pb2.ROLE_MEMBER],
            organization_id=organization_id,
            profile=profile(**profile_changes),
        )
    )
    person: resources_pb2.Person = response.person
    return person


# -- organizations and clients --------------------------------------------------


async def test_register_organization_and_retry(service: Service) -> None:
    request = service_pb2.RegisterOrganizationRequest(
        request_id="req-org-1",
        kind=resources_pb2.ORGANIZATION_KIND_CLINIC,
        name="Northside Health Clinic (test)",
    )

    first = await service.stub.RegisterOrganization(request)
    again = await service.stub.RegisterOrganization(request)

    assert uuid.UUID(first.organization.organization_id)
    assert again == first
    assert not first.organization.HasField("program_settings")
    assert (await service.counts())["organizations"] == 1


async def test_a_program_keeps_its_settings(service: Service) -> None:
    program = await a_program(service.stub)

    assert [r.module.standard for r in program.program_settings.required_training] == [
        resources_pb2.TRAINING_MODULE_CONFIDENTIALITY,
        resources_pb2.TRAINING_MODULE_ETHICS,
    ]
    assert program.program_settings.certification_renewal_days == 730


async def test_a_reused_request_id_is_aborted_and_writes_nothing(service: Service) -> None:
    request = service_pb2.RegisterOrganizationRequest(
        request_id="req-org-2", kind=resources_pb2.ORGANIZATION_KIND_CLINIC, name="A (test)"
    )
    await service.stub.RegisterOrganization(request)
    before = await service.counts()
    request.name = "B (test)"

    error = await refused(service.stub.RegisterOrganization(request))

    assert error.code() is grpc.StatusCode.ABORTED
    assert await service.counts() == before


async def test_an_invalid_organization_names_every_bad_field(service: Service) -> None:
    before = await service.counts()

    error = await refused(
        service.stub.RegisterOrganization(
            service_pb2.RegisterOrganizationRequest(
                kind=resources_pb2.ORGANIZATION_KIND_CLINIC,
                program_settings=resources_pb2.ProgramSettings(certification_renewal_days=5),
            )
        )
    )

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(error)] == ["name", "program_settings"]
    assert await service.counts() == before


async def test_register_client(service: Service) -> None:
    clinic = (
        await service.stub.RegisterOrganization(
            service_pb2.RegisterOrganizationRequest(
                kind=resources_pb2.ORGANIZATION_KIND_CLINIC, name="Clinic (test)"
            )
        )
    ).organization

    response = await service.stub.RegisterClient(
        service_pb2.RegisterClientRequest(
            request_id="req-client-1",
            organization_id=clinic.organization_id,
            kind=resources_pb2.CLIENT_KIND_EHR_INTEGRATION,
            display_name="Clinic EHR (test)",
            scopes=["referrals.write", "referrals.read"],
        )
    )

    assert list(response.client.scopes) == ["referrals.read", "referrals.write"]
    assert response.client.organization_id == clinic.organization_id


async def test_a_client_of_an_unknown_organization_is_not_found(service: Service) -> None:
    before = await service.counts()

    error = await refused(
        service.stub.RegisterClient(
            service_pb2.RegisterClientRequest(
                organization_id=str(uuid.uuid4()),
                kind=resources_pb2.CLIENT_KIND_APP,
                display_name="App (test)",
                scopes=["referrals.read"],
            )
        )
    )

    assert error.code() is grpc.StatusCode.NOT_FOUND
    assert await service.counts() == before


# -- people ----------------------------------------------------------------------


async def test_register_and_get_a_member(service: Service) -> None:
    member = await a_person(service.stub, age_band=resources_pb2.AGE_BAND_25_TO_34)

    fetched = await service.stub.GetPerson(service_pb2.GetPersonRequest(person_id=member.person_id))

    assert fetched.person == member
    assert list(member.roles) == [resources_pb2.ROLE_MEMBER]
    assert member.profile.age_band == resources_pb2.AGE_BAND_25_TO_34
    assert member.version == 1


async def test_get_person_errors(service: Service) -> None:
    missing = await refused(
        service.stub.GetPerson(service_pb2.GetPersonRequest(person_id=str(uuid.uuid4())))
    )
    malformed = await refused(service.stub.GetPerson(service_pb2.GetPersonRequest(person_id="x")))

    assert missing.code() is grpc.StatusCode.NOT_FOUND
    assert malformed.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_register_person_refusals_write_nothing(service: Service) -> None:
    program = await a_program(service.stub)
    before = await service.counts()
    cases = [
        (
            service_pb2.RegisterPersonRequest(
                roles=[resources_pb2.ROLE_PEER_SUPPORTER], profile=profile()
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            service_pb2.RegisterPersonRequest(
                roles=[resources_pb2.ROLE_MEMBER], profile=profile(time_zone="Mars/Base")
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            service_pb2.RegisterPersonRequest(
                roles=[resources_pb2.ROLE_PEER_SUPPORTER],
                organization_id=str(uuid.uuid4()),
                profile=profile(),
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            service_pb2.RegisterPersonRequest(
                roles=[resources_pb2.ROLE_CLINICIAN],
                organization_id=program.organization_id,
                profile=profile(),
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
    ]

    for request, code in cases:
        assert (await refused(service.stub.RegisterPerson(request))).code() is code

    assert await service.counts() == before


async def test_update_profile_changes_only_the_masked_fields(service: Service) -> None:
    member = await a_person(service.stub)

    response = await service.stub.UpdateProfile(
        service_pb2.UpdateProfileRequest(
            person_id=member.person_id,
            profile=profile(display_name="Ignored (test)", time_zone="Europe/Dublin"),
            update_mask=FieldMask(paths=["time_zone"]),
        )
    )

    assert response.person.profile.time_zone == "Europe/Dublin"
    assert response.person.profile.display_name == member.profile.display_name
    assert response.person.version == 2
    assert (await service.outbox_types())[-1] == "peerbridge.identity.v1.ProfileUpdated"


@pytest.mark.parametrize(
    "paths",
    [["roles"], ["organization_id"], ["display_name", "roles"], ["person_id"], ["version"], []],
)
async def test_mass_assignment_is_refused_and_writes_nothing(
    service: Service, paths: list[str]
) -> None:
    member = await a_person(service.stub)
    before = await service.counts()

    error = await refused(
        service.stub.UpdateProfile(
            service_pb2.UpdateProfileRequest(
                person_id=member.person_id,
                profile=profile(display_name="Admin"),
                update_mask=FieldMask(paths=paths),
            )
        )
    )

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(error)] == ["update_mask"]
    assert await service.counts() == before
    fetched = await service.stub.GetPerson(service_pb2.GetPersonRequest(person_id=member.person_id))
    assert fetched.person == member


async def test_grant_and_revoke_roles(service: Service) -> None:
    program = await a_program(service.stub)
    member = await a_person(service.stub)

    granted = await service.stub.GrantRole(
        service_pb2.GrantRoleRequest(
            person_id=member.person_id,
            role=resources_pb2.ROLE_COORDINATOR,
            organization_id=program.organization_id,
        )
    )
    revoked = await service.stub.RevokeRole(
        service_pb2.RevokeRoleRequest(person_id=member.person_id, role=resources_pb2.ROLE_MEMBER)
    )

    assert list(granted.person.roles) == [resources_pb2.ROLE_MEMBER, resources_pb2.ROLE_COORDINATOR]
    assert granted.person.organization_id == program.organization_id
    assert list(revoked.person.roles) == [resources_pb2.ROLE_COORDINATOR]
    assert (await service.outbox_types())[-2:] == [
        "peerbridge.identity.v1.RoleGranted",
        "peerbridge.identity.v1.RoleRevoked",
    ]


async def test_role_refusals_write_nothing(service: Service) -> None:
    member = await a_person(service.stub)
    before = await service.counts()

    last = await refused(
        service.stub.RevokeRole(
            service_pb2.RevokeRoleRequest(
                person_id=member.person_id, role=resources_pb2.ROLE_MEMBER
            )
        )
    )
    unknown = await refused(
        service.stub.GrantRole(
            service_pb2.GrantRoleRequest(person_id=str(uuid.uuid4()), role=resources_pb2.ROLE_ADMIN)
        )
    )
    unset = await refused(
        service.stub.GrantRole(service_pb2.GrantRoleRequest(person_id=member.person_id))
    )

    assert last.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert unknown.code() is grpc.StatusCode.NOT_FOUND
    assert unset.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert await service.counts() == before


# -- qualifications and eligibility --------------------------------------------------


async def qualified_supporter(
    service: Service, valid_for_days: int = 400
) -> tuple[resources_pb2.Organization, resources_pb2.Person, resources_pb2.Person, str]:
    """A program, its supervisor, and a supporter meeting every requirement; the
    certification id last."""
    stub, today = service.stub, service.clock.today()
    program = await a_program(stub)
    supervisor = await a_person(
        stub, resources_pb2.ROLE_SUPERVISOR, organization_id=program.organization_id
    )
    supporter = await a_person(
        stub, resources_pb2.ROLE_PEER_SUPPORTER, organization_id=program.organization_id
    )
    for module in MODULES:
        await stub.RecordTraining(
            service_pb2.RecordTrainingRequest(
                person_id=supporter.person_id,
                module=resources_pb2.TrainingModuleRef(standard=module),
                completed_on=when(today - timedelta(days=2)),
            )
        )
    certification = (
        await stub.RecordCertification(
            service_pb2.RecordCertificationRequest(
                person_id=supporter.person_id,
                credential_type="IC&RC Peer Recovery (PR)",
                issuing_body="Synthetic Certification Board",
                credential_number="PR-IT-1",
                valid_from=when(today - timedelta(days=1)),
                valid_until=when(today + timedelta(days=valid_for_days - 1)),
            )
        )
    ).certification
    assert certification.verification_status == resources_pb2.VERIFICATION_STATUS_PENDING
    verified = await stub.VerifyCertification(
        service_pb2.VerifyCertificationRequest(
            certification_id=certification.certification_id,
            decision=service_pb2.VERIFICATION_DECISION_VERIFIED,
            verified_by=supervisor.person_id,
        )
    )
    assert verified.certification.verified_by == supervisor.person_id
    assigned = await stub.AssignSupervisor(
        service_pb2.AssignSupervisorRequest(
            supporter_id=supporter.person_id, supervisor_id=supervisor.person_id
        )
    )
    assert assigned.supervisor_id == supervisor.person_id
    return program, supervisor, supporter, certification.certification_id


async def test_a_qualified_supporter_is_eligible_and_listed(service: Service) -> None:
    program, _, supporter, _ = await qualified_supporter(service)

    eligibility = await service.stub.GetSupporterEligibility(
        service_pb2.GetSupporterEligibilityRequest(person_id=supporter.person_id)
    )
    listed = await service.stub.ListEligibleSupporters(
        service_pb2.ListEligibleSupportersRequest(organization_id=program.organization_id)
    )

    assert eligibility.eligibility.status == resources_pb2.ELIGIBILITY_STATUS_ELIGIBLE
    assert list(eligibility.eligibility.reasons) == []
    assert [s.person_id for s in listed.supporters] == [supporter.person_id]
    assert listed.next_page_token == ""
    assert (await service.outbox_types()).count(
        "peerbridge.identity.v1.SupporterEligibilityChanged"
    ) == 1


async def test_an_unqualified_supporter_hears_every_reason(service: Service) -> None:
    program = await a_program(service.stub)
    supporter = await a_person(
        service.stub, resources_pb2.ROLE_PEER_SUPPORTER, organization_id=program.organization_id
    )

    eligibility = (
        await service.stub.GetSupporterEligibility(
            service_pb2.GetSupporterEligibilityRequest(person_id=supporter.person_id)
        )
    ).eligibility

    assert eligibility.status == resources_pb2.ELIGIBILITY_STATUS_INELIGIBLE
    assert [r.code for r in eligibility.reasons] == [
        resources_pb2.ELIGIBILITY_REASON_CODE_CERTIFICATION_MISSING,
        resources_pb2.ELIGIBILITY_REASON_CODE_TRAINING_MISSING,
        resources_pb2.ELIGIBILITY_REASON_CODE_TRAINING_MISSING,
        resources_pb2.ELIGIBILITY_REASON_CODE_SUPERVISOR_MISSING,
    ]


async def test_listing_pages_through_every_eligible_supporter(service: Service) -> None:
    found = []
    for _ in range(4):
        _, _, supporter, _ = await qualified_supporter(service)
        found.append(supporter.person_id)
    listed: list[str] = []
    token = ""
    while True:
        page = await service.stub.ListEligibleSupporters(
            service_pb2.ListEligibleSupportersRequest(page_size=3, page_token=token)
        )
        listed += [s.person_id for s in page.supporters]
        token = page.next_page_token
        if not token:
            break

    assert listed == sorted(found, key=uuid.UUID)
    bad = await refused(
        service.stub.ListEligibleSupporters(
            service_pb2.ListEligibleSupportersRequest(page_token="not-a-token")
        )
    )
    assert bad.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_qualification_refusals_write_nothing(service: Service) -> None:
    program, supervisor, supporter, certification_id = await qualified_supporter(service)
    other_program = await a_program(service.stub)
    stranger = await a_person(
        service.stub, resources_pb2.ROLE_SUPERVISOR, organization_id=other_program.organization_id
    )
    member = await a_person(service.stub)
    today = service.clock.today()
    before = await service.counts()
    cases = [
        (
            service.stub.RecordTraining(
                service_pb2.RecordTrainingRequest(
                    person_id=member.person_id,
                    module=resources_pb2.TrainingModuleRef(program_defined="naloxone_use"),
                    completed_on=when(today),
                )
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        (
            service.stub.RecordTraining(
                service_pb2.RecordTrainingRequest(
                    person_id=supporter.person_id,
                    module=resources_pb2.TrainingModuleRef(standard=MODULES[0]),
                    completed_on=when(today + timedelta(days=1)),
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            service.stub.RecordCertification(
                service_pb2.RecordCertificationRequest(
                    person_id=str(uuid.uuid4()),
                    credential_type="PR",
                    issuing_body="Board",
                    credential_number="1",
                    valid_from=when(today),
                    valid_until=when(today),
                )
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            service.stub.VerifyCertification(
                service_pb2.VerifyCertificationRequest(
                    certification_id=certification_id,
                    decision=service_pb2.VERIFICATION_DECISION_VERIFIED,
                    verified_by=member.person_id,
                )
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        (
            service.stub.AssignSupervisor(
                service_pb2.AssignSupervisorRequest(
                    supporter_id=supporter.person_id, supervisor_id=stranger.person_id
                )
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        (
            service.stub.AssignSupervisor(
                service_pb2.AssignSupervisorRequest(
                    supporter_id=supporter.person_id, supervisor_id=supporter.person_id
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            service.stub.RevokeRole(
                service_pb2.RevokeRoleRequest(
                    person_id=supervisor.person_id, role=resources_pb2.ROLE_SUPERVISOR
                )
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
    ]

    for call, code in cases:
        assert (await refused(call)).code() is code

    assert await service.counts() == before
    assert program.organization_id


async def test_a_rejected_certification_revokes_eligibility(service: Service) -> None:
    _, supervisor, supporter, certification_id = await qualified_supporter(service)

    await service.stub.VerifyCertification(
        service_pb2.VerifyCertificationRequest(
            certification_id=certification_id,
            decision=service_pb2.VERIFICATION_DECISION_REJECTED,
            verified_by=supervisor.person_id,
        )
    )

    eligibility = (
        await service.stub.GetSupporterEligibility(
            service_pb2.GetSupporterEligibilityRequest(person_id=supporter.person_id)
        )
    ).eligibility
    assert eligibility.status == resources_pb2.ELIGIBILITY_STATUS_INELIGIBLE
    assert (await service.outbox_types()).count(
        "peerbridge.identity.v1.SupporterEligibilityChanged"
    ) == 2


# -- concurrency ------------------------------------------------------------------------


async def test_concurrent_retries_of_one_registration_make_one_person(service: Service) -> None:
    request = service_pb2.RegisterPersonRequest(
        request_id="req-race-1", roles=[resources_pb2.ROLE_MEMBER], profile=profile()
    )

    responses = await asyncio.gather(*(service.stub.RegisterPerson(request) for _ in range(6)))

    assert len({r.person.person_id for r in responses}) == 1
    counts = await service.counts()
    assert counts["persons"] == 1
    assert await service.outbox_types() == ["peerbridge.identity.v1.PersonRegistered"]
    assert [row["action"] for row in await service.audit_rows()] == ["person.register"]


async def test_concurrent_completions_announce_eligibility_once(service: Service) -> None:
    stub, today = service.stub, service.clock.today()
    program = await a_program(stub)
    supervisor = await a_person(
        stub, resources_pb2.ROLE_SUPERVISOR, organization_id=program.organization_id
    )
    supporter = await a_person(
        stub, resources_pb2.ROLE_PEER_SUPPORTER, organization_id=program.organization_id
    )
    certification = (
        await stub.RecordCertification(
            service_pb2.RecordCertificationRequest(
                person_id=supporter.person_id,
                credential_type="IC&RC Peer Recovery (PR)",
                issuing_body="Synthetic Certification Board",
                credential_number="PR-RACE-1",
                valid_from=when(today),
                valid_until=when(today + timedelta(days=400)),
            )
        )
    ).certification

    # Each call completes one requirement; whichever commits last makes the supporter eligible.
    await asyncio.gather(
        *(
            stub.RecordTraining(
                service_pb2.RecordTrainingRequest(
                    person_id=supporter.person_id,
                    module=resources_pb2.TrainingModuleRef(standard=module),
                    completed_on=when(today),
                )
            )
            for module in MODULES
        ),
        stub.VerifyCertification(
            service_pb2.VerifyCertificationRequest(
                certification_id=certification.certification_id,
                decision=service_pb2.VERIFICATION_DECISION_VERIFIED,
                verified_by=supervisor.person_id,
            )
        ),
        stub.AssignSupervisor(
            service_pb2.AssignSupervisorRequest(
                supporter_id=supporter.person_id, supervisor_id=supervisor.person_id
            )
        ),
    )

    assert (await service.outbox_types()).count(
        "peerbridge.identity.v1.SupporterEligibilityChanged"
    ) == 1
