"""The referrals port over gRPC: protobuf in and out, a deadline on every call."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from enum import StrEnum
from functools import cache
from typing import Any, Generic, Protocol, TypeVar

import grpc
from grpc_health.v1 import health_pb2_grpc

from peerbridge.referrals.v1 import (
    referrals_resources_pb2 as resources,
)
from peerbridge.referrals.v1 import (
    referrals_service_pb2 as service,
)
from peerbridge.referrals.v1 import (
    referrals_service_pb2_grpc as service_grpc,
)
from peerbridge_platform.grpc import Caller, create_channel

from .errors import ServiceError
from .grpc_calls import CHANNEL_OPTIONS, Req, Resp, check_serving, unary_call
from .referrals import (
    Category,
    Direction,
    NewReferral,
    Party,
    PartyKind,
    Priority,
    ReadDisclosure,
    ReadView,
    Referral,
    ReferralPage,
    ReferralQuery,
    Status,
    StatusChange,
    StatusReasonCategory,
)

SERVICE = "referrals"
# The service accepts short, plain request ids; other idempotency keys go as their digest.
_PLAIN_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
# How the service names fields that the HTTP API names otherwise.
_CREATE_FIELDS = {"request_id": "Idempotency-Key"}
_LIST_FIELDS = {"page_token": "cursor", "page_size": "limit"}
_STATUS_FIELDS = {"status_reason": "reason", "status_reason_category": "reason_category"}

E = TypeVar("E", bound=StrEnum)


def request_id_for(idempotency_key: str | None) -> str:
    """The service's `request_id` for an Idempotency-Key ("" without one: no deduplication)."""
    if idempotency_key is None:
        return ""
    if _PLAIN_REQUEST_ID.fullmatch(idempotency_key):
        return idempotency_key
    return "sha256:" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:56]


