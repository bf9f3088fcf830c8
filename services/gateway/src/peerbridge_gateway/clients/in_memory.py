"""An in-memory referrals service behind the port: for tests and for running the gateway alone.

It keeps the contract the real service keeps (idempotency per caller and key,
NOT_FOUND, newest first, cursors tied to their filters), and lets a test make
it fail, stall or stop serving.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import grpc

from peerbridge_platform.errors import FieldViolation
from peerbridge_platform.grpc import Caller

from .errors import NotServing, ServiceError
from .referrals import NewReferral, Referral, ReferralPage, ReferralQuery, Status, StatusChange

SERVICE = "referrals"


@dataclass
class InMemoryReferrals:
    referrals: list[Referral] = field(default_factory=list)
    serving: bool = True
    # The next calls raise these, in order.
    failures: list[Exception] = field(default_factory=list)
    # When set, create_referral waits for it before creating.
    gate: asyncio.Event | None = None
    create_calls: int = 0
    _keys: dict[tuple[str, str], tuple[NewReferral, Referral]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _epoch: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 9, 0, tzinfo=UTC))

    async def create_referral(
        self, new: NewReferral, *, caller: Caller, idempotency_key: str | None
    ) -> Referral:
        self.create_calls += 1
        self._maybe_fail()
        if self.gate is not None:
            await self.gate.wait()
        scope = (caller.principal or "", idempotency_key) if idempotency_key else None
        if scope is not None and scope in self._keys:
            first, referral = self._keys[scope]
            if first != new:
                raise ServiceError(
                    SERVICE, grpc.StatusCode.ABORTED, "request_id was used for another referral"
                )
            return referral
        number = next(self._ids)
        now = self._epoch + timedelta(seconds=number)
        referral = Referral(
            referral_id=f"00000000-0000-4000-8000-{number:012d}",
            subject_member_id=new.subject_member_id,
            direction=new.direction,
            category=new.category,
            priority=new.priority,
            reason=new.reason,
            requester=new.requester,
            recipient=new.recipient,
            status=Status.REQUESTED,
            created_at=now,
            updated_at=now,
            version=1,
        )
        self.referrals.append(referral)
        if scope is not None:
            self._keys[scope] = (new, referral)
        return referral

    async def get_referral(self, referral_id: str, *, caller: Caller) -> Referral:
        self._maybe_fail()
        for referral in self.referrals:
            if referral.referral_id == referral_id:
                return referral
        raise ServiceError(SERVICE, grpc.StatusCode.NOT_FOUND, "no such referral")

    async def list_referrals(self, query: ReferralQuery, *, caller: Caller) -> ReferralPage:
        self._maybe_fail()
        filters = [query.subject_member_id, query.status]
        start = decode_cursor(query.cursor, filters)
        matching = [
            r
            for r in reversed(self.referrals)
            if query.subject_member_id in (None, r.subject_member_id)
            and query.status in (None, r.status)
        ]
        page = matching[start : start + query.limit]
        more = start + query.limit < len(matching)
        cursor = encode_cursor(start + query.limit, filters) if more else None
        return ReferralPage(items=page, next_cursor=cursor)

    async def update_status(self, change: StatusChange, *, caller: Caller) -> Referral:
        """Applies any change (who may move which referral where is the real service's
        business, tested there); keeps its version check and NOT_FOUND."""
        self._maybe_fail()
        for index, referral in enumerate(self.referrals):
            if referral.referral_id != change.referral_id:
                continue
            expected = change.expected_version
            if expected is not None and expected != referral.version:
                raise ServiceError(
                    SERVICE, grpc.StatusCode.ABORTED, "the referral changed since it was read"
                )
            updated = replace(
                referral,
                status=change.status,
                status_reason=change.reason,
                status_reason_category=change.reason_category,
                outcome=change.outcome,
                version=referral.version + 1,
                updated_at=referral.updated_at + timedelta(seconds=1),
            )
            self.referrals[index] = updated
            return updated
        raise ServiceError(SERVICE, grpc.StatusCode.NOT_FOUND, "no such referral")

    async def check_serving(self) -> None:
        if not self.serving:
            raise NotServing("NOT_SERVING")

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)


def encode_cursor(offset: int, filters: list[str | None]) -> str:
    raw = json.dumps({"o": offset, "f": filters}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str | None, filters: list[str | None]) -> int:
    """The offset `cursor` stands for; INVALID_ARGUMENT when it is not one of ours or was
    issued for other filters."""
    if cursor is None:
        return 0
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        offset, given = int(body["o"]), body["f"]
    except (ValueError, KeyError, TypeError) as error:
        raise _bad_cursor("is not a cursor from this service") from error
    if given != filters:
        raise _bad_cursor("was issued for other filters")
    return offset


def _bad_cursor(description: str) -> ServiceError:
    return ServiceError(
        SERVICE,
        grpc.StatusCode.INVALID_ARGUMENT,
        "cursor is not valid",
        [FieldViolation("cursor", description)],
    )
