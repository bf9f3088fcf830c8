"""Who sees and changes what, over a real socket on real PostgreSQL: tokens minted for
people registered through the API, each role's view one at a time.

Every refusal changes nothing (no row, no event; only the audit trail grows) and,
once a caller is known, leaves a `denied` audit record naming them; every allowed
read leaves an `allowed` one with its purpose of use.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from google.protobuf.field_mask_pb2 import FieldMask

from peerbridge.identity.v1 import identity_resources_pb2 as resources_pb2
from peerbridge.identity.v1 import identity_service_pb2 as service_pb2
from peerbridge_platform.auth import Role, SigningKey
from peerbridge_platform.auth import scopes as sc
from peerbridge_platform.grpc import field_violations
from peerbridge_platform.kafka.topics import AUDIT_TOPIC

pytestmark = pytest.mark.integration

Service = Any  # RunningService from conftest
Metadata = tuple[tuple[str, str], ...]
Call = Callable[[], Awaitable[Any]]

PROTO_ROLES = {
    Role.MEMBER: resources_pb2.ROLE_MEMBER,
    Role.CLINICIAN: resources_pb2.ROLE_CLINICIAN,
    Role.PEER_SUPPORTER: resources_pb2.ROLE_PEER_SUPPORTER,
    Role.COORDINATOR: resources_pb2.ROLE_COORDINATOR,
    Role.SUPERVISOR: resources_pb2.ROLE_SUPERVISOR,
    Role.ADMIN: resources_pb2.ROLE_ADMIN,
}


class Someone:
    """A person registered through the API with the administrator's token, and their token."""

    def __init__(self, service: Service, person: resources_pb2.Person, role: Role) -> None:
        self.id = person.person_id
        self.organization_id = person.organization_id
        self._service, self._role = service, role

    def token(self, **claims: Any) -> Metadata:
        """Their access token (every scope their role allows unless `scopes=` says otherwise)."""
        minted = self._service.tokens.mint(
            self.id, [self._role], organization_id=self.organization_id or None, **claims
        )
        metadata: Metadata = self._service.tokens.bearer(minted)
        return metadata


async def a_program(service: Service) -> str:
    return await an_organization(service, resources_pb2.ORGANIZATION_KIND_PEER_SUPPORT_PROGRAM)


async def a_clinic(service: Service) -> str:
    return await an_organization(service, resources_pb2.ORGANIZATION_KIND_CLINIC)


async def an_organization(service: Service, kind: resources_pb2.OrganizationKind.ValueType) -> str:
    program = kind == resources_pb2.ORGANIZATION_KIND_PEER_SUPPORT_PROGRAM
    response = await service.stub.RegisterOrganization(
        service_pb2.RegisterOrganizationRequest(
            kind=kind,
            name="Harbour Peer Recovery (test)" if program else "Northside Clinic (test)",
            program_settings=resources_pb2.ProgramSettings() if program else None,
        )
    )
    organization_id: str = response.organization.organization_id
    return organization_id


def registration(role: Role, organization_id: str = "") -> service_pb2.RegisterPersonRequest:
    return service_pb2.RegisterPersonRequest(
        request_id=str(uuid.uuid4()),
        roles=[PROTO_ROLES[role]],
        organization_id=organization_id,
        profile=resources_pb2.Profile(
            display_name="Alex (test)",
            contact_preference=resources_pb2.CONTACT_PREFERENCE_IN_APP,
            language="en-GB",
            time_zone="Europe/London",
        ),
    )


async def someone(service: Service, role: Role, organization_id: str = "") -> Someone:
    response = await service.stub.RegisterPerson(registration(role, organization_id))
    return Someone(service, response.person, role)


async def supervise(service: Service, supporter: Someone, supervisor: Someone) -> None:
    await service.stub.AssignSupervisor(
        service_pb2.AssignSupervisorRequest(supporter_id=supporter.id, supervisor_id=supervisor.id)
    )


async def state(service: Service) -> dict[str, int]:
    """Rows per table, the outbox counted without the audit events a refusal adds."""
    counts: dict[str, int] = await service.counts()
    counts["outbox"] = await service.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE topic <> $1", AUDIT_TOPIC
    )
    return counts


async def changes_nothing(service: Service, call: Call) -> tuple[grpc.aio.AioRpcError, list[Any]]:
    """The call's error, and the audit rows it left; fails if anything else changed."""
    before, audited = await state(service), len(await service.audit_rows())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call()
    assert await state(service) == before
    return caught.value, (await service.audit_rows())[audited:]


