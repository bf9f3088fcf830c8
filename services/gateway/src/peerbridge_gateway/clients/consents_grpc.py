"""The consents port over gRPC: the referrals service's consent RPCs, a deadline on every call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import grpc

from peerbridge.referrals.v1 import referrals_consent_pb2 as consent_pb2
from peerbridge.referrals.v1 import referrals_service_pb2 as service
from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc
from peerbridge_platform.grpc import Caller
from peerbridge_platform.protobuf_time import optional_time

from .consents import (
    CaptureMethod,
    Consent,
    ConsentPage,
    ConsentQuery,
    ConsentStatus,
    ConsentTerms,
    InformationCategory,
    Purpose,
    RecipientClass,
)
from .grpc_calls import Req, Resp, unary_call
from .referrals_grpc import SERVICE, EnumCodec, request_id_for

_TERMS_PREFIX = "terms."
_LIST_FIELDS = {"page_token": "cursor", "page_size": "limit"}


def list_field_name(name: str) -> str:
    """The HTTP name of a field of a member's listing (consents, disclosures)."""
    return _LIST_FIELDS.get(name, name)


def record_field_name(name: str) -> str:
    """The HTTP name of a RecordConsent field: the body is the terms themselves."""
    if name == "request_id":
        return "Idempotency-Key"
    return name.removeprefix(_TERMS_PREFIX)


class GrpcConsentsClient:
    """`ConsentsClient` over a grpc.aio channel to the referrals service (the caller owns
    the channel)."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._stub = service_grpc.ReferralsServiceStub(channel)

    async def record_consent(
        self, terms: ConsentTerms, *, caller: Caller, idempotency_key: str | None
    ) -> Consent:
        request = service.RecordConsentRequest(
            request_id=request_id_for(idempotency_key), terms=terms_to_proto(terms)
        )
        response = await self._call(self._stub.RecordConsent, request, caller, record_field_name)
        return consent_from_proto(response.consent)

    async def revoke_consent(
        self, consent_id: str, reason: str | None, *, caller: Caller
    ) -> Consent:
        request = service.RevokeConsentRequest(consent_id=consent_id, reason=reason or "")
        response = await self._call(self._stub.RevokeConsent, request, caller, _same)
        return consent_from_proto(response.consent)

    async def get_consent(self, consent_id: str, *, caller: Caller) -> Consent:
        request = service.GetConsentRequest(consent_id=consent_id)
        response = await self._call(self._stub.GetConsent, request, caller, _same)
        return consent_from_proto(response.consent)

    async def list_consents(self, query: ConsentQuery, *, caller: Caller) -> ConsentPage:
        request = service.ListConsentsRequest(
            subject_member_id=query.subject_member_id,
            page_size=query.limit,
            page_token=query.cursor or "",
        )
        response = await self._call(self._stub.ListConsents, request, caller, list_field_name)
        return ConsentPage(
            items=[consent_from_proto(c) for c in response.consents],
            next_cursor=response.next_page_token or None,
        )

    async def _call(
        self,
        method: Callable[..., Awaitable[Resp]],
        request: Req,
        caller: Caller,
        field_names: Callable[[str], str],
    ) -> Resp:
        return await unary_call(
            SERVICE,
            method,
            request,
            caller=caller,
            timeout_s=self._timeout_s,
            field_names=field_names,
        )


def _same(name: str) -> str:
    return name


def terms_to_proto(terms: ConsentTerms) -> consent_pb2.ConsentTerms:
    codecs = _codecs()
    message = consent_pb2.ConsentTerms(
        subject_member_id=terms.subject_member_id,
        disclosing_organization_id=terms.disclosing_organization_id,
        categories=[codecs.category.to_proto(c) for c in terms.categories],
        recipient_organization_ids=list(terms.recipient_organization_ids),
        recipient_classes=[codecs.recipient_class.to_proto(c) for c in terms.recipient_classes],
        purposes=[codecs.purpose.to_proto(p) for p in terms.purposes],
        revocation_instructions=terms.revocation_instructions,
        expiry_event=terms.expiry_event or "",
        witness_name=terms.witness_name or "",
    )
    if terms.capture_method is not None:
        message.capture_method = codecs.capture_method.to_proto(terms.capture_method)
    # Unset times stay unset: the service names each missing one.
    for name in ("valid_from", "expires_at", "signed_at"):
        value: datetime | None = getattr(terms, name)
        if value is not None:
            getattr(message, name).FromDatetime(value)
    return message


def terms_from_proto(message: consent_pb2.ConsentTerms) -> ConsentTerms:
    codecs = _codecs()
    return ConsentTerms(
        subject_member_id=message.subject_member_id,
        disclosing_organization_id=message.disclosing_organization_id,
        categories=tuple(codecs.category.from_proto(c) for c in message.categories),
        recipient_organization_ids=tuple(message.recipient_organization_ids),
        recipient_classes=tuple(
            codecs.recipient_class.from_proto(c) for c in message.recipient_classes
        ),
        purposes=tuple(codecs.purpose.from_proto(p) for p in message.purposes),
        revocation_instructions=message.revocation_instructions,
        valid_from=optional_time(message, "valid_from"),
        expires_at=optional_time(message, "expires_at"),
        expiry_event=message.expiry_event or None,
        capture_method=(
            codecs.capture_method.from_proto(message.capture_method)
            if message.capture_method
            else None
        ),
        witness_name=message.witness_name or None,
        signed_at=optional_time(message, "signed_at"),
    )


def consent_from_proto(message: consent_pb2.Consent) -> Consent:
    return Consent(
        consent_id=message.consent_id,
        terms=terms_from_proto(message.terms),
        status=_codecs().status.from_proto(message.status),
        recorded_by=message.recorded_by,
        created_at=message.create_time.ToDatetime(tzinfo=UTC),
        version=message.version,
        revoked_at=optional_time(message, "revoke_time"),
        revoked_by=message.revoked_by or None,
        revocation_reason=message.revocation_reason or None,
    )


@dataclass(frozen=True)
class _Codecs:
    category: EnumCodec[InformationCategory]
    purpose: EnumCodec[Purpose]
    recipient_class: EnumCodec[RecipientClass]
    capture_method: EnumCodec[CaptureMethod]
    status: EnumCodec[ConsentStatus]


@cache
def _codecs() -> _Codecs:
    # Built on first use, never at import.
    return _Codecs(
        category=EnumCodec(
            InformationCategory,
            consent_pb2.ConsentInformationCategory,
            "CONSENT_INFORMATION_CATEGORY_",
        ),
        purpose=EnumCodec(Purpose, consent_pb2.ConsentPurpose, "CONSENT_PURPOSE_"),
        recipient_class=EnumCodec(
            RecipientClass, consent_pb2.ConsentRecipientClass, "CONSENT_RECIPIENT_CLASS_"
        ),
        capture_method=EnumCodec(
            CaptureMethod, consent_pb2.ConsentCaptureMethod, "CONSENT_CAPTURE_METHOD_"
        ),
        status=EnumCodec(ConsentStatus, consent_pb2.ConsentStatus, "CONSENT_STATUS_"),
    )
