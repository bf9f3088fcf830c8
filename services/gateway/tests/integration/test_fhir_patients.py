"""A clinic's EHR sends a ServiceRequest about its patient (a contained Patient with the
clinic's medical record number) through the real gateway: the real identity PatientLinkService
on its own database links or enrols the member, and the real referrals service creates the
referral.

Identity here serves the token issuer's JWKS and PatientLinkService on one gRPC socket, as
the identity process does. Every patient, clinic and program is synthetic.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from peerbridge.identity.v1 import identity_tokens_pb2_grpc as tokens_grpc
from peerbridge_identity.adapters.audit_trail import SERVICE as IDENTITY_SERVICE
from peerbridge_identity.adapters.schema import all_migrations, migrate
from peerbridge_identity.bootstrap import bootstrap, postgres_units_of_work
from peerbridge_identity.entrypoints.grpc_patients import patients_registration
from peerbridge_identity.entrypoints.grpc_server import identity_interceptors
from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import Role, StaticJwksSource, TokenVerifier
from peerbridge_platform.auth.scopes import PATIENTS_LINK, REFERRALS_READ, REFERRALS_WRITE
from peerbridge_platform.grpc import ServiceRegistration, start_server

from ..conftest import FHIR_JSON, ORDER, PROBLEM
from .conftest import (
    TOKEN_SERVICE,
    ReferralsService,
    TokenIssuer,
    _JwksOnly,
    fresh_database,
    gateway_settings,
    serve_gateway,
)

pytestmark = pytest.mark.integration

MRN = "urn:oid:2.16.840.1.113883.3.9999.7"


@dataclass
class Identity:
    target: str
    pool: asyncpg.Pool
    clinic: str
    other_clinic: str
    program: str

    async def count(self, table: str) -> int:
        value: int = await self.pool.fetchval(f"SELECT count(*) FROM {table}")
        return value


async def _organization(pool: asyncpg.Pool, kind: str) -> str:
    organization_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO organizations (organization_id, kind, name, create_time) "
        "VALUES ($1, $2, $3, $4)",
        organization_id,
        kind,
        f"{kind} (test)",
        datetime.now(UTC),
    )
    return str(organization_id)


@pytest.fixture(scope="module")
async def identity(postgres_admin_url: str, token_issuer: TokenIssuer) -> AsyncIterator[Identity]:
    async with fresh_database(postgres_admin_url) as database_url:
        await migrate(database_url, all_migrations())
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
        application = bootstrap(postgres_units_of_work(pool))
        jwks = _JwksOnly(token_issuer.key_set)
        verifier = TokenVerifier(
            token_issuer.issuer,
            token_issuer.audience,
            StaticJwksSource.from_key_set(token_issuer.key_set),
        )
        server = await start_server(
            "127.0.0.1:0",
            [
                ServiceRegistration(
                    TOKEN_SERVICE,
                    lambda grpc_server: tokens_grpc.add_TokenServiceServicer_to_server(
                        jwks, grpc_server
                    ),
                ),
                patients_registration(application),
            ],
            interceptors=identity_interceptors(verifier, Auditor(IDENTITY_SERVICE, pool=pool)),
        )
        try:
            await server.set_serving()
            yield Identity(
                server.address,
                pool,
                await _organization(pool, "clinic"),
                await _organization(pool, "clinic"),
                await _organization(pool, "peer_support_program"),
            )
        finally:
            await server.stop(None)
            await pool.close()


@pytest.fixture(scope="module")
async def gateway_url(
    postgres_admin_url: str,
    referrals_service: ReferralsService,
    token_issuer: TokenIssuer,
    encryption_keys: str,
    identity: Identity,
) -> AsyncIterator[str]:
    async with fresh_database(postgres_admin_url) as database_url:
        settings = gateway_settings(
            database_url,
            encryption_keys,
            referrals_service,
            token_issuer,
            identity_target=identity.target,
        )
        async with serve_gateway(settings) as url:
            yield url


@pytest.fixture
async def http(gateway_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        yield client


def ehr(
    issuer: TokenIssuer, organization: str, scopes: tuple[str, ...] = (PATIENTS_LINK,)
) -> dict[str, str]:
    client_id = str(uuid.uuid4())
    return issuer.bearer(
        subject=client_id,
        client_id=client_id,
        roles=[Role.PARTNER_CLIENT],
        organization_id=organization,
        scopes=[REFERRALS_READ, REFERRALS_WRITE, *scopes],
    )


def an_order(identity: Identity, clinic: str, mrn: str) -> bytes:
    body: dict[str, Any] = copy.deepcopy(ORDER) | {
        "identifier": [{"system": "urn:test:orders", "value": uuid.uuid4().hex}],
        "contained": [
            {
                "resourceType": "Patient",
                "id": "p1",
                "identifier": [{"system": MRN, "value": mrn}],
                "name": [{"family": "Synthetic", "given": ["Robin"]}],
                "birthDate": "1985-02-03",
            }
        ],
        "subject": {"reference": "#p1"},
    }
    body["requester"]["identifier"]["value"] = clinic
    body["performer"][0]["identifier"]["value"] = identity.program
    return json.dumps(body).encode()


async def test_an_unknown_patient_is_enrolled_then_linked_on_the_next_order(
    http: httpx.AsyncClient, identity: Identity, token_issuer: TokenIssuer
) -> None:
    headers = FHIR_JSON | ehr(token_issuer, identity.clinic)
    mrn = f"MRN-{uuid.uuid4().hex[:8]}"

    first = await http.post(
        "/v1/fhir/ServiceRequest", content=an_order(identity, identity.clinic, mrn), headers=headers
    )
    second = await http.post(
        "/v1/fhir/ServiceRequest", content=an_order(identity, identity.clinic, mrn), headers=headers
    )

    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert first.json()["patient_resolution"] == "enrolled"
    assert second.json()["patient_resolution"] == "linked"
    member = first.json()["subject_member_id"]
    assert second.json()["subject_member_id"] == member
    assert second.json()["referral_id"] != first.json()["referral_id"]
    person = await identity.pool.fetchrow(
        "SELECT roles, organization_id, display_name, age_band FROM persons WHERE person_id = $1",
        uuid.UUID(member),
    )
    assert person is not None
    assert (list(person["roles"]), str(person["organization_id"])) == (["member"], identity.program)
    assert (person["display_name"], person["age_band"]) == ("Robin", "35_to_44")


async def test_another_clinic_cannot_use_the_first_clinics_identifiers(
    http: httpx.AsyncClient, identity: Identity, token_issuer: TokenIssuer
) -> None:
    mrn = f"MRN-{uuid.uuid4().hex[:8]}"
    await http.post(
        "/v1/fhir/ServiceRequest",
        content=an_order(identity, identity.clinic, mrn),
        headers=FHIR_JSON | ehr(token_issuer, identity.clinic),
    )
    people = await identity.count("persons")

    refused = await http.post(
        "/v1/fhir/ServiceRequest",
        content=an_order(identity, identity.other_clinic, mrn),
        headers=FHIR_JSON | ehr(token_issuer, identity.other_clinic),
    )

    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert "another organization" in refused.json()["detail"]
    assert await identity.count("persons") == people


async def test_without_patients_link_a_patient_cannot_be_enrolled(
    http: httpx.AsyncClient, identity: Identity, token_issuer: TokenIssuer
) -> None:
    people = await identity.count("persons")

    refused = await http.post(
        "/v1/fhir/ServiceRequest",
        content=an_order(identity, identity.clinic, f"MRN-{uuid.uuid4().hex[:8]}"),
        headers=FHIR_JSON | ehr(token_issuer, identity.clinic, scopes=()),
    )

    assert refused.status_code == 403, refused.text
    assert await identity.count("persons") == people