async def denied(
    service: Service, call: Call, code: grpc.StatusCode, action: str, actor: str
) -> asyncpg.Record:
    """A refusal with `code` that changed nothing; its one `denied` audit record."""
    error, rows = await changes_nothing(service, call)
    assert error.code() is code
    assert [(r["outcome"], r["action"], r["actor_subject_id"]) for r in rows] == [
        ("denied", action, actor)
    ]
    record: asyncpg.Record = rows[0]
    return record


async def allowed(service: Service, call: Call, action: str, actor: str) -> tuple[Any, Any]:
    """A call that succeeded; its answer and its last `allowed` audit record."""
    audited = len(await service.audit_rows())
    answer = await call()
    rows = (await service.audit_rows())[audited:]
    assert [(r["outcome"], r["action"], r["actor_subject_id"]) for r in rows][-1:] == [
        ("allowed", action, actor)
    ]
    return answer, rows[-1]


def get_person(service: Service, person_id: str, token: Metadata) -> Call:
    return lambda: service.stub.GetPerson(
        service_pb2.GetPersonRequest(person_id=person_id), metadata=token
    )


def eligibility_of(service: Service, person_id: str, token: Metadata) -> Call:
    return lambda: service.stub.GetSupporterEligibility(
        service_pb2.GetSupporterEligibilityRequest(person_id=person_id), metadata=token
    )


def grant(
    service: Service,
    person_id: str,
    role: resources_pb2.Role.ValueType,
    token: Metadata,
    **extra: str,
) -> Call:
    return lambda: service.stub.GrantRole(
        service_pb2.GrantRoleRequest(person_id=person_id, role=role, **extra), metadata=token
    )


# -- members --------------------------------------------------------------------------------


async def test_a_member_reads_themselves(service: Service) -> None:
    member = await someone(service, Role.MEMBER)

    answer, record = await allowed(
        service, get_person(service, member.id, member.token()), "person.read", member.id
    )

    assert answer.person.person_id == member.id
    assert record["subject_id"] == member.id
    assert record["purpose_of_use"] == "PATRQT"
    assert list(record["actor_roles"]) == ["member"]


async def test_another_members_id_answers_exactly_like_a_random_one(service: Service) -> None:
    member, other = await someone(service, Role.MEMBER), await someone(service, Role.MEMBER)
    nobody = str(uuid.uuid4())

    record = await denied(
        service,
        get_person(service, other.id, member.token()),
        grpc.StatusCode.NOT_FOUND,
        "person.read",
        member.id,
    )
    hidden, _ = await changes_nothing(service, get_person(service, other.id, member.token()))
    absent, rows = await changes_nothing(service, get_person(service, nobody, member.token()))

    assert absent.code() is hidden.code() is grpc.StatusCode.NOT_FOUND
    assert absent.details().replace(nobody, "<id>") == hidden.details().replace(other.id, "<id>")
    assert (record["subject_id"], record["reason"]) == (other.id, "not visible to the caller")
    # Nobody's data was asked for: nothing to audit.
    assert rows == []


# -- coordinators ----------------------------------------------------------------------------


async def test_a_coordinator_sees_and_registers_people_of_their_program(service: Service) -> None:
    program = await a_program(service)
    coordinator = await someone(service, Role.COORDINATOR, program)
    member = await someone(service, Role.MEMBER, program)

    _, read = await allowed(
        service, get_person(service, member.id, coordinator.token()), "person.read", coordinator.id
    )
    registered, register = await allowed(
        service,
        lambda: service.stub.RegisterPerson(
            registration(Role.PEER_SUPPORTER, program), metadata=coordinator.token()
        ),
        "person.register",
        coordinator.id,
    )

    assert read["purpose_of_use"] == "COC"
    assert registered.person.organization_id == program
    assert register["subject_id"] == registered.person.person_id


async def test_a_coordinator_does_not_see_another_program(service: Service) -> None:
    program, elsewhere = await a_program(service), await a_program(service)
    coordinator = await someone(service, Role.COORDINATOR, program)
    stranger = await someone(service, Role.MEMBER, elsewhere)

    await denied(
        service,
        get_person(service, stranger.id, coordinator.token()),
        grpc.StatusCode.NOT_FOUND,
        "person.read",
        coordinator.id,
    )
    record = await denied(
        service,
        lambda: service.stub.RegisterPerson(
            registration(Role.MEMBER, elsewhere), metadata=coordinator.token()
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "person.register",
        coordinator.id,
    )
    assert record["reason"] == "coordinators register into their own program only"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.COORDINATOR, Role.SUPERVISOR])
