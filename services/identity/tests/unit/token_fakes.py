"""In-memory fakes of the token endpoint's ports, keeping the promises PostgreSQL keeps:
throttle windows per address, failures in a row and locks, refresh token families
(spent once, a replay revokes the family, token and family expiry, revocation), and
signing keys with a rotation grace. Every person and client here is synthetic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from peerbridge_identity.domain.credentials import (
    Account,
    LockoutPolicy,
    PasswordCredential,
    ThrottlePolicy,
    username_key,
)
from peerbridge_identity.domain.model import Client
from peerbridge_identity.domain.signing_keys import KeyLifetime, published
from peerbridge_identity.domain.values import ClientKind, Role
from peerbridge_identity.service_layer.signing_keys import SigningKeys
from peerbridge_identity.service_layer.token_grants import TokenIssuer, TokenPolicy
from peerbridge_identity.service_layer.token_ports import (
    ExchangeOutcome,
    PersonAccess,
    RefreshExchange,
    RefreshTimes,
)
from peerbridge_platform.audit.model import Actor
from peerbridge_platform.auth import (
    ClientAssertionVerifier,
    KeySet,
    MemoryJtiStore,
    SigningKey,
    StaticClientKeys,
    TokenVerifier,
    create_client_assertion,
)

ISSUER = "https://gateway.peerbridge.test"
AUDIENCE = "peerbridge"
Clock = Callable[[], datetime]


@dataclass
class _Family:
    person_id: UUID
    scopes: frozenset[str]
    expire_time: datetime
    revoke_reason: str | None = None


@dataclass
class _RefreshToken:
    family_id: UUID
    expire_time: datetime
    spent: bool = False


class InMemoryTokenStore:
    """A TokenStore in one process; `account_lookups` tells whether sign-in read an account."""

    def __init__(self) -> None:
        self.credentials: dict[UUID, PasswordCredential] = {}
        self.people: dict[UUID, PersonAccess] = {}
        self.clients: dict[UUID, Client] = {}
        self.throttle: dict[str, tuple[datetime, int]] = {}
        self.families: dict[UUID, _Family] = {}
        self.tokens: dict[bytes, _RefreshToken] = {}
        self.account_lookups = 0

    # Set-up helpers for tests.

    def add_person(
        self,
        username: str,
        password_hash: str,
        roles: Iterable[Role],
        set_time: datetime,
        organization_id: UUID | None = None,
    ) -> UUID:
        person_id = uuid4()
        self.credentials[person_id] = PasswordCredential(
            person_id, username, password_hash, set_time
        )
        self.people[person_id] = PersonAccess(frozenset(roles), organization_id)
        return person_id

    def set_roles(self, person_id: UUID, roles: Iterable[Role]) -> None:
        self.people[person_id] = replace(self.people[person_id], roles=frozenset(roles))

    def remove_person(self, person_id: UUID) -> None:
        del self.credentials[person_id]
        del self.people[person_id]

    # The port.

    async def throttled(self, address: str, now: datetime, policy: ThrottlePolicy) -> int | None:
        if address not in self.throttle:
            return None
        window_start, attempts = self.throttle[address]
        return policy.retry_after(window_start, attempts, now)

    async def count_failure(self, address: str, now: datetime, policy: ThrottlePolicy) -> None:
        window_start, attempts = self.throttle.get(address, (now, 0))
        if window_start + policy.window <= now:
            window_start, attempts = now, 0
        self.throttle[address] = (window_start, attempts + 1)

    async def account(self, username_key_: str) -> Account | None:
        self.account_lookups += 1
        for credential in self.credentials.values():
            if username_key(credential.username) == username_key_:
                access = self.people[credential.person_id]
                return Account(credential, access.roles, access.organization_id)
        return None

    async def record_wrong_password(
        self, person_id: UUID, now: datetime, policy: LockoutPolicy
    ) -> None:
        credential = self.credentials.get(person_id)
        if credential is None:
            return
        failures = credential.failed_attempts + 1
        locked_until = policy.lock_until(failures, now)
        if locked_until is None:
            self.credentials[person_id] = replace(credential, failed_attempts=failures)
        else:
            # A new lock period starts the count again.
            self.credentials[person_id] = replace(
                credential, failed_attempts=0, locked_until=locked_until
            )

    async def record_sign_in(self, person_id: UUID) -> None:
        credential = self.credentials[person_id]
        self.credentials[person_id] = replace(credential, failed_attempts=0, locked_until=None)

    async def person_access(self, person_id: UUID) -> PersonAccess | None:
        return self.people.get(person_id)

    async def start_family(
        self, person_id: UUID, scopes: frozenset[str], first_digest: bytes, times: RefreshTimes
    ) -> UUID:
        family_id = uuid4()
        family = _Family(person_id, scopes, times.now + times.family_lifetime)
        self.families[family_id] = family
        self.tokens[first_digest] = _RefreshToken(
            family_id, min(times.now + times.token_lifetime, family.expire_time)
        )
        return family_id

    async def exchange(
        self, digest: bytes, successor_digest: bytes, times: RefreshTimes
    ) -> RefreshExchange:
        token = self.tokens.get(digest)
        if token is None:
            return RefreshExchange(ExchangeOutcome.UNKNOWN)
        family = self.families[token.family_id]

        def answer(outcome: ExchangeOutcome) -> RefreshExchange:
            return RefreshExchange(outcome, family.person_id, token.family_id, family.scopes)

        if family.revoke_reason is not None:
            return answer(ExchangeOutcome.REVOKED)
        if token.spent:
            family.revoke_reason = "replayed"
            return answer(ExchangeOutcome.REPLAYED)
        if times.now >= token.expire_time or times.now >= family.expire_time:
            return answer(ExchangeOutcome.EXPIRED)
        token.spent = True
        self.tokens[successor_digest] = _RefreshToken(
            token.family_id, min(times.now + times.token_lifetime, family.expire_time)
        )
        return answer(ExchangeOutcome.EXCHANGED)

    async def family_of(self, digest: bytes) -> RefreshExchange | None:
        token = self.tokens.get(digest)
        if token is None:
            return None
        family = self.families[token.family_id]
        return RefreshExchange(
            ExchangeOutcome.UNKNOWN, family.person_id, token.family_id, family.scopes
        )

    async def revoke_family_of(self, digest: bytes, now: datetime) -> bool:
        token = self.tokens.get(digest)
        if token is None:
            return False
        family = self.families[token.family_id]
        if family.revoke_reason is not None:
            return False
        family.revoke_reason = "revoked"
        return True

    async def client(self, client_id: UUID) -> Client | None:
        return self.clients.get(client_id)


class PlainHasher:
    """A PasswordHasher without the cost: it counts the checks sign-in must always run."""

    PREFIX = "plain:"

    def __init__(self) -> None:
        self.verifications = 0
        self.decoys = 0

    async def hash(self, password: str) -> str:
        return self.PREFIX + password

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        return password_hash == self.PREFIX + password

    async def waste_time(self, password: str) -> None:
        self.decoys += 1


@dataclass(frozen=True)
class AuditEntry:
    outcome: str
    action: str
    subject_id: str | None
    reason: str
    actor: Actor | None = None


@dataclass
class RecordingAudit:
    entries: list[AuditEntry] = field(default_factory=list)

    async def allowed(
        self, action: str, *, subject_id: str | None, reason: str, actor: Actor
    ) -> None:
        self.entries.append(AuditEntry("allowed", action, subject_id, reason, actor))

    async def denied(self, action: str, *, subject_id: str | None, reason: str) -> None:
        self.entries.append(AuditEntry("denied", action, subject_id, reason))

    def of(self, action: str) -> list[tuple[str, str]]:
        return [(e.outcome, e.reason) for e in self.entries if e.action == action]


@dataclass
class _StoredKey:
    key: SigningKey
    activated_at: datetime
    retired_at: datetime | None = None


class InMemorySigningKeyStore:
    """A SigningKeyStore: the active key and the retired ones, as PostgreSQL keeps them;
    a rotated key signs at once (no pre-publication)."""

    def __init__(self) -> None:
        self.keys: list[_StoredKey] = []
        self.loads = 0

    async def ensure_active(self, now: datetime) -> bool:
        if any(stored.retired_at is None for stored in self.keys):
            return False
        self.keys.append(_StoredKey(SigningKey.generate(), now))
        return True

    async def rotate(self, now: datetime) -> str:
        for stored in self.keys:
            if stored.retired_at is None:
                stored.retired_at = max(now, stored.activated_at)
        key = SigningKey.generate()
        self.keys.append(_StoredKey(key, now))
        return key.kid

    async def load(self, now: datetime, grace: timedelta) -> KeySet:
        self.loads += 1
        by_kid = {stored.key.kid: stored.key for stored in self.keys}
        lifetimes = [KeyLifetime(s.key.kid, s.activated_at, s.retired_at) for s in self.keys]
        chosen = published(lifetimes, now, grace)
        if not chosen or not _signs_at(chosen[0], now):
            raise LookupError("no active signing key; start-up creates one")
        keys = [by_kid[lifetime.kid] for lifetime in chosen]
        return KeySet(keys[0], tuple(key.verification_key() for key in keys[1:]))


def _signs_at(key: KeyLifetime, now: datetime) -> bool:
    return key.activated_at <= now and (key.retired_at is None or now < key.retired_at)


class MonotonicStub:
    """A monotonic clock tests move by hand (SigningKeys' reload rate limit)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Partner:
    """A registered partner client with its ES384 key (SMART Backend Services)."""

    client: Client
    key: SigningKey

    @property
    def client_id(self) -> str:
        return str(self.client.client_id)


@dataclass
class TokenBench:
    """A TokenIssuer over the fakes, with a partner client whose key is registered."""

    clock: Clock
    policy: TokenPolicy
    store: InMemoryTokenStore
    hasher: PlainHasher
    audit: RecordingAudit
    key_store: InMemorySigningKeyStore
    keys: SigningKeys
    monotonic: MonotonicStub
    partner: Partner
    # A key is registered for these client ids, but no client record exists.
    unregistered_client_key: SigningKey
    unregistered_client_id: str
    malformed_client_id: str
    issuer: TokenIssuer

    def assertion(
        self,
        key: SigningKey | None = None,
        client_id: str | None = None,
        token_endpoint: str | None = None,
    ) -> str:
        """A fresh assertion (new jti), by default the partner's for our token endpoint."""
        return create_client_assertion(
            key or self.partner.key,
            client_id=client_id or self.partner.client_id,
            token_endpoint=token_endpoint or self.policy.token_endpoint,
            now=self.clock(),
        )

    def verifier(self) -> TokenVerifier:
        """What every service does with our access tokens, on the same clock."""
        return TokenVerifier(ISSUER, AUDIENCE, self.keys, clock=self._epoch)

    def _epoch(self) -> float:
        return self.clock().timestamp()


async def token_bench(clock: Clock, policy: TokenPolicy) -> TokenBench:
    store = InMemoryTokenStore()
    hasher = PlainHasher()
    audit = RecordingAudit()
    key_store = InMemorySigningKeyStore()
    monotonic = MonotonicStub()
    keys = SigningKeys(key_store, clock=clock, grace=timedelta(seconds=330), monotonic=monotonic)
    await keys.start()
    partner = Partner(
        Client(
            client_id=uuid4(),
            organization_id=uuid4(),
            kind=ClientKind.EHR_INTEGRATION,
            display_name="Harbour EHR (test)",
            scopes=("referrals.read", "referrals.write"),
            create_time=clock(),
        ),
        SigningKey.generate("ES384"),
    )
    store.clients[partner.client.client_id] = partner.client
    unregistered_key = SigningKey.generate("ES384")
    unregistered_id, malformed_id = str(uuid4()), "not-a-client-uuid"

    def epoch() -> float:
        return clock().timestamp()

    assertions = ClientAssertionVerifier(
        token_endpoint=policy.token_endpoint,
        client_keys=StaticClientKeys(
            {
                partner.client_id: [partner.key.verification_key()],
                unregistered_id: [unregistered_key.verification_key()],
                malformed_id: [unregistered_key.verification_key()],
            }
        ),
        jti_store=MemoryJtiStore(clock=epoch),
        clock=epoch,
    )
    issuer = TokenIssuer(
        store=store,
        hasher=hasher,
        keys=keys,
        assertions=assertions,
        audit=audit,
        policy=policy,
        clock=clock,
    )
    return TokenBench(
        clock=clock,
        policy=policy,
        store=store,
        hasher=hasher,
        audit=audit,
        key_store=key_store,
        keys=keys,
        monotonic=monotonic,
        partner=partner,
        unregistered_client_key=unregistered_key,
        unregistered_client_id=unregistered_id,
        malformed_client_id=malformed_id,
        issuer=issuer,
    )
