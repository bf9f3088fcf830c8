"""Handlers for credentials: people's passwords, partner clients' keys, the signing key."""

from __future__ import annotations

import json
from uuid import UUID

from peerbridge_platform.auth import KeyFormatError, VerificationKey
from peerbridge_platform.auth.client_assertion import DEFAULT_ASSERTION_ALGORITHMS
from peerbridge_platform.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from peerbridge_platform.logging import get_logger

from ..domain import access_rules as rules
from ..domain.checks import Violations, parse_uuid
from ..domain.commands import AddClientKey, RemoveClientKey, SetPassword
from ..domain.credentials import (
    PasswordCredential,
    check_new_password,
    check_username,
    username_key,
)
from .access import audit, authorize, caller, enforce, person_facts, recording_denials
from .context import HandlerContext
from .lookups import locked_person, person_not_found, require_uuid
from .signing_keys import SigningKeys
from .token_ports import PasswordHasher
from .unit_of_work import UnitOfWork

log = get_logger(__name__)

# Enough for a rotation (old and new) and a spare; more is a sign of keys never removed.
MAX_KEYS_PER_CLIENT = 3
_MAX_JWK_CHARS = 8192


async def set_password(
    command: SetPassword, uow: UnitOfWork, context: HandlerContext, hasher: PasswordHasher
) -> None:
    """Set a person's username and password; their sessions end (refresh tokens revoked)."""
    violations: Violations = []
    person_id = parse_uuid("person_id", command.person_id, violations)
    check_username(command.username, violations)
    check_new_password(command.new_password, command.username, violations)
    if violations or person_id is None:
        raise InvalidArgument("the credentials are not valid", violations)
    principal = caller()
    access = rules.about_person(principal, "person.set_password", person_id)
    # Hashed before the transaction opens: it takes tens of milliseconds on purpose.
    password_hash = await hasher.hash(command.new_password)
    async with recording_denials(uow), uow:
        person = await locked_person(uow, person_id)
        decision = rules.set_password(principal, await person_facts(uow, person))
        enforce(decision, access, person_not_found(person_id))
        current = await uow.credentials.password_of(person_id)
        # People changing their own prove it is them; an administrator resets.
        proves_self = rules.is_self(principal, person_id) and current is not None
        if proves_self and not await hasher.verify(
            current.password_hash if current else "", command.current_password
        ):
            raise PermissionDenied("current_password is not the person's password")
        key = username_key(command.username)
        owner = await uow.credentials.username_owner(key)
        if owner is not None and owner != person_id:
            raise AlreadyExists(
                "username is taken",
                [FieldViolation("username", "is taken; choose another")],
            )
        credential = PasswordCredential(person_id, command.username, password_hash, context.now())
        await uow.credentials.put_password(credential, key)
        ended = await uow.credentials.end_sessions(person_id, context.now(), "password_changed")
        await audit(uow, access, decision)
        await uow.commit()
    log.info("password set", person_id=str(person_id), sessions_ended=ended)


def parse_client_key(public_jwk_json: str) -> VerificationKey:
    """A public key for client assertions, or InvalidArgument saying what is wrong with it."""
    field = "public_jwk_json"
    try:
        if len(public_jwk_json) > _MAX_JWK_CHARS:
            raise KeyFormatError(f"is longer than {_MAX_JWK_CHARS} characters")
        key = VerificationKey.from_jwk(json.loads(public_jwk_json))
    except (ValueError, KeyFormatError) as error:
        # json.JSONDecodeError is a ValueError; neither message echoes key material.
        reason = str(error) if isinstance(error, KeyFormatError) else "is not a JSON object"
        raise InvalidArgument("the key is not valid", [FieldViolation(field, reason)]) from None
    if key.algorithm not in DEFAULT_ASSERTION_ALGORITHMS:
        allowed = ", ".join(DEFAULT_ASSERTION_ALGORITHMS)
        raise InvalidArgument(
            "the key's algorithm is not accepted",
            [FieldViolation(field, f"algorithm must be one of: {allowed}")],
        )
    return key


async def add_client_key(command: AddClientKey, uow: UnitOfWork, context: HandlerContext) -> str:
    """Register a client's public key; its kid is the key's RFC 7638 thumbprint."""
    client_id = require_uuid("client_id", command.client_id)
    key = parse_client_key(command.public_jwk_json)
    kid = key.thumbprint()
    jwk = {**key.to_jwk(), "kid": kid}
    access = rules.administration("client.add_key", "client")
    decision = await authorize(uow, rules.administer(caller()), access)
    async with uow:
        await _existing_client(uow, client_id)
        kids = await uow.credentials.client_key_ids(client_id)
        if kid in kids:
            return kid
        if len(kids) >= MAX_KEYS_PER_CLIENT:
            raise FailedPrecondition(f"the client has {MAX_KEYS_PER_CLIENT} keys; remove one first")
        await uow.credentials.add_client_key(client_id, kid, jwk, context.now())
        await audit(uow, access.on(client_id), decision)
        await uow.commit()
    log.info("client key added", client_id=str(client_id), kid=kid, algorithm=key.algorithm)
    return kid


async def remove_client_key(command: RemoveClientKey, uow: UnitOfWork) -> None:
    client_id = require_uuid("client_id", command.client_id)
    if not command.kid or len(command.kid) > 256:
        raise InvalidArgument("kid is not valid", [FieldViolation("kid", "is required")])
    access = rules.administration("client.remove_key", "client")
    decision = await authorize(uow, rules.administer(caller()), access)
    async with uow:
        await _existing_client(uow, client_id)
        if await uow.credentials.remove_client_key(client_id, command.kid):
            await audit(uow, access.on(client_id), decision)
            await uow.commit()
            log.info("client key removed", client_id=str(client_id), kid=command.kid)


async def rotate_signing_key(uow: UnitOfWork, keys: SigningKeys) -> str:
    """A new key signs from now on; the old one keeps verifying tokens in flight."""
    access = rules.administration("signing_key.rotate", "signing_key")
    decision = await authorize(uow, rules.administer(caller()), access)
    kid = await keys.rotate()
    async with uow:
        await audit(uow, access, decision)
        await uow.commit()
    return kid


async def _existing_client(uow: UnitOfWork, client_id: UUID) -> None:
    if await uow.clients.get(client_id) is None:
        raise NotFound(f"client {client_id} not found")