async def test_a_coordinator_registers_no_staff(service: Service, role: Role) -> None:
    program = await a_program(service)
    coordinator = await someone(service, Role.COORDINATOR, program)
    # An administrator belongs to no program.
    organization_id = "" if role is Role.ADMIN else program

    record = await denied(
        service,
        lambda: service.stub.RegisterPerson(
            registration(role, organization_id), metadata=coordinator.token()
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "person.register",
        coordinator.id,
    )
    assert record["reason"] == "coordinators register members and peer supporters only"


# -- supervisors -----------------------------------------------------------------------------


async def test_a_supervisor_reads_the_eligibility_of_their_supporter_only(
    service: Service,
) -> None:
    program = await a_program(service)
    supervisor = await someone(service, Role.SUPERVISOR, program)
    colleague = await someone(service, Role.SUPERVISOR, program)
    theirs = await someone(service, Role.PEER_SUPPORTER, program)
    not_theirs = await someone(service, Role.PEER_SUPPORTER, program)
    await supervise(service, theirs, supervisor)
    await supervise(service, not_theirs, colleague)

    answer, read = await allowed(
        service,
        eligibility_of(service, theirs.id, supervisor.token()),
        "eligibility.read",
        supervisor.id,
    )
    record = await denied(
        service,
        eligibility_of(service, not_theirs.id, supervisor.token()),
        grpc.StatusCode.NOT_FOUND,
        "eligibility.read",
        supervisor.id,
    )

    assert answer.eligibility.person_id == theirs.id
    assert (read["subject_id"], read["purpose_of_use"]) == (theirs.id, "HOPERAT")
    assert record["subject_id"] == not_theirs.id


# -- clinicians, supporters, partner clients ----------------------------------------------------


async def test_a_clinician_sees_clinic_colleagues_only(service: Service) -> None:
    clinic, other_clinic = await a_clinic(service), await a_clinic(service)
    clinician = await someone(service, Role.CLINICIAN, clinic)
    colleague = await someone(service, Role.CLINICIAN, clinic)
    elsewhere = await someone(service, Role.CLINICIAN, other_clinic)
    member = await someone(service, Role.MEMBER)

    _, read = await allowed(
        service, get_person(service, colleague.id, clinician.token()), "person.read", clinician.id
    )
    for hidden in (elsewhere, member):
        await denied(
            service,
            get_person(service, hidden.id, clinician.token()),
            grpc.StatusCode.NOT_FOUND,
            "person.read",
            clinician.id,
        )

    assert (read["subject_id"], read["purpose_of_use"]) == (colleague.id, "COC")


async def test_a_supporter_records_their_certification_but_may_not_verify_it(
    service: Service,
) -> None:
    program = await a_program(service)
    supporter = await someone(service, Role.PEER_SUPPORTER, program)

    recorded, record = await allowed(
        service,
        lambda: service.stub.RecordCertification(
            service_pb2.RecordCertificationRequest(
                person_id=supporter.id,
                credential_type="IC&RC Peer Recovery (PR)",
                issuing_body="Synthetic Certification Board",
                credential_number="PR-ACCESS-2",
                valid_from=resources_pb2.Date(year=2026, month=1, day=5),
                valid_until=resources_pb2.Date(year=2027, month=1, day=4),
            ),
            metadata=supporter.token(),
        ),
        "certification.record",
        supporter.id,
    )
    certification_id = recorded.certification.certification_id
    refusal = await denied(
        service,
        lambda: service.stub.VerifyCertification(
            service_pb2.VerifyCertificationRequest(
                certification_id=certification_id,
                decision=service_pb2.VERIFICATION_DECISION_VERIFIED,
                verified_by=supporter.id,
            ),
            metadata=supporter.token(),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "certification.verify",
        supporter.id,
    )

    assert record["purpose_of_use"] == "PATRQT"
    assert refusal["reason"] == "may not verify their own certification"
    assert (refusal["resource_id"], refusal["subject_id"]) == (certification_id, supporter.id)
    status = await service.pool.fetchval(
        "SELECT verification_status FROM certifications WHERE certification_id = $1",
        uuid.UUID(certification_id),
    )
    assert status == "pending"


async def test_a_partner_client_reads_eligibility_in_its_own_program_only(
    service: Service,
) -> None:
    program, elsewhere = await a_program(service), await a_program(service)
    ours = await someone(service, Role.PEER_SUPPORTER, program)
    theirs = await someone(service, Role.PEER_SUPPORTER, elsewhere)
    client_id = (
        await service.stub.RegisterClient(
            service_pb2.RegisterClientRequest(
                organization_id=program,
                kind=resources_pb2.CLIENT_KIND_APP,
                display_name="Program app (test)",
                scopes=[sc.QUALIFICATIONS_READ],
            )
        )
    ).client.client_id
    token = service.tokens.bearer(
        service.tokens.mint(
            client_id,
            [Role.PARTNER_CLIENT],
            scopes=[sc.QUALIFICATIONS_READ],
            organization_id=program,
            client_id=client_id,
        )
    )

    _, read = await allowed(
        service, eligibility_of(service, ours.id, token), "eligibility.read", client_id
    )
    await denied(
        service,
        eligibility_of(service, theirs.id, token),
        grpc.StatusCode.NOT_FOUND,
        "eligibility.read",
        client_id,
    )

    assert (read["actor_client_id"], read["actor_organization_id"]) == (client_id, program)
    assert read["purpose_of_use"] == "HOPERAT"


# -- privilege escalation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("whom", "reason"),
    [
        pytest.param("themselves", "may not change their own roles", id="themselves"),
        pytest.param("another member", "token lacks scope admin", id="another member"),
    ],
)
async def test_a_member_may_not_grant_admin(service: Service, whom: str, reason: str) -> None:
    member, other = await someone(service, Role.MEMBER), await someone(service, Role.MEMBER)
    target = member if whom == "themselves" else other

    record = await denied(
        service,
        grant(service, target.id, resources_pb2.ROLE_ADMIN, member.token()),
        grpc.StatusCode.PERMISSION_DENIED,
        "person.grant_role",
        member.id,
    )

    assert record["reason"] == reason
    fetched = await service.stub.GetPerson(service_pb2.GetPersonRequest(person_id=target.id))
    assert list(fetched.person.roles) == [resources_pb2.ROLE_MEMBER]


async def test_an_admin_may_not_change_their_own_roles(service: Service) -> None:
    program = await a_program(service)
    admin = await someone(service, Role.ADMIN)
    every_scope = admin.token(scopes=sc.ALL_SCOPES)

    await denied(
        service,
        lambda: service.stub.RevokeRole(
            service_pb2.RevokeRoleRequest(person_id=admin.id, role=resources_pb2.ROLE_ADMIN),
            metadata=every_scope,
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "person.revoke_role",
        admin.id,
    )
    await denied(
        service,
        grant(
            service,
            admin.id,
            resources_pb2.ROLE_COORDINATOR,
            every_scope,
            organization_id=program,
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "person.grant_role",
        admin.id,
    )
    # The same administrator may change someone else's.
    member = await someone(service, Role.MEMBER)
    await allowed(
        service,
        grant(
            service,
            member.id,
            resources_pb2.ROLE_PEER_SUPPORTER,
            admin.token(),
            organization_id=program,
        ),
        "person.grant_role",
        admin.id,
    )


@pytest.mark.parametrize(
    "paths", [["roles"], ["organization_id"], ["display_name", "roles", "organization_id"]]
)
async def test_mass_assignment_through_the_profile_is_invalid(
    service: Service, paths: list[str]
) -> None:
    member = await someone(service, Role.MEMBER)

    error, rows = await changes_nothing(
        service,
        lambda: service.stub.UpdateProfile(
            service_pb2.UpdateProfileRequest(
                person_id=member.id,
                profile=resources_pb2.Profile(display_name="Admin"),
                update_mask=FieldMask(paths=paths),
            ),
            metadata=member.token(),
        ),
    )

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in field_violations(error)} == {"update_mask"}
    # Refused as malformed before any rule ran or anything was read, yet on record.
    assert [(r["outcome"], r["action"], r["actor_subject_id"], r["reason"]) for r in rows] == [
        ("denied", "rpc.update_profile", member.id, "invalid input: update_mask")
    ]
    fetched = await service.stub.GetPerson(service_pb2.GetPersonRequest(person_id=member.id))
    assert list(fetched.person.roles) == [resources_pb2.ROLE_MEMBER]
    assert fetched.person.organization_id == ""


# -- scopes and tokens -------------------------------------------------------------------------


async def test_a_token_without_the_needed_scope_is_refused(service: Service) -> None:
    member = await someone(service, Role.MEMBER)
    admin = await someone(service, Role.ADMIN)

    profile = await denied(
        service,
        lambda: service.stub.UpdateProfile(
            service_pb2.UpdateProfileRequest(
                person_id=member.id,
                profile=resources_pb2.Profile(display_name="Sky (test)"),
                update_mask=FieldMask(paths=["display_name"]),
            ),
            metadata=member.token(scopes=[sc.PEOPLE_READ]),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "person.update_profile",
        member.id,
    )
    organization = await denied(
        service,
        lambda: service.stub.RegisterOrganization(
            service_pb2.RegisterOrganizationRequest(
                kind=resources_pb2.ORGANIZATION_KIND_CLINIC, name="Clinic (test)"
            ),
            metadata=admin.token(scopes=[sc.PEOPLE_READ, sc.PEOPLE_WRITE]),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "organization.register",
        admin.id,
    )

    assert profile["reason"] == "token lacks scope people.write"
    assert organization["reason"] == "token lacks scope admin"


def expired(service: Service) -> Metadata:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    metadata: Metadata = service.tokens.bearer(
        service.tokens.mint(service.tokens.admin_subject, [Role.ADMIN], now=an_hour_ago)
    )
    return metadata


def signed_by(key: SigningKey) -> Callable[[Service], Metadata]:
    def token(service: Service) -> Metadata:
        forged = type(service.tokens)(key)
        metadata: Metadata = forged.bearer(forged.admin)
        return metadata

    return token


def impostor_of_the_service_key(service: Service) -> Metadata:
    """Another key that claims the service key's kid."""
    key = SigningKey(ed25519.Ed25519PrivateKey.generate(), kid=service.tokens.key.kid)
    return signed_by(key)(service)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(None, id="no token"),
        pytest.param(expired, id="expired"),
        pytest.param(signed_by(SigningKey.generate()), id="signed by an unknown key"),
        pytest.param(impostor_of_the_service_key, id="signed by another key with the known kid"),
    ],
)
async def test_calls_without_a_valid_token_are_unauthenticated(
    service: Service, token: Callable[[Service], Metadata] | None
) -> None:
    member = await someone(service, Role.MEMBER)
    metadata = token(service) if token else ()

    # An attempt to make someone an administrator: nothing happens, and nobody is named.
    error, rows = await changes_nothing(
        service,
        grant(service, member.id, resources_pb2.ROLE_ADMIN, metadata)
        if token
        else lambda: service.bare_stub.GrantRole(
            service_pb2.GrantRoleRequest(person_id=member.id, role=resources_pb2.ROLE_ADMIN)
        ),
    )

    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert rows == []


# -- idempotent retries ---------------------------------------------------------------------


async def test_replaying_someone_elses_request_id_answers_as_if_absent(service: Service) -> None:
    program, elsewhere = await a_program(service), await a_program(service)
    supporter = await someone(service, Role.PEER_SUPPORTER, program)
    stranger = await someone(service, Role.COORDINATOR, elsewhere)
    request = service_pb2.RecordCertificationRequest(
        request_id="cert-1",
        person_id=supporter.id,
        credential_type="IC&RC Peer Recovery (PR)",
        issuing_body="Synthetic Certification Board",
        credential_number="PR-ACCESS-1",
        valid_from=resources_pb2.Date(year=2026, month=1, day=5),
        valid_until=resources_pb2.Date(year=2027, month=1, day=4),
    )
    await service.stub.RecordCertification(request, metadata=supporter.token())

    await denied(
        service,
        lambda: service.stub.RecordCertification(request, metadata=stranger.token()),
        grpc.StatusCode.NOT_FOUND,
        "certification.record",
        stranger.id,
    )


@pytest.mark.parametrize("rpc", ["UpdateProfile", "GrantRole"])
async def test_a_change_that_changes_nothing_is_still_audited(service: Service, rpc: str) -> None:
    program = await a_program(service)
    coordinator = await someone(service, Role.COORDINATOR, program)
    admin = await someone(service, Role.ADMIN)
    member = await someone(service, Role.MEMBER, program)
    calls: dict[str, tuple[Call, str, str]] = {
        # The display name it already has.
        "UpdateProfile": (
            lambda: service.stub.UpdateProfile(
                service_pb2.UpdateProfileRequest(
                    person_id=member.id,
                    profile=resources_pb2.Profile(display_name="Alex (test)"),
                    update_mask=FieldMask(paths=["display_name"]),
                ),
                metadata=coordinator.token(),
            ),
            "person.update_profile",
            coordinator.id,
        ),
        # A role the member already holds.
        "GrantRole": (
            grant(service, member.id, resources_pb2.ROLE_MEMBER, admin.token()),
            "person.grant_role",
            admin.id,
        ),
    }
    call, action, actor = calls[rpc]

    answer, record = await allowed(service, call, action, actor)

    assert answer.person.person_id == record["subject_id"] == member.id
