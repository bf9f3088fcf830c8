"""The token endpoint's back end, the whole process against real PostgreSQL and Kafka.

Sign-in with a password (lockout, throttle, no enumeration), refresh token
rotation and replay, revocation, client credentials with private_key_jwt
(replay and audience), SetPassword's rules, signing key rotation with
tokens in flight; every token checked as the services check it, with the
JWKS the service publishes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
import pytest

from peerbridge.identity.v1 import identity_resources_pb2 as resources_pb2
from peerbridge.identity.v1 import identity_service_pb2 as service_pb2
from peerbridge.identity.v1 import identity_service_pb2_grpc as service_grpc
from peerbridge.identity.v1 import identity_tokens_pb2 as tokens_pb2
from peerbridge.identity.v1 import identity_tokens_pb2_grpc as tokens_grpc
from peerbridge_identity.config import IdentitySettings
from peerbridge_identity.entrypoints.app import IdentityProcess
from peerbridge_identity.entrypoints.create_admin import create_admin
from peerbridge_identity.entrypoints.grpc_server import SERVICE_NAME
from peerbridge_platform.auth import (
    CLIENT_ASSERTION_TYPE,
    Role,
    SigningKey,
    StaticJwksSource,
    TokenVerifier,
    create_client_assertion,
)
from peerbridge_platform.grpc import create_channel, wait_for_serving
from peerbridge_platform.grpc.metadata import RETRY_AFTER

pytestmark = pytest.mark.integration

PATIENCE_S = 60.0
ISSUER = "https://gateway.peerbridge.test"
AUDIENCE = "peerbridge"
ADMIN = ("token-admin", "synthetic admin passphrase 7")
THROTTLE_ATTEMPTS = 8
PUBLISH_AHEAD_S = 1.0


@dataclass
class Identity:
    process: IdentityProcess
    tokens: Any  # TokenServiceStub
    people: Any  # IdentityServiceStub
    pool: asyncpg.Pool
    admin_id: str

    async def sign_in(
        self, username: str, password: str, *, address: str = "203.0.113.7", scopes: Any = ()
    ) -> Any:
        return await self.tokens.IssueToken(
            tokens_pb2.IssueTokenRequest(
                password=tokens_pb2.PasswordGrant(username=username, password=password),
                scopes=list(scopes),
                client_address=address,
            )
        )

    async def refresh(self, refresh_token: str, scopes: Any = ()) -> Any:
        return await self.tokens.IssueToken(
            tokens_pb2.IssueTokenRequest(
                refresh_token=tokens_pb2.RefreshTokenGrant(refresh_token=refresh_token),
                scopes=list(scopes),
            )
        )

    async def verifier(self) -> TokenVerifier:
        """What every service does: verify against the JWKS identity publishes."""
        jwks = await self.tokens.GetJwks(tokens_pb2.GetJwksRequest())
        return TokenVerifier(
            ISSUER, AUDIENCE, StaticJwksSource.from_jwks(json.loads(jwks.jwks_json))
        )

    async def audit(self, action: str) -> list[tuple[str, str | None]]:
        rows = await self.pool.fetch(
            "SELECT outcome, reason FROM audit_log WHERE action = $1 ORDER BY occurred_at", action
        )
        return [(row["outcome"], row["reason"]) for row in rows]


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture
async def identity(
    database_url: str, kafka_bootstrap: str, encryption_keys: str
) -> AsyncIterator[Identity]:
    settings = IdentitySettings(
        database_url=database_url,  # type: ignore[arg-type]
        encryption_keys=encryption_keys,  # type: ignore[arg-type]
        kafka_bootstrap=kafka_bootstrap,
        grpc_listen="127.0.0.1:0",
        grpc_grace_s=1.0,
        token_issuer=ISSUER,
        token_audience=AUDIENCE,
        throttle_attempts=THROTTLE_ATTEMPTS,
        signing_key_publish_ahead_s=PUBLISH_AHEAD_S,
    )
    admin_id = await create_admin(settings, *ADMIN, "Token Admin (test)")
    process = IdentityProcess(settings)
    await process.start()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        assert process.server is not None
        address = process.server.address
        await wait_for_serving(address, SERVICE_NAME, timeout_s=PATIENCE_S)
        async with create_channel(address, default_timeout_s=10) as channel:
            yield Identity(
                process,
                tokens_grpc.TokenServiceStub(channel),
                service_grpc.IdentityServiceStub(channel),
                pool,
                admin_id,
            )
    finally:
        await pool.close()
        await process.stop()


async def a_member(identity: Identity, admin_token: str, username: str, password: str) -> str:
    registered = await identity.people.RegisterPerson(
        service_pb2.RegisterPersonRequest(
            request_id=str(uuid.uuid4()),
            roles=[resources_pb2.ROLE_MEMBER],
            profile=resources_pb2.Profile(
                display_name="Member (test)", language="en", time_zone="UTC"
            ),
        ),
        metadata=bearer(admin_token),
    )
    person_id: str = registered.person.person_id
    await identity.people.SetPassword(
        service_pb2.SetPasswordRequest(
            person_id=person_id, username=username, new_password=password
        ),
        metadata=bearer(admin_token),
    )
    return person_id


def code_of(caught: pytest.ExceptionInfo[grpc.aio.AioRpcError]) -> grpc.StatusCode:
    return caught.value.code()


async def test_sign_in_issues_tokens_the_services_accept(identity: Identity) -> None:
    issued = await identity.sign_in(*ADMIN)

    principal = await (await identity.verifier()).verify(issued.access_token)
    assert principal.subject == identity.admin_id
    assert principal.roles == {Role.ADMIN}
    assert (issued.token_type, issued.expires_in) == ("Bearer", 300)
    assert issued.refresh_token.startswith("pbr1.")
    assert list(issued.scopes) == sorted(principal.scopes)
    assert "referrals.read" not in issued.scopes  # least privilege: no clinical records
    assert await identity.audit("auth.sign_in") == [("allowed", "password")]


async def test_a_wrong_password_and_an_unknown_user_look_the_same(identity: Identity) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as wrong:
        await identity.sign_in(ADMIN[0], "not the password at all")
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await identity.sign_in("nobody-here", "not the password at all")

    assert code_of(wrong) == code_of(unknown) == grpc.StatusCode.UNAUTHENTICATED
    assert wrong.value.details() == unknown.value.details() == "invalid username or password"
    assert await identity.audit("auth.sign_in") == [
        ("denied", "wrong password"),
        ("denied", "unknown username"),
    ]


async def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(
    identity: Identity,
) -> None:
    for attempt in range(5):
        with pytest.raises(grpc.aio.AioRpcError):
            await identity.sign_in(
                ADMIN[0], f"wrong password number {attempt}", address=f"a{attempt}"
            )

    with pytest.raises(grpc.aio.AioRpcError) as locked:
        await identity.sign_in(*ADMIN, address="elsewhere")

    assert code_of(locked) == grpc.StatusCode.UNAUTHENTICATED
    assert locked.value.details() == "invalid username or password"
    assert (await identity.audit("auth.sign_in"))[-1] == ("denied", "account locked")


async def test_failures_from_one_address_are_throttled_with_retry_after(
    identity: Identity,
) -> None:
    for attempt in range(THROTTLE_ATTEMPTS):
        with pytest.raises(grpc.aio.AioRpcError):
            await identity.sign_in(
                f"sprayed-{attempt}", "a guessed password 1", address="198.51.100.9"
            )

    with pytest.raises(grpc.aio.AioRpcError) as throttled:
        await identity.sign_in(*ADMIN, address="198.51.100.9")
    fine_elsewhere = await identity.sign_in(*ADMIN, address="198.51.100.10")

    assert code_of(throttled) == grpc.StatusCode.RESOURCE_EXHAUSTED
    trailers = dict(throttled.value.trailing_metadata() or ())
    assert 1 <= int(trailers[RETRY_AFTER]) <= 60
    assert fine_elsewhere.access_token


async def test_a_refresh_token_works_once_and_its_replay_revokes_the_family(
    identity: Identity,
) -> None:
    first = await identity.sign_in(*ADMIN)
    second = await identity.refresh(first.refresh_token)

    with pytest.raises(grpc.aio.AioRpcError) as replayed:
        await identity.refresh(first.refresh_token)
    with pytest.raises(grpc.aio.AioRpcError) as successor:
        await identity.refresh(second.refresh_token)

    assert second.access_token != first.access_token
    assert second.refresh_token not in {"", first.refresh_token}
    assert code_of(replayed) == code_of(successor) == grpc.StatusCode.UNAUTHENTICATED
    assert [reason for _, reason in await identity.audit("auth.refresh")] == [
        "refresh token",
        "replayed",
        "revoked",
    ]


async def test_a_refresh_may_narrow_the_scopes_but_never_widen_them(identity: Identity) -> None:
    narrow = await identity.sign_in(*ADMIN, scopes=["people.read"])

    with pytest.raises(grpc.aio.AioRpcError) as wider:
        await identity.refresh(narrow.refresh_token, scopes=["people.read", "admin"])
    with pytest.raises(grpc.aio.AioRpcError) as never_allowed:
        await identity.sign_in(*ADMIN, scopes=["referrals.read"])

    assert list(narrow.scopes) == ["people.read"]
    assert code_of(wider) == code_of(never_allowed) == grpc.StatusCode.INVALID_ARGUMENT


async def test_revocation_ends_the_session_and_unknown_tokens_are_fine(identity: Identity) -> None:
    issued = await identity.sign_in(*ADMIN)

    await identity.tokens.RevokeToken(tokens_pb2.RevokeTokenRequest(token=issued.refresh_token))
    await identity.tokens.RevokeToken(tokens_pb2.RevokeTokenRequest(token="pbr1.never-issued"))

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await identity.refresh(issued.refresh_token)
    assert code_of(refused) == grpc.StatusCode.UNAUTHENTICATED


async def test_identity_service_calls_need_a_token(identity: Identity) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await identity.people.GetPerson(service_pb2.GetPersonRequest(person_id=identity.admin_id))

    assert code_of(caught) == grpc.StatusCode.UNAUTHENTICATED


async def test_people_change_their_own_password_with_the_current_one_only(
    identity: Identity,
) -> None:
    admin = (await identity.sign_in(*ADMIN)).access_token
    ava = await a_member(identity, admin, "ava-test", "ava synthetic pass 1")
    ben = await a_member(identity, admin, "ben-test", "ben synthetic pass 1")
    ava_session = await identity.sign_in("AVA-test", "ava synthetic pass 1")

    with pytest.raises(grpc.aio.AioRpcError) as without_current:
        await identity.people.SetPassword(
            service_pb2.SetPasswordRequest(
                person_id=ava, username="ava-test", new_password="ava synthetic pass 2"
            ),
            metadata=bearer(ava_session.access_token),
        )
    with pytest.raises(grpc.aio.AioRpcError) as someone_else:
        await identity.people.SetPassword(
            service_pb2.SetPasswordRequest(
                person_id=ben, username="ben-test", new_password="taken over by ava 1"
            ),
            metadata=bearer(ava_session.access_token),
        )
    with pytest.raises(grpc.aio.AioRpcError) as taken:
        await identity.people.SetPassword(
            service_pb2.SetPasswordRequest(
                person_id=ava, username="BEN-TEST", new_password="ava synthetic pass 2"
            ),
            metadata=bearer(admin),
        )
    await identity.people.SetPassword(
        service_pb2.SetPasswordRequest(
            person_id=ava,
            username="ava-test",
            new_password="ava synthetic pass 2",
            current_password="ava synthetic pass 1",
        ),
        metadata=bearer(ava_session.access_token),
    )

    assert code_of(without_current) == grpc.StatusCode.PERMISSION_DENIED
    assert code_of(someone_else) == grpc.StatusCode.NOT_FOUND
    assert code_of(taken) == grpc.StatusCode.ALREADY_EXISTS
    # The old password and the sessions made with it are over.
    with pytest.raises(grpc.aio.AioRpcError):
        await identity.sign_in("ava-test", "ava synthetic pass 1")
    with pytest.raises(grpc.aio.AioRpcError):
        await identity.refresh(ava_session.refresh_token)
    assert (await identity.sign_in("ava-test", "ava synthetic pass 2")).access_token


async def a_client(identity: Identity, admin: str) -> tuple[str, str, SigningKey, str]:
    """A clinic with an EHR client and its registered ES384 key: (org, client, key, kid)."""
    clinic = await identity.people.RegisterOrganization(
        service_pb2.RegisterOrganizationRequest(
            request_id=str(uuid.uuid4()),
            kind=resources_pb2.ORGANIZATION_KIND_CLINIC,
            name="Token Clinic (test)",
        ),
        metadata=bearer(admin),
    )
    organization_id = clinic.organization.organization_id
    client = await identity.people.RegisterClient(
        service_pb2.RegisterClientRequest(
            request_id=str(uuid.uuid4()),
            organization_id=organization_id,
            kind=resources_pb2.CLIENT_KIND_EHR_INTEGRATION,
            display_name="Token EHR (test)",
            scopes=["referrals.read", "referrals.write"],
        ),
        metadata=bearer(admin),
    )
    key = SigningKey.generate("ES384")
    added = await identity.people.AddClientKey(
        service_pb2.AddClientKeyRequest(
            client_id=client.client.client_id, public_jwk_json=json.dumps(key.public_jwk())
        ),
        metadata=bearer(admin),
    )
    return organization_id, client.client.client_id, key, added.kid


async def client_token(identity: Identity, assertion: str, scopes: Any = ()) -> Any:
    return await identity.tokens.IssueToken(
        tokens_pb2.IssueTokenRequest(
            client_credentials=tokens_pb2.ClientCredentialsGrant(
                client_assertion_type=CLIENT_ASSERTION_TYPE, client_assertion=assertion
            ),
            scopes=list(scopes),
        )
    )


async def test_a_partner_client_signs_in_with_its_key_once_per_assertion(
    identity: Identity,
) -> None:
    admin = (await identity.sign_in(*ADMIN)).access_token
    organization_id, client_id, key, kid = await a_client(identity, admin)
    endpoint = ISSUER + "/v1/auth/token"
    assertion = create_client_assertion(key, client_id=client_id, token_endpoint=endpoint)

    issued = await client_token(identity, assertion, scopes=["referrals.read"])
    with pytest.raises(grpc.aio.AioRpcError) as replayed:
        await client_token(identity, assertion)
    with pytest.raises(grpc.aio.AioRpcError) as elsewhere:
        await client_token(
            identity,
            create_client_assertion(key, client_id=client_id, token_endpoint="https://other/token"),
        )
    with pytest.raises(grpc.aio.AioRpcError) as unregistered:
        await client_token(
            identity,
            create_client_assertion(
                SigningKey.generate("ES384"), client_id=client_id, token_endpoint=endpoint
            ),
        )

    principal = await (await identity.verifier()).verify(issued.access_token)
    assert (principal.subject, principal.client_id) == (client_id, client_id)
    assert principal.roles == {Role.PARTNER_CLIENT}
    assert principal.organization_id == organization_id
    assert principal.scopes == {"referrals.read"}
    assert issued.refresh_token == ""
    assert kid == key.verification_key().thumbprint()
    refused = (replayed, elsewhere, unregistered)
    assert {code_of(caught) for caught in refused} == {grpc.StatusCode.UNAUTHENTICATED}
    assert replayed.value.details() == "assertion was already used"


async def test_a_private_or_symmetric_client_key_is_refused(identity: Identity) -> None:
    admin = (await identity.sign_in(*ADMIN)).access_token
    _, client_id, _, _ = await a_client(identity, admin)
    rsa_private = {"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB", "alg": "RS384"}

    for jwk in (rsa_private, {"kty": "oct", "k": "c2VjcmV0"}, "not json"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await identity.people.AddClientKey(
                service_pb2.AddClientKeyRequest(
                    client_id=client_id,
                    public_jwk_json=jwk if isinstance(jwk, str) else json.dumps(jwk),
                ),
                metadata=bearer(admin),
            )
        assert code_of(caught) == grpc.StatusCode.INVALID_ARGUMENT


def kid_of(token: str) -> str:
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    kid: str = header["kid"]
    return kid


async def published_kids(identity: Identity) -> list[str]:
    jwks = json.loads((await identity.tokens.GetJwks(tokens_pb2.GetJwksRequest())).jwks_json)
    assert all("d" not in key for key in jwks["keys"])  # public halves only
    return [key["kid"] for key in jwks["keys"]]


async def test_a_rotated_key_is_published_before_it_signs_and_old_tokens_stay_valid(
    identity: Identity,
) -> None:
    before = (await identity.sign_in(*ADMIN)).access_token
    old = kid_of(before)

    rotated = await identity.people.RotateSigningKey(
        service_pb2.RotateSigningKeyRequest(), metadata=bearer(before)
    )
    published_at_once = await published_kids(identity)
    still_old = (await identity.sign_in(*ADMIN)).access_token
    deadline = time.monotonic() + PUBLISH_AHEAD_S + 10
    after = still_old
    while kid_of(after) != rotated.kid and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        after = (await identity.sign_in(*ADMIN)).access_token

    assert published_at_once == [old, rotated.kid]
    assert kid_of(still_old) == old
    assert kid_of(after) == rotated.kid
    assert await published_kids(identity) == [rotated.kid, old]
    verifier = await identity.verifier()
    assert (await verifier.verify(before)).subject == identity.admin_id
    assert (await verifier.verify(after)).subject == identity.admin_id
    # The old token still works at the service itself.
    person = await identity.people.GetPerson(
        service_pb2.GetPersonRequest(person_id=identity.admin_id), metadata=bearer(before)
    )
    assert person.person.person_id == identity.admin_id
    assert await identity.audit("signing_key.rotate") == [("allowed", "administrator")]
