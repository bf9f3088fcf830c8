"""Consents kept in memory behind the port: for tests and for running the gateway alone.

It keeps the parts of the contract that the gateway relies on (idempotency per caller and
key, NOT_FOUND, revoking twice is fine, newest first, cursors tied to their member); the
2.31 checks and who sees which consent are the referrals service's, tested there and
through the gateway in the integration tests. A test makes it fail with `failures`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import grpc

from peerbridge_platform.grpc import Caller

from .consents import Consent, ConsentPage, ConsentQuery, ConsentStatus, ConsentTerms
from .errors import ServiceError
from .in_memory import SERVICE, decode_cursor, encode_cursor


@dataclass
class InMemoryConsents:
    consents: list[Consent] = field(default_factory=list)
    # The next calls raise these, in order.
    failures: list[Exception] = field(default_factory=list)
    record_calls: int = 0
    _keys: dict[tuple[str, str], Consent] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _epoch: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 9, 0, tzinfo=UTC))

    async def record_consent(
        self, terms: ConsentTerms, *, caller: Caller, idempotency_key: str | None
    ) -> Consent:
        self.record_calls += 1
        self._maybe_fail()
        scope = (caller.principal or "", idempotency_key) if idempotency_key else None
        if scope is not None and scope in self._keys:
            first = self._keys[scope]
            if first.terms != terms:
                raise ServiceError(
                    SERVICE, grpc.StatusCode.ABORTED, "request_id was used for other terms"
                )
            return first
        number = next(self._ids)
        consent = Consent(
            consent_id=f"00000000-0000-4000-9000-{number:012d}",
            terms=terms,
            status=ConsentStatus.ACTIVE,
            recorded_by=caller.principal or "",
            created_at=self._epoch + timedelta(seconds=number),
            version=1,
        )
        self.consents.append(consent)
        if scope is not None:
            self._keys[scope] = consent
        return consent

    async def revoke_consent(
        self, consent_id: str, reason: str | None, *, caller: Caller
    ) -> Consent:
        consent = await self.get_consent(consent_id, caller=caller)
        if consent.status is ConsentStatus.REVOKED:
            return consent
        revoked = replace(
            consent,
            status=ConsentStatus.REVOKED,
            revoked_at=consent.created_at + timedelta(hours=1),
            revoked_by=caller.principal,
            revocation_reason=reason,
            version=consent.version + 1,
        )
        self.consents[self.consents.index(consent)] = revoked
        return revoked

    async def get_consent(self, consent_id: str, *, caller: Caller) -> Consent:
        self._maybe_fail()
        for consent in self.consents:
            if consent.consent_id == consent_id:
                return consent
        raise ServiceError(SERVICE, grpc.StatusCode.NOT_FOUND, f"consent {consent_id} not found")

    async def list_consents(self, query: ConsentQuery, *, caller: Caller) -> ConsentPage:
        self._maybe_fail()
        filters: list[str | None] = [query.subject_member_id]
        start = decode_cursor(query.cursor, filters)
        matching = [
            c
            for c in reversed(self.consents)
            if c.terms.subject_member_id == query.subject_member_id
        ]
        end = start + query.limit
        cursor = encode_cursor(end, filters) if end < len(matching) else None
        return ConsentPage(items=matching[start:end], next_cursor=cursor)

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)
