"""SMART Backend Services client assertions (`private_key_jwt`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from peerbridge_platform.auth import (
    CLIENT_ASSERTION_TYPE,
    ClientAssertionVerifier,
    MemoryJtiStore,
    SigningKey,
    StaticClientKeys,
    create_client_assertion,
    issue_access_token,
)
from peerbridge_platform.errors import Unauthenticated

ENDPOINT = "https://gateway.peerbridge.test/v1/auth/token"
CLIENT = "ehr-riverside-clinic"
NOW = datetime(2030, 5, 17, 9, 30, tzinfo=UTC)
RS384 = SigningKey.generate("RS384")
ES384 = SigningKey.generate("ES384")
EDDSA = SigningKey.generate("EdDSA")


def assertion(
    key: SigningKey = ES384,
    *,
    client: str = CLIENT,
    audience: str | list[str] = ENDPOINT,
    expires_in_s: float = 240,
    jti: str | None = None,
    typ: str = "JWT",
    **extra: Any,
) -> str:
    claims = {
        "iss": client,
        "sub": client,
        "aud": audience,
        "exp": int((NOW + timedelta(seconds=expires_in_s)).timestamp()),
        "jti": jti or str(uuid.uuid4()),
        **extra,
    }
    return key.sign(claims, typ=typ)


@pytest.fixture
def store() -> MemoryJtiStore:
    return MemoryJtiStore(clock=NOW.timestamp)


@pytest.fixture
def verifier(store: MemoryJtiStore) -> ClientAssertionVerifier:
    keys = StaticClientKeys(
        {
            CLIENT: [RS384.verification_key(), ES384.verification_key()],
            "partner-app": [EDDSA.verification_key()],
        }
    )
    return ClientAssertionVerifier(
        token_endpoint=ENDPOINT, client_keys=keys, jti_store=store, clock=NOW.timestamp
    )


async def refused(verifier: ClientAssertionVerifier, token: str, **kwargs: Any) -> str:
    with pytest.raises(Unauthenticated) as caught:
        await verifier.verify(token, **kwargs)
    return caught.value.message


@pytest.mark.parametrize("key", [RS384, ES384], ids=["RS384", "ES384"])
async def test_smart_algorithms_authenticate_the_client(
    verifier: ClientAssertionVerifier, key: SigningKey
) -> None:
    client = await verifier.verify(assertion(key, jti="a-1"), client_id=CLIENT)
    assert client.client_id == CLIENT
    assert client.key_id == key.kid
    assert client.assertion_id == "a-1"
    assert client.expires_at == NOW + timedelta(seconds=240)


async def test_our_own_algorithms_are_accepted_too(verifier: ClientAssertionVerifier) -> None:
    assert (await verifier.verify(assertion(EDDSA, client="partner-app"))).client_id == (
        "partner-app"
    )


async def test_a_reused_jti_is_refused(verifier: ClientAssertionVerifier) -> None:
    await verifier.verify(assertion(jti="once"))
    assert await refused(verifier, assertion(jti="once")) == "assertion was already used"
    # Another client may pick the same id: ids are per client.
    assert (await verifier.verify(assertion(EDDSA, client="partner-app", jti="once"))).client_id


async def test_exp_more_than_five_minutes_ahead_is_refused(
    verifier: ClientAssertionVerifier,
) -> None:
    message = await refused(verifier, assertion(expires_in_s=600))
    assert message == "assertion expires more than five minutes ahead"


async def test_expired_assertion_is_refused(verifier: ClientAssertionVerifier) -> None:
    assert await refused(verifier, assertion(expires_in_s=-60)) == "token expired"


async def test_lifetime_counts_from_iat_when_present(verifier: ClientAssertionVerifier) -> None:
    early = int((NOW - timedelta(minutes=30)).timestamp())
    assert await refused(verifier, assertion(iat=early)) == "token lifetime is too long"


async def test_wrong_audience_is_refused(verifier: ClientAssertionVerifier) -> None:
    wrong = assertion(audience="https://gateway.peerbridge.test/v1/other")
    assert await refused(verifier, wrong) == "token has the wrong audience"


async def test_iss_and_sub_must_both_be_the_client(verifier: ClientAssertionVerifier) -> None:
    mixed = ES384.sign(
        {
            "iss": CLIENT,
            "sub": "someone-else",
            "aud": ENDPOINT,
            "exp": NOW.timestamp() + 60,
            "jti": "x",
        },
        typ="JWT",
    )
    assert "iss and sub" in await refused(verifier, mixed)


async def test_client_id_parameter_must_match(verifier: ClientAssertionVerifier) -> None:
    message = await refused(verifier, assertion(), client_id="partner-app")
    assert message == "client_id does not match the assertion"


async def test_a_key_of_another_client_is_refused(verifier: ClientAssertionVerifier) -> None:
    # Signed with partner-app's key but claiming to be the clinic.
    assert "did not register" in await refused(verifier, assertion(EDDSA))


async def test_unregistered_key_is_refused(verifier: ClientAssertionVerifier) -> None:
    assert "did not register" in await refused(verifier, assertion(SigningKey.generate("ES384")))


async def test_missing_jti_is_refused_and_nothing_is_remembered(
    verifier: ClientAssertionVerifier, store: MemoryJtiStore
) -> None:
    no_jti = ES384.sign(
        {"iss": CLIENT, "sub": CLIENT, "aud": ENDPOINT, "exp": NOW.timestamp() + 60}, typ="JWT"
    )
    assert await refused(verifier, no_jti) == "token lacks the jti claim"


async def test_a_forged_assertion_does_not_burn_the_clients_jti(
    verifier: ClientAssertionVerifier,
) -> None:
    forged_key = SigningKey(_private(SigningKey.generate("ES384")), "ES384", kid=ES384.kid)
    assert await refused(verifier, assertion(forged_key, jti="j-9")) == "token signature is invalid"
    assert (await verifier.verify(assertion(jti="j-9"))).assertion_id == "j-9"


async def test_an_access_token_is_not_a_client_assertion(
    verifier: ClientAssertionVerifier,
) -> None:
    token = issue_access_token(
        EDDSA,
        issuer="partner-app",
        audience=ENDPOINT,
        subject="partner-app",
        roles=[],
        scopes=[],
        organization_id=None,
        now=NOW,
    )
    assert await refused(verifier, token) == "token is not a client assertion"


async def test_other_assertion_types_are_refused(verifier: ClientAssertionVerifier) -> None:
    message = await refused(verifier, assertion(), assertion_type="urn:example:saml")
    assert message == "unsupported client assertion type"
    assert CLIENT_ASSERTION_TYPE.endswith("jwt-bearer")


async def test_algorithms_outside_the_allow_list_are_refused(store: MemoryJtiStore) -> None:
    only_es384 = ClientAssertionVerifier(
        token_endpoint=ENDPOINT,
        client_keys=StaticClientKeys({CLIENT: [RS384.verification_key()]}),
        jti_store=store,
        allowed_algorithms=("ES384",),
        clock=NOW.timestamp,
    )
    assert await refused(only_es384, assertion(RS384)) == "token algorithm is not accepted"


async def test_expired_jtis_are_forgotten() -> None:
    clock = [NOW.timestamp()]
    store = MemoryJtiStore(clock=lambda: clock[0])
    assert await store.remember(CLIENT, "j", NOW + timedelta(minutes=5))
    assert not await store.remember(CLIENT, "j", NOW + timedelta(minutes=5))
    clock[0] += 600
    assert store.purge_expired() == 1
    assert await store.remember(CLIENT, "j", NOW + timedelta(minutes=15))


def _private(key: SigningKey) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(key.to_pem(), password=None)


async def test_a_created_assertion_is_accepted_once(verifier: ClientAssertionVerifier) -> None:
    created = create_client_assertion(ES384, client_id=CLIENT, token_endpoint=ENDPOINT, now=NOW)

    client = await verifier.verify(created, client_id=CLIENT)

    assert client.client_id == CLIENT
    with pytest.raises(Unauthenticated, match="already used"):
        await verifier.verify(created, client_id=CLIENT)


def test_an_assertion_cannot_be_made_to_live_past_five_minutes() -> None:
    with pytest.raises(ValueError, match="lifetime_s"):
        create_client_assertion(ES384, client_id=CLIENT, token_endpoint=ENDPOINT, lifetime_s=301)
