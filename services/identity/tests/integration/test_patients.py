"""ResolvePatient over a real gRPC socket and PostgreSQL: link, enrol, concurrency, refusals.

Every patient, clinic and program here is synthetic.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
import pytest

from peerbridge.identity.v1 import identity_patients_pb2 as patients_pb2
from peerbridge.identity.v1 import identity_patients_pb2_grpc as patients_grpc
from peerbridge.identity.v1 import identity_resources_pb2 as resources_pb2
from peerbridge.identity.v1 import identity_service_pb2 as service_pb2
from peerbridge.identity.v1 import identity_service_pb2_grpc as service_grpc
from peerbridge_identity.adapters.audit_trail import SERVICE
from peerbridge_identity.bootstrap import bootstrap, postgres_units_of_work
from peerbridge_identity.entrypoints.grpc_patients import patients_registration
from peerbridge_identity.entrypoints.grpc_server import (
    identity_interceptors,
    identity_registration,
)
from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import Role
from peerbridge_platform.auth.scopes import PATIENTS_LINK, REFERRALS_WRITE
from peerbridge_platform.grpc import create_channel, field_violations, start_server

from .conftest import CALL_TIMEOUT_S, Tokens
from .conftest import test_verifier as verifier_of_test_tokens

pytestmark = pytest.mark.integration

MRN = "urn:oid:2.16.840.1.113883.3.9999.1"
LINKED = patients_pb2.PATIENT_RESOLUTION_LINKED
ENROLLED = patients_pb2.PATIENT_RESOLUTION_ENROLLED


@dataclass
class Platform:
    identity: Any  # IdentityServiceStub
    patients: Any  # PatientLinkServiceStub
    pool: asyncpg.Pool
    tokens: Tokens
    clinic: str
    other_clinic: str
    program: str

    def ehr(self, organization: str, scopes: tuple[str, ...] = (PATIENTS_LINK,)) -> Any:
        client_id = str(uuid.uuid4())
        token = self.tokens.mint(
            client_id,
            [Role.PARTNER_CLIENT],
            scopes=list(scopes),
            organization_id=organization,
            client_id=client_id,
        )
        return Tokens.bearer(token)

    async def counts(self) -> tuple[int, ...]:
        queries = (
            "SELECT count(*) FROM persons",
            "SELECT count(*) FROM patient_identifiers",
            "SELECT count(*) FROM patient_identifier_systems",
            "SELECT count(*) FROM outbox WHERE topic <> 'peerbridge.audit.v1'",
        )
        return tuple([await self.pool.fetchval(q) for q in queries])


async def _organization(stub: Any, kind: int, name: str, metadata: Any) -> str:
    response = await stub.RegisterOrganization(
        service_pb2.RegisterOrganizationRequest(request_id=str(uuid.uuid4()), kind=kind, name=name),
        metadata=metadata,
    )
    return str(response.organization.organization_id)


@pytest.fixture
async def platform(pool: asyncpg.Pool, clock: Any) -> AsyncIterator[Platform]:
    application = bootstrap(postgres_units_of_work(pool), clock=clock)
    server = await start_server(
        "127.0.0.1:0",
        [identity_registration(application), patients_registration(application)],
        interceptors=identity_interceptors(verifier_of_test_tokens(), Auditor(SERVICE, pool=pool)),
    )
    channel = create_channel(server.address, default_timeout_s=CALL_TIMEOUT_S)
    try:
        await server.set_serving()
        tokens = Tokens()
        admin = Tokens.bearer(tokens.admin)
        identity = service_grpc.IdentityServiceStub(channel)
        clinic_kind = resources_pb2.ORGANIZATION_KIND_CLINIC
        yield Platform(
            identity,
            patients_grpc.PatientLinkServiceStub(channel),
            pool,
            tokens,
            await _organization(identity, clinic_kind, "Northside Clinic (test)", admin),
            await _organization(identity, clinic_kind, "Elsewhere Clinic (test)", admin),
            await _organization(
                identity,
                resources_pb2.ORGANIZATION_KIND_PEER_SUPPORT_PROGRAM,
                "Harbour Peer Recovery (test)",
                admin,
            ),
        )
    finally:
        await channel.close()
        await server.stop(grace=1.0)


def a_patient(platform: Platform, value: str = "MRN-0001", **changes: Any) -> Any:
    fields: dict[str, Any] = {
        "identifier": patients_pb2.PatientIdentifier(system=MRN, value=value),
        "demographics": patients_pb2.PatientDemographics(
            given_name="Robin",
            birth_date=resources_pb2.Date(year=1988, month=7, day=14),
            language="en",
        ),
        "program_id": platform.program,
    }
    return patients_pb2.ResolvePatientRequest(**(fields | changes))


async def test_an_unknown_patient_is_enrolled_then_linked(platform: Platform) -> None:
    ehr = platform.ehr(platform.clinic)

    enrolled = await platform.patients.ResolvePatient(a_patient(platform), metadata=ehr)
    again = await platform.patients.ResolvePatient(a_patient(platform), metadata=ehr)

    assert enrolled.resolution == ENROLLED
    assert (again.member_id, again.resolution) == (enrolled.member_id, LINKED)
    person = await platform.identity.GetPerson(
        service_pb2.GetPersonRequest(person_id=enrolled.member_id),
        metadata=Tokens.bearer(platform.tokens.admin),
    )
    assert list(person.person.roles) == [resources_pb2.ROLE_MEMBER]
    assert person.person.organization_id == platform.program
    assert person.person.profile.display_name == "Robin"
    assert person.person.profile.age_band == resources_pb2.AGE_BAND_35_TO_44
    # The same event as any registration, once; no birth date or identifier is stored on it.
    events = await platform.pool.fetch(
        "SELECT convert_from(header_values[array_position(header_names, 'ce_type')], 'UTF8') "
        "AS type FROM outbox WHERE topic <> 'peerbridge.audit.v1'"
    )
    assert [e["type"] for e in events].count("peerbridge.identity.v1.PersonRegistered") == 1
    audited = await platform.pool.fetch(
        "SELECT subject_id, outcome FROM audit_log WHERE action = 'patient.resolve'"
    )
    assert [str(row["subject_id"]) for row in audited] == [enrolled.member_id] * 2


async def test_concurrent_requests_for_one_patient_make_one_member(platform: Platform) -> None:
    ehr = platform.ehr(platform.clinic)
    await platform.patients.ResolvePatient(a_patient(platform, "MRN-WARMUP"), metadata=ehr)
    persons_before = (await platform.counts())[0]

    answers = await asyncio.gather(
        *(
            platform.patients.ResolvePatient(a_patient(platform, "MRN-RACE"), metadata=ehr)
            for _ in range(8)
        )
    )

    assert len({a.member_id for a in answers}) == 1
    assert [a.resolution for a in answers].count(ENROLLED) == 1
    persons, links, _, _ = await platform.counts()
    assert (persons, links) == (persons_before + 1, 2)


async def test_another_clinic_is_refused_and_nothing_changes(platform: Platform) -> None:
    await platform.patients.ResolvePatient(
        a_patient(platform), metadata=platform.ehr(platform.clinic)
    )
    before = await platform.counts()
    other = platform.ehr(platform.other_clinic)

    for value in ("MRN-0001", "MRN-NEW"):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await platform.patients.ResolvePatient(a_patient(platform, value), metadata=other)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED

    assert await platform.counts() == before
    denied = await platform.pool.fetch(
        "SELECT reason FROM audit_log WHERE action = 'patient.resolve' AND outcome = 'denied'"
    )
    assert [row["reason"] for row in denied] == [
        "the identifier system belongs to another organization"
    ] * 2


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("without patients.link", grpc.StatusCode.PERMISSION_DENIED),
        ("a program's client", grpc.StatusCode.PERMISSION_DENIED),
        ("no token", grpc.StatusCode.UNAUTHENTICATED),
    ],
)
async def test_callers_who_may_not_resolve(
    platform: Platform, who: str, code: grpc.StatusCode
) -> None:
    metadata = {
        "without patients.link": platform.ehr(platform.clinic, (REFERRALS_WRITE,)),
        "a program's client": platform.ehr(platform.program),
        "no token": (),
    }[who]
    before = await platform.counts()

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await platform.patients.ResolvePatient(a_patient(platform), metadata=metadata)

    assert refused.value.code() == code
    assert await platform.counts() == before


async def test_bad_input_names_each_field_and_changes_nothing(platform: Platform) -> None:
    before = await platform.counts()
    request = a_patient(
        platform,
        identifier=patients_pb2.PatientIdentifier(system="urn:peerbridge:member", value=""),
        program_id="",
    )
    request.demographics.birth_date.year = 2020

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await platform.patients.ResolvePatient(request, metadata=platform.ehr(platform.clinic))

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in field_violations(refused.value)} == {
        "identifier.system",
        "identifier.value",
        "demographics.birth_date",
    }
    no_program = a_patient(platform, program_id="")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await platform.patients.ResolvePatient(no_program, metadata=platform.ehr(platform.clinic))
    assert [v.field for v in field_violations(refused.value)] == ["program_id"]
    assert await platform.counts() == before
