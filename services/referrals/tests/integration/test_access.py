"""Who may do what, over a real socket with real signed tokens, on real PostgreSQL: each
role's access, refusals that write nothing but their audit record, tokens that fail."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from peerbridge.referrals.v1 import referrals_resources_pb2 as resources_pb2
from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge_platform.auth import Principal, Role, SigningKey
from peerbridge_platform.auth.scopes import ALL_SCOPES

from ..conftest import CLINIC, PROGRAM, synthetic_principal
from .conftest import SIGNING_KEY, RunningService, token_for
from .test_grpc_referrals import create, list_everything, refused, synthetic_request

pytestmark = pytest.mark.integration

MEMBER = "member-synthetic-001"
SUPPORTER = "supporter-test-7"
OTHER_PROGRAM = "program-elsewhere-test"


def person(role: Role, organization_id: str | None, subject: str = "person-test-1") -> Principal:
    return synthetic_principal(subject=subject, roles=(role,), organization_id=organization_id)


def as_(service: RunningService, principal: Principal) -> Any:
    return service.stub_as(token_for(principal))


async def get(stub: Any, referral_id: str) -> resources_pb2.Referral:
    response = await stub.GetReferral(service_pb2.GetReferralRequest(referral_id=referral_id))
    referral: resources_pb2.Referral = response.referral
    return referral


async def audit_rows(service: RunningService) -> list[dict[str, Any]]:
    rows = await service.pool.fetch(
        "SELECT action, resource_id, subject_id, outcome, purpose_of_use, reason,"
        " actor_subject_id, actor_client_id, actor_organization_id, actor_roles, peer"
        " FROM audit_log ORDER BY id"
    )
    return [dict(row) for row in rows]


# -- each role, one by one ------------------------------------------------------

# The referral under test: about MEMBER, from PROGRAM (SUPPORTER asking) to CLINIC.
READERS = [
    ("the member it is about", person(Role.MEMBER, None, MEMBER), True),
    ("another member", person(Role.MEMBER, None, "member-synthetic-002"), False),
    ("the supporter who asked", person(Role.PEER_SUPPORTER, PROGRAM, SUPPORTER), True),
    ("another supporter", person(Role.PEER_SUPPORTER, PROGRAM, "supporter-test-8"), False),
    ("a clinician of the recipient", person(Role.CLINICIAN, CLINIC), True),
    ("a clinician elsewhere", person(Role.CLINICIAN, "clinic-elsewhere-test"), False),
    ("the program's coordinator", person(Role.COORDINATOR, PROGRAM), True),
    ("another program's coordinator", person(Role.COORDINATOR, OTHER_PROGRAM), False),
    ("the program's supervisor", person(Role.SUPERVISOR, PROGRAM), True),
    ("another program's supervisor", person(Role.SUPERVISOR, OTHER_PROGRAM), False),
    (
        "the clinic's EHR client",
        synthetic_principal(
            "ehr-northside",
            (Role.PARTNER_CLIENT,),
            CLINIC,
            frozenset({"referrals.read"}),
            client_id="ehr-northside",
        ),
        True,
    ),
    (
        "another organization's client",
        synthetic_principal(
            "app-elsewhere",
            (Role.PARTNER_CLIENT,),
            OTHER_PROGRAM,
            frozenset({"referrals.read"}),
            client_id="app-elsewhere",
        ),
        False,
    ),
    (
        "an administrator holding every scope",
        synthetic_principal(roles=(Role.ADMIN,), scopes=ALL_SCOPES),
        False,
    ),
]


@pytest.mark.parametrize(
    ("caller", "sees"), [(c, s) for _, c, s in READERS], ids=[n for n, _, _ in READERS]
)
async def test_each_role_reads_what_it_may_and_nothing_else_exists(
    service: RunningService, caller: Principal, sees: bool
) -> None:
    created = await create(service.stub)

    if sees:
        found = await get(as_(service, caller), created.referral_id)
        if caller.organization_id == CLINIC:
            # The recipient reads it redacted without the member's consent (test_read_gate).
            assert (found.referral_id, found.reason) == (created.referral_id, "")
        else:
            assert found == created
    else:
        error = await refused(get(as_(service, caller), created.referral_id))
        assert error.code() is grpc.StatusCode.NOT_FOUND
    listed = await list_everything(as_(service, caller))
    assert [rid for page in listed for rid in page] == ([created.referral_id] if sees else [])


async def test_another_members_referral_is_not_found_and_the_attempt_is_audited(
    service: RunningService,
) -> None:
    created = await create(service.stub)
    intruder = person(Role.MEMBER, None, "member-synthetic-002")

    error = await refused(get(as_(service, intruder), created.referral_id))
    unknown = await refused(get(as_(service, intruder), str(uuid.uuid4())))

    assert error.code() is unknown.code() is grpc.StatusCode.NOT_FOUND
    assert error.details() == f"referral {created.referral_id} not found"
    denied = (await audit_rows(service))[-2]
    assert denied["action"] == "referral.read"
    assert (denied["resource_id"], denied["subject_id"]) == (created.referral_id, MEMBER)
    assert (denied["outcome"], denied["purpose_of_use"]) == ("denied", "PATRQT")
    assert denied["reason"] == "not visible to the caller"
    assert (denied["actor_subject_id"], denied["actor_roles"]) == (
        "member-synthetic-002",
        ["member"],
    )
    assert denied["peer"].startswith("ipv4:127.0.0.1:")


async def test_reads_and_creates_are_audited_with_who_why_and_from_where(
    service: RunningService,
) -> None:
    clinician = person(Role.CLINICIAN, CLINIC, "clinician-test-3")
    created = await create(service.stub)

    await get(as_(service, clinician), created.referral_id)
    await as_(service, clinician).ListReferrals(service_pb2.ListReferralsRequest())

    rows = await audit_rows(service)
    assert [(r["action"], r["outcome"], r["purpose_of_use"]) for r in rows] == [
        ("referral.create", "allowed", "HOPERAT"),
        ("referral.disclose", "allowed", "TREAT"),
        ("referral.read", "allowed", "TREAT"),
        # Each read by the recipient is a disclosure decision too (test_read_gate).
        ("referral.disclose", "allowed", "TREAT"),
        ("referral.list", "allowed", "TREAT"),
        ("referral.disclose", "allowed", "TREAT"),
    ]
    assert {r["resource_id"] for r in rows} == {created.referral_id}
    assert {r["subject_id"] for r in rows} == {MEMBER}
    assert rows[0]["actor_subject_id"] == "coordinator-test-1"
    assert (rows[2]["actor_subject_id"], rows[2]["actor_organization_id"]) == (
        "clinician-test-3",
        CLINIC,
    )


async def test_a_client_is_audited_by_its_client_id(service: RunningService) -> None:
    client = synthetic_principal(
        "app-harbour",
        (Role.PARTNER_CLIENT,),
        PROGRAM,
        frozenset({"referrals.read", "referrals.write"}),
        client_id="app-harbour",
    )

    created = await create(as_(service, client))

    (row, _disclosure) = await audit_rows(service)
    assert (row["actor_client_id"], row["actor_roles"]) == ("app-harbour", ["partner_client"])
    assert row["resource_id"] == created.referral_id


# -- creating ---------------------------------------------------------------------


async def test_a_supporter_creates_in_their_own_name(service: RunningService) -> None:
    supporter = person(Role.PEER_SUPPORTER, PROGRAM, SUPPORTER)

    created = await create(as_(service, supporter))

    assert created.requester.practitioner_id == SUPPORTER
    assert await get(as_(service, supporter), created.referral_id) == created


@pytest.mark.parametrize(
    ("caller", "request_changes"),
    [
        (
            person(Role.PEER_SUPPORTER, PROGRAM, SUPPORTER),
            {
                "requester": resources_pb2.Party(
                    kind=resources_pb2.PARTY_KIND_PEER_SUPPORT_PROGRAM,
                    organization_id=OTHER_PROGRAM,
                    display_name="Elsewhere Peer Program (test)",
                    practitioner_id=SUPPORTER,
                )
            },
        ),
        (person(Role.PEER_SUPPORTER, PROGRAM, "supporter-test-8"), {}),
        (person(Role.MEMBER, None, MEMBER), {}),
        (synthetic_principal(roles=(Role.ADMIN,), scopes=ALL_SCOPES), {}),
        (person(Role.SUPERVISOR, PROGRAM), {}),
    ],
    ids=[
        "supporter for another program",
        "supporter in a colleague's name",
        "member",
        "administrator",
        "supervisor",
    ],
)
async def test_a_refused_create_writes_nothing_but_its_audit_record(
    service: RunningService, caller: Principal, request_changes: dict[str, Any]
) -> None:
    error = await refused(as_(service, caller).CreateReferral(synthetic_request(**request_changes)))

    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert await service.count("referrals") == 0
    assert await service.count_events() == 0
    (row,) = await audit_rows(service)
    assert (row["action"], row["outcome"], row["subject_id"]) == (
        "referral.create",
        "denied",
        MEMBER,
    )
    assert row["actor_subject_id"] == caller.subject


# -- listing ----------------------------------------------------------------------


async def test_pages_hold_only_visible_referrals_and_are_full(service: RunningService) -> None:
    mine = []
    for number in range(7):
        await create(service.stub, subject_member_id=f"member-synthetic-1{number}")
        mine.append((await create(service.stub, subject_member_id=MEMBER)).referral_id)
    member = as_(service, person(Role.MEMBER, None, MEMBER))

    pages = await list_everything(member)

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [rid for page in pages for rid in page] == mine[::-1]


async def test_a_member_naming_another_member_gets_nothing_and_is_audited(
    service: RunningService,
) -> None:
    await create(service.stub, subject_member_id="member-synthetic-002")
    member = as_(service, person(Role.MEMBER, None, MEMBER))

    pages = await list_everything(member, subject_member_id="member-synthetic-002")

    assert pages == [[]]
    denied = (await audit_rows(service))[-1]
    assert (denied["action"], denied["outcome"], denied["subject_id"]) == (
        "referral.list",
        "denied",
        "member-synthetic-002",
    )


async def test_a_token_without_the_scope_is_permission_denied(service: RunningService) -> None:
    # As identity issues it: an administrator gets no referrals scope at all.
    admin = person(Role.ADMIN, PROGRAM)

    error = await refused(as_(service, admin).ListReferrals(service_pb2.ListReferralsRequest()))

    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert error.details() == "requires scope referrals.read"


# -- tokens that do not verify ------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    loaded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return loaded


def tampered() -> str:
    """A valid token whose claims were changed afterwards (a member made a coordinator)."""
    header, _, signature = token_for(person(Role.MEMBER, None, MEMBER)).split(".")
    claims = _claims_of(token_for(person(Role.MEMBER, None, MEMBER)))
    claims["roles"] = ["coordinator"]
    claims["organization_id"] = PROGRAM
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def unsigned() -> str:
    """The claims of a valid token under `alg: none`, with no signature."""
    claims = _claims_of(token_for(synthetic_principal()))
    header = {"alg": "none", "typ": "at+jwt", "kid": SIGNING_KEY.kid}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


BAD_TOKENS = {
    "missing": None,
    "garbage": "not-a-token",
    "expired": token_for(synthetic_principal(), now=datetime.now(UTC) - timedelta(hours=1)),
    "tampered": tampered(),
    "wrong audience": token_for(synthetic_principal(), audience="another-api"),
    "wrong issuer": token_for(synthetic_principal(), issuer="https://impostor.test"),
    "unknown key": token_for(synthetic_principal(), key=SigningKey.generate()),
    "alg none": unsigned(),
}


@pytest.mark.parametrize("token", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
async def test_a_call_without_a_valid_token_is_unauthenticated_and_changes_nothing(
    service: RunningService, token: str | None
) -> None:
    stub = service.stub_as(token)

    errors = [
        await refused(stub.CreateReferral(synthetic_request())),
        await refused(
            stub.GetReferral(service_pb2.GetReferralRequest(referral_id=str(uuid.uuid4())))
        ),
        await refused(stub.ListReferrals(service_pb2.ListReferralsRequest())),
    ]

    assert {e.code() for e in errors} == {grpc.StatusCode.UNAUTHENTICATED}
    assert await service.count("referrals") == 0
    assert await service.count("outbox") == 0
