"""The token endpoint's use cases over in-memory ports and a clock moved by hand.

The integration tests run the happy paths against PostgreSQL; these pin the
timing of lockout, throttle and refresh lifetimes, what every refusal runs
and says, and what the audit trail learns.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from peerbridge_identity.domain.credentials import LockoutPolicy, ThrottlePolicy
from peerbridge_identity.domain.values import Role
from peerbridge_identity.service_layer.token_grants import (
    BAD_PASSWORD,
    BAD_REFRESH_TOKEN,
    REFRESH_TOKEN_PREFIX,
    IssuedTokens,
    TokenPolicy,
)
from peerbridge_platform.auth import CLIENT_ASSERTION_TYPE, SigningKey
from peerbridge_platform.auth import Role as TokenRole
from peerbridge_platform.auth.scopes import ROLE_SCOPES
from peerbridge_platform.errors import (
    FieldViolation,
    InvalidArgument,
    ResourceExhausted,
    Unauthenticated,
)

from ..conftest import MovableClock
from .token_fakes import AUDIENCE, ISSUER, TokenBench, token_bench

USERNAME = "ava-test"
PASSWORD = "ava synthetic passphrase 1"
ADDRESS = "203.0.113.7"
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
MAX_ATTEMPTS = 10
WINDOW = timedelta(minutes=1)
REFRESH_LIFETIME = timedelta(hours=12)
SESSION_LIFETIME = timedelta(days=7)
MEMBER_SCOPES = tuple(sorted(ROLE_SCOPES[TokenRole.MEMBER]))


@pytest.fixture
async def bench(clock: MovableClock) -> TokenBench:
    policy = TokenPolicy(
        issuer=ISSUER,
        audience=AUDIENCE,
        refresh_token_lifetime=REFRESH_LIFETIME,
        session_lifetime=SESSION_LIFETIME,
        lockout=LockoutPolicy(max_failures=MAX_FAILURES, lock_for=LOCK_FOR),
        throttle=ThrottlePolicy(max_attempts=MAX_ATTEMPTS, window=WINDOW),
    )
    return await token_bench(clock, policy)


@pytest.fixture
def ava(bench: TokenBench, clock: MovableClock) -> UUID:
    return bench.store.add_person(USERNAME, "plain:" + PASSWORD, [Role.MEMBER], clock())


async def sign_in(
    bench: TokenBench,
    password: str = PASSWORD,
    *,
    username: str = USERNAME,
    scopes: list[str] | None = None,
    address: str = ADDRESS,
) -> IssuedTokens:
    return await bench.issuer.password_grant(username, password, scopes or [], address)


async def refused_sign_in(
    bench: TokenBench, password: str, *, username: str = USERNAME, address: str = ADDRESS
) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        await sign_in(bench, password, username=username, address=address)
    assert caught.value.message == BAD_PASSWORD
    return caught.value


async def lock(bench: TokenBench) -> None:
    # Each from its own address, so the throttle stays out of the way.
    for attempt in range(MAX_FAILURES):
        await refused_sign_in(bench, f"wrong guess {attempt}", address=f"198.51.100.{attempt}")


async def refused_refresh(bench: TokenBench, token: str, scopes: list[str] | None = None) -> None:
    with pytest.raises(Unauthenticated) as caught:
        await bench.issuer.refresh_grant(token, scopes or [])
    assert caught.value.message == BAD_REFRESH_TOKEN


def violated_fields(caught: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [violation.field for violation in caught.value.violations]


# Password grant.


async def test_sign_in_gives_a_verifiable_token_and_a_refresh_token(
    bench: TokenBench, ava: UUID
) -> None:
    issued = await sign_in(bench, username="AVA-Test")

    principal = await bench.verifier().verify(issued.access_token)
    assert principal.subject == str(ava)
    assert principal.roles == {TokenRole.MEMBER}
    assert issued.scopes == MEMBER_SCOPES == tuple(sorted(principal.scopes))
    assert issued.refresh_token.startswith(REFRESH_TOKEN_PREFIX)
    assert issued.expires_in == 300
    [entry] = bench.audit.entries
    assert (entry.outcome, entry.action, entry.subject_id, entry.reason) == (
        "allowed",
        "auth.sign_in",
        str(ava),
        "password",
    )
    assert entry.actor is not None
    assert (entry.actor.subject_id, entry.actor.roles) == (str(ava), ("member",))
    # Nothing went wrong, so nothing counts against the address.
    assert ADDRESS not in bench.store.throttle


async def test_an_unknown_username_runs_the_decoy_and_says_what_a_wrong_password_says(
    bench: TokenBench, ava: UUID
) -> None:
    unknown = await refused_sign_in(bench, PASSWORD, username="nobody-here")
    assert (bench.hasher.decoys, bench.hasher.verifications) == (1, 0)

    wrong = await refused_sign_in(bench, "not the passphrase")
    assert (bench.hasher.decoys, bench.hasher.verifications) == (1, 1)

    assert unknown.message == wrong.message == BAD_PASSWORD
    assert bench.audit.of("auth.sign_in") == [
        ("denied", "unknown username"),
        ("denied", "wrong password"),
    ]
    assert [entry.subject_id for entry in bench.audit.entries] == [None, str(ava)]
    assert bench.store.throttle[ADDRESS][1] == 2


async def test_a_locked_account_refuses_the_right_password_after_checking_it(
    bench: TokenBench, ava: UUID
) -> None:
    await lock(bench)
    checks_before = bench.hasher.verifications

    await refused_sign_in(bench, PASSWORD)

    # The hash is checked anyway, so a locked account answers as slowly as any other.
    assert bench.hasher.verifications == checks_before + 1
    assert bench.audit.of("auth.sign_in")[-1] == ("denied", "account locked")
    assert bench.store.credentials[ava].locked_until == bench.clock() + LOCK_FOR


async def test_the_lock_comes_at_exactly_max_failures_and_a_sign_in_resets_the_count(
    bench: TokenBench, ava: UUID
) -> None:
    for attempt in range(MAX_FAILURES - 1):
        await refused_sign_in(bench, f"wrong guess {attempt}")
    await sign_in(bench)
    assert bench.store.credentials[ava].failed_attempts == 0

    for attempt in range(MAX_FAILURES - 1):
        await refused_sign_in(bench, f"wrong guess {attempt}")
    assert bench.store.credentials[ava].locked_until is None
    await refused_sign_in(bench, "the last wrong guess")
    await refused_sign_in(bench, PASSWORD)

    assert bench.audit.of("auth.sign_in")[-1] == ("denied", "account locked")


async def test_the_lock_ends_after_lock_for(
    bench: TokenBench, ava: UUID, clock: MovableClock
) -> None:
    await lock(bench)

    clock.advance(seconds=LOCK_FOR.total_seconds() - 1)
    await refused_sign_in(bench, PASSWORD, address="192.0.2.1")
    clock.advance(seconds=1)
    issued = await sign_in(bench, address="192.0.2.1")

    assert issued.access_token
    assert bench.store.credentials[ava].locked_until is None


async def test_wrong_passwords_during_a_lock_do_not_extend_it(
    bench: TokenBench, ava: UUID, clock: MovableClock
) -> None:
    await lock(bench)
    for minute in range(1, 6):
        clock.advance(minutes=2)
        await refused_sign_in(bench, "still guessing", address=f"192.0.2.{minute}")

    clock.advance(seconds=LOCK_FOR.total_seconds() - 10 * 60)
    assert (await sign_in(bench, address="192.0.2.99")).access_token


async def test_a_throttled_address_is_refused_before_any_account_is_read(
    bench: TokenBench, ava: UUID, clock: MovableClock
) -> None:
    # Password spraying: one wrong guess at each of many usernames.
    for attempt in range(MAX_ATTEMPTS):
        await refused_sign_in(bench, PASSWORD, username=f"sprayed-{attempt}")
    lookups, decoys = bench.store.account_lookups, bench.hasher.decoys
    clock.advance(seconds=20.5)

    with pytest.raises(ResourceExhausted) as throttled:
        await sign_in(bench)

    assert throttled.value.retry_after_s == 40
    assert (bench.store.account_lookups, bench.hasher.decoys) == (lookups, decoys)
    assert bench.hasher.verifications == 0
    assert bench.audit.of("auth.sign_in")[-1] == ("denied", "throttled")
    # Another address is not affected, and this one may try again once the window ends.
    assert (await sign_in(bench, address="198.51.100.200")).access_token
    clock.advance(seconds=39.5)
    assert (await sign_in(bench)).access_token


async def test_the_throttle_window_starts_again_after_it_ends(
    bench: TokenBench, clock: MovableClock
) -> None:
    for attempt in range(MAX_ATTEMPTS - 1):
        await refused_sign_in(bench, "guess", username=f"sprayed-{attempt}")
    clock.advance(seconds=WINDOW.total_seconds())
    await refused_sign_in(bench, "guess", username="sprayed-late")

    assert bench.store.throttle[ADDRESS] == (clock(), 1)


async def test_the_username_is_required_and_bounded(bench: TokenBench) -> None:
    for username in ("", "x" * 4097):
        with pytest.raises(InvalidArgument) as caught:
            await sign_in(bench, username=username)
        assert violated_fields(caught) == ["username"]
    assert bench.store.account_lookups == 0


async def test_an_empty_password_is_just_a_wrong_one(bench: TokenBench, ava: UUID) -> None:
    await refused_sign_in(bench, "")

    assert bench.hasher.verifications == 1
    assert bench.audit.of("auth.sign_in") == [("denied", "wrong password")]


async def test_a_password_longer_than_any_allowed_one_never_signs_in(
    bench: TokenBench, clock: MovableClock
) -> None:
    longest = ("harbour light " * 20)[:256]
    bench.store.add_person("ben-test", "plain:" + longest, [Role.MEMBER], clock())

    await refused_sign_in(bench, longest + "!", username="ben-test")


async def test_sign_in_scopes_are_what_the_roles_allow(bench: TokenBench, ava: UUID) -> None:
    narrow = await sign_in(bench, scopes=["people.read"])
    with pytest.raises(InvalidArgument) as wider:
        await sign_in(bench, scopes=["people.read", "admin"])

    assert narrow.scopes == ("people.read",)
    assert violated_fields(wider) == ["scopes"]
    assert wider.value.violations == [FieldViolation("scopes", "scope not allowed: admin")]


# Refresh grant.


async def test_a_refresh_token_is_exchanged_once_and_its_successor_carries_on(
    bench: TokenBench, ava: UUID, clock: MovableClock
) -> None:
    first = await sign_in(bench)
    clock.advance(minutes=5)
    second = await bench.issuer.refresh_grant(first.refresh_token, [])
    third = await bench.issuer.refresh_grant(second.refresh_token, [])

    principal = await bench.verifier().verify(third.access_token)
    assert principal.subject == str(ava)
    assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3
    assert third.scopes == MEMBER_SCOPES
    assert bench.audit.of("auth.refresh") == [("allowed", "refresh token")] * 2


async def test_a_replay_anywhere_in_the_chain_ends_the_whole_session(
    bench: TokenBench, ava: UUID
) -> None:
    first = await sign_in(bench)
    second = await bench.issuer.refresh_grant(first.refresh_token, [])
    third = await bench.issuer.refresh_grant(second.refresh_token, [])

    await refused_refresh(bench, second.refresh_token)
    await refused_refresh(bench, third.refresh_token)
    await refused_refresh(bench, first.refresh_token)

    assert bench.audit.of("auth.refresh")[2:] == [
        ("denied", "replayed"),
        ("denied", "revoked"),
        ("denied", "revoked"),
    ]
    assert {entry.subject_id for entry in bench.audit.entries[3:]} == {str(ava)}


async def test_a_refresh_token_expires_after_its_own_lifetime(
    bench: TokenBench, ava: UUID, clock: MovableClock
) -> None:
    first, second = await sign_in(bench), await sign_in(bench)

    clock.advance(seconds=REFRESH_LIFETIME.total_seconds() - 1)
    assert await bench.issuer.refresh_grant(first.refresh_token, [])
    clock.advance(seconds=1)
    await refused_refresh(bench, second.refresh_token)

    assert bench.audit.of("auth.refresh")[-1] == ("denied", "expired")


async def test_the_session_ends_after_its_lifetime_however_often_it_refreshes(
    bench: TokenBench, ava: UUID, clock: MovableClock
) -> None:
    token = (await sign_in(bench)).refresh_token
    started = clock()
    while clock() + timedelta(hours=11) < started + SESSION_LIFETIME:
        clock.advance(hours=11)
        token = (await bench.issuer.refresh_grant(token, [])).refresh_token

    # The last successor expires with the session, not a full token lifetime later.
    clock.now = started + SESSION_LIFETIME
    await refused_refresh(bench, token)
    assert bench.audit.of("auth.refresh")[-1] == ("denied", "expired")


async def test_an_unknown_refresh_token_is_refused_without_a_subject(bench: TokenBench) -> None:
    await refused_refresh(bench, REFRESH_TOKEN_PREFIX + "never-issued")

    [entry] = bench.audit.entries
    assert (entry.outcome, entry.subject_id, entry.reason) == ("denied", None, "unknown")


async def test_the_refresh_token_is_required_and_bounded(bench: TokenBench) -> None:
    for token in ("", "pbr1." + "x" * 4096):
        with pytest.raises(InvalidArgument) as caught:
            await bench.issuer.refresh_grant(token, [])
        assert violated_fields(caught) == ["refresh_token"]


async def test_a_refresh_may_narrow_the_scopes_and_the_session_keeps_its_grant(
    bench: TokenBench, ava: UUID
) -> None:
    signed_in = await sign_in(bench)

    narrowed = await bench.issuer.refresh_grant(signed_in.refresh_token, ["people.read"])
    # RFC 6749 §6: without a scope the refresh gets what the sign-in granted.
    restored = await bench.issuer.refresh_grant(narrowed.refresh_token, [])

    assert narrowed.scopes == ("people.read",)
    assert (await bench.verifier().verify(narrowed.access_token)).scopes == {"people.read"}
    assert restored.scopes == MEMBER_SCOPES


async def test_a_refresh_never_widens_the_scopes_of_the_sign_in(
    bench: TokenBench, ava: UUID
) -> None:
    signed_in = await sign_in(bench, scopes=["people.read"])

    with pytest.raises(InvalidArgument) as caught:
        await bench.issuer.refresh_grant(signed_in.refresh_token, ["people.read", "people.write"])

    assert caught.value.violations == [FieldViolation("scopes", "scope not allowed: people.write")]


async def test_an_invalid_scope_at_refresh_leaves_the_refresh_token_usable(
    bench: TokenBench, ava: UUID
) -> None:
    signed_in = await sign_in(bench, scopes=["people.read"])
    with pytest.raises(InvalidArgument):
        await bench.issuer.refresh_grant(signed_in.refresh_token, ["admin"])

    assert await bench.issuer.refresh_grant(signed_in.refresh_token, [])


async def test_scopes_follow_role_changes_at_refresh(
    bench: TokenBench, clock: MovableClock
) -> None:
    sam = bench.store.add_person(
        "sam-test", "plain:" + PASSWORD, [Role.MEMBER, Role.PEER_SUPPORTER], clock()
    )
    session = await sign_in(bench, username="sam-test")
    other_session = await sign_in(bench, username="sam-test")
    assert "qualifications.write" in session.scopes

    bench.store.set_roles(sam, [Role.MEMBER])
    refreshed = await bench.issuer.refresh_grant(session.refresh_token, [])
    with pytest.raises(InvalidArgument) as caught:
        await bench.issuer.refresh_grant(other_session.refresh_token, ["qualifications.write"])

    assert refreshed.scopes == MEMBER_SCOPES
    principal = await bench.verifier().verify(refreshed.access_token)
    assert principal.roles == {TokenRole.MEMBER}
    assert violated_fields(caught) == ["scopes"]


async def test_a_person_who_is_gone_cannot_refresh(bench: TokenBench, ava: UUID) -> None:
    session = await sign_in(bench)
    bench.store.remove_person(ava)

    await refused_refresh(bench, session.refresh_token)

    assert bench.audit.of("auth.refresh") == [("denied", "person gone")]


# Client credentials grant.


async def client_token(
    bench: TokenBench,
    assertion: str | None = None,
    scopes: list[str] | None = None,
    assertion_type: str = CLIENT_ASSERTION_TYPE,
) -> IssuedTokens:
    return await bench.issuer.client_credentials_grant(
        assertion_type, assertion or bench.assertion(), scopes or [], ADDRESS
    )


async def test_a_client_gets_its_registered_scopes_and_no_more(bench: TokenBench) -> None:
    everything = await client_token(bench)
    narrow = await client_token(bench, scopes=["referrals.read"])
    with pytest.raises(InvalidArgument) as caught:
        await client_token(bench, scopes=["referrals.read", "people.read"])

    assert everything.scopes == ("referrals.read", "referrals.write")
    assert (everything.refresh_token, everything.expires_in) == ("", 300)
    principal = await bench.verifier().verify(narrow.access_token)
    partner = bench.partner
    assert (principal.subject, principal.client_id) == (partner.client_id, partner.client_id)
    assert principal.organization_id == str(partner.client.organization_id)
    assert principal.roles == {TokenRole.PARTNER_CLIENT}
    assert principal.scopes == {"referrals.read"}
    assert caught.value.violations == [FieldViolation("scopes", "scope not allowed: people.read")]
    kid = partner.key.kid
    assert (
        bench.audit.of("auth.client_credentials")[:2]
        == [
            ("allowed", f"private_key_jwt kid {kid}"),
        ]
        * 2
    )
    actor = bench.audit.entries[0].actor
    assert actor is not None
    assert (actor.client_id, actor.roles) == (partner.client_id, ("partner_client",))


async def test_the_assertion_type_must_be_jwt_bearer(bench: TokenBench) -> None:
    assertion = bench.assertion()
    for assertion_type in ("urn:ietf:params:oauth:client-assertion-type:saml2-bearer", ""):
        with pytest.raises(InvalidArgument) as caught:
            await client_token(bench, assertion, assertion_type=assertion_type)
        assert violated_fields(caught) == ["client_assertion_type"]
    with pytest.raises(InvalidArgument) as empty:
        await bench.issuer.client_credentials_grant(CLIENT_ASSERTION_TYPE, "", [], ADDRESS)

    assert violated_fields(empty) == ["client_assertion"]
    # Refused before verification: the assertion's jti was not used up.
    assert await client_token(bench, assertion)
    assert bench.audit.of("auth.client_credentials") == [
        ("allowed", f"private_key_jwt kid {bench.partner.key.kid}")
    ]


async def test_a_replayed_assertion_is_refused_and_counts_against_the_address(
    bench: TokenBench,
) -> None:
    assertion = bench.assertion()
    await client_token(bench, assertion)

    with pytest.raises(Unauthenticated) as caught:
        await client_token(bench, assertion)

    assert caught.value.message == "assertion was already used"
    assert bench.audit.of("auth.client_credentials")[-1] == (
        "denied",
        "assertion was already used",
    )
    assert bench.store.throttle[ADDRESS][1] == 1


async def test_assertions_for_another_endpoint_or_by_an_unregistered_key_are_refused(
    bench: TokenBench,
) -> None:
    refused = [
        bench.assertion(token_endpoint="https://elsewhere.test/v1/auth/token"),
        bench.assertion(key=SigningKey.generate("ES384")),
        bench.assertion(bench.unregistered_client_key, bench.unregistered_client_id),
        bench.assertion(bench.unregistered_client_key, bench.malformed_client_id),
    ]
    for assertion in refused:
        with pytest.raises(Unauthenticated):
            await client_token(bench, assertion)

    reasons = [reason for _, reason in bench.audit.of("auth.client_credentials")]
    assert reasons[1:] == [
        "assertion signed by a key the client did not register",
        "client unknown",
        "bad client id",
    ]
    assert {outcome for outcome, _ in bench.audit.of("auth.client_credentials")} == {"denied"}


async def test_a_throttled_address_gets_no_client_token(
    bench: TokenBench, clock: MovableClock
) -> None:
    for _ in range(MAX_ATTEMPTS):
        with pytest.raises(Unauthenticated):
            await client_token(bench, bench.assertion(key=SigningKey.generate("ES384")))

    with pytest.raises(ResourceExhausted) as caught:
        await client_token(bench)

    assert 1 <= caught.value.retry_after_s <= WINDOW.total_seconds()
    clock.advance(seconds=WINDOW.total_seconds())
    assert await client_token(bench)


async def test_a_throttled_client_is_audited_as_a_client_authentication(
    bench: TokenBench,
) -> None:
    for _ in range(MAX_ATTEMPTS):
        with pytest.raises(Unauthenticated):
            await client_token(bench, bench.assertion(key=SigningKey.generate("ES384")))
    with pytest.raises(ResourceExhausted):
        await client_token(bench)

    assert bench.audit.of("auth.client_credentials")[-1] == ("denied", "throttled")


# Revocation and keys.


async def test_revoking_unknown_empty_or_oversized_tokens_is_silent(bench: TokenBench) -> None:
    for token in ("", REFRESH_TOKEN_PREFIX + "never-issued", "x" * 5000, "not even a token"):
        await bench.issuer.revoke(token)

    assert bench.audit.entries == []


async def test_revoking_any_token_of_a_session_ends_it_once(bench: TokenBench, ava: UUID) -> None:
    first = await sign_in(bench)
    second = await bench.issuer.refresh_grant(first.refresh_token, [])

    await bench.issuer.revoke(first.refresh_token)  # spent, but it names the session
    await bench.issuer.revoke(second.refresh_token)

    await refused_refresh(bench, second.refresh_token)
    assert bench.audit.of("auth.revoke") == [("allowed", "refresh token family")]
    assert bench.audit.of("auth.refresh")[-1] == ("denied", "revoked")


async def test_tokens_signed_before_a_rotation_still_verify(bench: TokenBench, ava: UUID) -> None:
    before = await sign_in(bench)
    old_kid = bench.keys.key_set.active.kid

    new_kid = await bench.keys.rotate()
    after = await sign_in(bench)

    verifier = bench.verifier()
    assert (await verifier.verify(before.access_token)).subject == str(ava)
    assert (await verifier.verify(after.access_token)).subject == str(ava)
    assert bench.keys.key_set.active.kid == new_kid != old_kid
    assert '"d"' not in bench.issuer.jwks_json()


async def test_a_sibling_s_new_key_is_loaded_on_demand_at_most_once_per_interval(
    bench: TokenBench,
) -> None:
    loads = bench.key_store.loads
    sibling_kid = await bench.key_store.rotate(bench.clock())  # another instance rotated
    bench.monotonic.now += 5.0

    assert await bench.keys.get_key(sibling_kid) is not None
    assert await bench.keys.get_key("unknown-kid") is None
    bench.monotonic.now += 5.0
    assert await bench.keys.get_key("unknown-kid") is None

    assert bench.key_store.loads == loads + 2
