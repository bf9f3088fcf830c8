"""The gateway app over in-memory fakes of its ports, served through ASGI in process.

Access tokens are real: signed with a test key set and verified by the
platform's TokenVerifier over a static JWKS of that set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from peerbridge_gateway.app import create_app
from peerbridge_gateway.clients.in_memory import InMemoryReferrals
from peerbridge_gateway.clients.in_memory_consents import InMemoryConsents
from peerbridge_gateway.clients.in_memory_disclosures import InMemoryDisclosures
from peerbridge_gateway.clients.in_memory_notes import InMemoryNotes
from peerbridge_gateway.clients.in_memory_patients import InMemoryPatients
from peerbridge_gateway.config import GatewaySettings
from peerbridge_gateway.idempotency.memory_store import InMemoryIdempotencyStore
from peerbridge_gateway.refusal_audit import MemoryRefusalAudit
from peerbridge_platform.auth import KeySet, Role, SigningKey, StaticJwksSource, TokenVerifier

from ..conftest import TokenMinter
from .tokens_fake import Account, InMemoryTokens

Mint = Callable[..., str]
TEST_PASSWORD = "correct horse battery staple"  # a synthetic test account


@pytest.fixture
def settings(encryption_keys: str) -> GatewaySettings:
    return GatewaySettings(
        database_url="postgresql://unused.invalid/unused",  # type: ignore[arg-type]
        encryption_keys=encryption_keys,  # type: ignore[arg-type]
        max_body_bytes=4096,
        idempotency_wait_s=2.0,
    )


@pytest.fixture(scope="session")
def key_set() -> KeySet:
    return KeySet(SigningKey.generate())


@pytest.fixture
def minter(key_set: KeySet, settings: GatewaySettings) -> TokenMinter:
    return TokenMinter(key_set, settings.token_issuer, settings.token_audience)


@pytest.fixture
def mint(minter: TokenMinter) -> Mint:
    """`mint(scopes=..., subject=..., key=..., **claims)`: an access token the gateway accepts
    (unless the arguments say otherwise)."""
    return minter.mint


@pytest.fixture
def referrals() -> InMemoryReferrals:
    return InMemoryReferrals()


@pytest.fixture
def consents() -> InMemoryConsents:
    return InMemoryConsents()


@pytest.fixture
def disclosures() -> InMemoryDisclosures:
    return InMemoryDisclosures()


@pytest.fixture
def notes() -> InMemoryNotes:
    return InMemoryNotes()


@pytest.fixture
def patients() -> InMemoryPatients:
    return InMemoryPatients()


@pytest.fixture
def store() -> InMemoryIdempotencyStore:
    return InMemoryIdempotencyStore()


@pytest.fixture
def tokens(key_set: KeySet, settings: GatewaySettings) -> InMemoryTokens:
    fake = InMemoryTokens(key_set, settings.token_issuer, settings.token_audience)
    fake.accounts["ava.test"] = Account(
        subject="person-test-ava", password=TEST_PASSWORD, roles=frozenset({Role.PEER_SUPPORTER})
    )
    return fake


@pytest.fixture
def refusals() -> MemoryRefusalAudit:
    """What the gateway audits of the requests it refuses itself."""
    return MemoryRefusalAudit()


@pytest.fixture
async def anonymous(
    settings: GatewaySettings,
    referrals: InMemoryReferrals,
    consents: InMemoryConsents,
    disclosures: InMemoryDisclosures,
    patients: InMemoryPatients,
    notes: InMemoryNotes,
    store: InMemoryIdempotencyStore,
    tokens: InMemoryTokens,
    key_set: KeySet,
    refusals: MemoryRefusalAudit,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway that sends no access token."""
    verifier = TokenVerifier(
        settings.token_issuer, settings.token_audience, StaticJwksSource.from_key_set(key_set)
    )
    app = create_app(
        settings,
        referrals=referrals,
        consents=consents,
        disclosures=disclosures,
        idempotency_store=store,
        tokens=tokens,
        token_verifier=verifier,
        refusal_audit=refusals,
        patients=patients,
        notes=notes,
    )
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http,
    ):
        yield http


@pytest.fixture
async def client(anonymous: httpx.AsyncClient, mint: Mint) -> httpx.AsyncClient:
    """A client of the gateway whose requests carry a valid token with the referral scopes."""
    anonymous.headers["Authorization"] = f"Bearer {mint()}"
    return anonymous