class GrpcReferralsClient:
    """`ReferralsClient` over a grpc.aio channel; build with `connect`, end with `close`."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float) -> None:
        self._channel = channel
        self._timeout_s = timeout_s
        self._stub = service_grpc.ReferralsServiceStub(channel)
        self._health: Any = health_pb2_grpc.HealthStub(channel)
        self._health_name = service.DESCRIPTOR.services_by_name["ReferralsService"].full_name

    @classmethod
    def connect(cls, target: str, *, timeout_s: float) -> GrpcReferralsClient:
        channel = create_channel(target, default_timeout_s=timeout_s, options=CHANNEL_OPTIONS)
        return cls(channel, timeout_s=timeout_s)

    async def close(self) -> None:
        await self._channel.close()

    async def create_referral(
        self, new: NewReferral, *, caller: Caller, idempotency_key: str | None
    ) -> Referral:
        request = service.CreateReferralRequest(
            request_id=request_id_for(idempotency_key),
            subject_member_id=new.subject_member_id,
            direction=_codecs().direction.to_proto(new.direction),
            category=_codecs().category.to_proto(new.category),
            priority=_codecs().priority.to_proto(new.priority),
            reason=new.reason,
            requester=_party_to_proto(new.requester),
            recipient=_party_to_proto(new.recipient),
        )
        response = await self._call(self._stub.CreateReferral, request, caller, _CREATE_FIELDS)
        return referral_from_proto(response.referral)

    async def get_referral(self, referral_id: str, *, caller: Caller) -> Referral:
        request = service.GetReferralRequest(referral_id=referral_id)
        response = await self._call(self._stub.GetReferral, request, caller, {})
        return referral_from_proto(response.referral, response.disclosure)

    async def list_referrals(self, query: ReferralQuery, *, caller: Caller) -> ReferralPage:
        request = service.ListReferralsRequest(page_size=query.limit, page_token=query.cursor or "")
        if query.subject_member_id is not None:
            request.subject_member_id = query.subject_member_id
        if query.status is not None:
            request.status = _codecs().status.to_proto(query.status)
        response = await self._call(self._stub.ListReferrals, request, caller, _LIST_FIELDS)
        disclosures: list[Any] = list(response.disclosures) or [None] * len(response.referrals)
        return ReferralPage(
            items=[
                referral_from_proto(r, d)
                for r, d in zip(response.referrals, disclosures, strict=True)
            ],
            next_cursor=response.next_page_token or None,
        )

    async def update_status(self, change: StatusChange, *, caller: Caller) -> Referral:
        request = service.UpdateReferralStatusRequest(
            referral_id=change.referral_id,
            status=_codecs().status.to_proto(change.status),
            status_reason=change.reason or "",
            outcome=change.outcome or "",
            expected_version=change.expected_version or 0,
        )
        if change.reason_category is not None:
            request.status_reason_category = _codecs().reason_category.to_proto(
                change.reason_category
            )
        response = await self._call(
            self._stub.UpdateReferralStatus, request, caller, _STATUS_FIELDS
        )
        return referral_from_proto(response.referral, response.disclosure)

    async def check_serving(self) -> None:
        await check_serving(self._health, self._health_name, self._timeout_s)

    async def _call(
        self,
        method: Callable[..., Awaitable[Resp]],
        request: Req,
        caller: Caller,
        field_names: Mapping[str, str],
    ) -> Resp:
        return await unary_call(
            SERVICE,
            method,
            request,
            caller=caller,
            timeout_s=self._timeout_s,
            field_names=field_names,
        )


def referral_from_proto(
    message: resources.Referral, disclosure: service.ReadDisclosure | None = None
) -> Referral:
    return Referral(
        referral_id=message.referral_id,
        subject_member_id=message.subject_member_id,
        direction=_codecs().direction.from_proto(message.direction),
        # UNSPECIFIED: withheld from a redacted read.
        category=_codecs().category.from_proto(message.category) if message.category else None,
        priority=_codecs().priority.from_proto(message.priority),
        reason=message.reason,
        requester=_party_from_proto(message.requester),
        recipient=_party_from_proto(message.recipient),
        status=_codecs().status.from_proto(message.status),
        created_at=message.create_time.ToDatetime(tzinfo=UTC),
        updated_at=message.update_time.ToDatetime(tzinfo=UTC),
        version=message.version,
        status_reason=message.status_reason or None,
        status_reason_category=(
            _codecs().reason_category.from_proto(message.status_reason_category)
            if message.status_reason_category
            else None
        ),
        outcome=message.outcome or None,
        disclosure=_disclosure_from_proto(disclosure),
    )


def _disclosure_from_proto(message: service.ReadDisclosure | None) -> ReadDisclosure | None:
    """None when the read disclosed nothing: the service says so with no reason (the
    requesting side's reads, the member's own)."""
    if message is None or not message.view or not message.reason:
        return None
    return ReadDisclosure(_codecs().read_view.from_proto(message.view), message.reason)


def _party_to_proto(party: Party) -> resources.Party:
    message = resources.Party(
        kind=_codecs().party_kind.to_proto(party.kind),
        organization_id=party.organization_id,
        display_name=party.display_name,
    )
    if party.practitioner_id is not None:
        message.practitioner_id = party.practitioner_id
    return message


def _party_from_proto(message: resources.Party) -> Party:
    return Party(
        kind=_codecs().party_kind.from_proto(message.kind),
        organization_id=message.organization_id,
        display_name=message.display_name,
        practitioner_id=message.practitioner_id if message.HasField("practitioner_id") else None,
    )


class _ProtoEnum(Protocol):
    @property
    def DESCRIPTOR(self) -> Any: ...

    def Value(self, name: str) -> Any: ...


class EnumCodec(Generic[E]):
    """Translates one port enum to its protobuf enum by name (`IN_PROGRESS` is
    `REFERRAL_STATUS_IN_PROGRESS`) and back; an unknown number raises ServiceError."""

    def __init__(self, enum: type[E], proto_enum: _ProtoEnum, prefix: str) -> None:
        self._name = proto_enum.DESCRIPTOR.name
        self._numbers: dict[E, Any] = {m: proto_enum.Value(prefix + m.name) for m in enum}
        self._members = {number: member for member, number in self._numbers.items()}

    def to_proto(self, member: E) -> Any:
        return self._numbers[member]

    def from_proto(self, number: int) -> E:
        try:
            return self._members[number]
        except KeyError:
            raise ServiceError(
                service=SERVICE,
                code=grpc.StatusCode.UNKNOWN,
                message=f"the service sent {self._name} {number}, unknown to the gateway",
            ) from None


@dataclass(frozen=True)
class _Codecs:
    direction: EnumCodec[Direction]
    category: EnumCodec[Category]
    priority: EnumCodec[Priority]
    status: EnumCodec[Status]
    party_kind: EnumCodec[PartyKind]
    reason_category: EnumCodec[StatusReasonCategory]
    read_view: EnumCodec[ReadView]


@cache
def _codecs() -> _Codecs:
    # Built on first use, never at import.
    return _Codecs(
        direction=EnumCodec(Direction, resources.ReferralDirection, "REFERRAL_DIRECTION_"),
        category=EnumCodec(Category, resources.ReferralCategory, "REFERRAL_CATEGORY_"),
        priority=EnumCodec(Priority, resources.ReferralPriority, "REFERRAL_PRIORITY_"),
        status=EnumCodec(Status, resources.ReferralStatus, "REFERRAL_STATUS_"),
        party_kind=EnumCodec(PartyKind, resources.PartyKind, "PARTY_KIND_"),
        reason_category=EnumCodec(
            StatusReasonCategory,
            resources.ReferralStatusReasonCategory,
            "REFERRAL_STATUS_REASON_CATEGORY_",
        ),
        read_view=EnumCodec(ReadView, service.ReadView, "READ_VIEW_"),
    )
