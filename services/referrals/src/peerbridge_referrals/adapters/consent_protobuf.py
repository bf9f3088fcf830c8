"""Consents ⇄ protobuf messages of `peerbridge.referrals.v1` (referrals_consent.proto)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from peerbridge.referrals.v1 import referrals_consent_pb2 as consent_pb2
from peerbridge_platform.protobuf_time import optional_time

from ..domain.commands import ConsentTermsInput
from ..domain.consent import (
    CaptureMethod,
    Consent,
    ConsentPurpose,
    ConsentTerms,
    InformationCategory,
    RecipientClass,
)
from .protobuf_values import proto_number, to_timestamp, value_name_from_proto


def _numbers(values: Iterable[StrEnum]) -> list[Any]:
    # Sorted, so the same consent always gives the same message.
    return sorted(proto_number(v) for v in values)


def _names(enum: type[StrEnum], numbers: Iterable[int]) -> tuple[str, ...]:
    return tuple(value_name_from_proto(enum, n) for n in numbers)


def to_proto_terms(terms: ConsentTerms) -> consent_pb2.ConsentTerms:
    message = consent_pb2.ConsentTerms(
        subject_member_id=terms.subject_member_id,
        disclosing_organization_id=terms.disclosing_organization_id,
        categories=_numbers(terms.categories),
        recipient_organization_ids=sorted(terms.recipient_organization_ids),
        recipient_classes=_numbers(terms.recipient_classes),
        purposes=_numbers(terms.purposes),
        revocation_instructions=terms.revocation_instructions,
        valid_from=to_timestamp(terms.valid_from),
        expiry_event=terms.expiry_event or "",
        capture_method=proto_number(terms.capture_method),
        witness_name=terms.witness_name or "",
        signed_at=to_timestamp(terms.signed_at),
    )
    if terms.expires_at is not None:
        message.expires_at.CopyFrom(to_timestamp(terms.expires_at))
    return message


def to_proto_consent(consent: Consent) -> consent_pb2.Consent:
    message = consent_pb2.Consent(
        consent_id=str(consent.consent_id),
        terms=to_proto_terms(consent.terms),
        status=proto_number(consent.status),
        recorded_by=consent.recorded_by,
        create_time=to_timestamp(consent.create_time),
        revoked_by=consent.revoked_by or "",
        revocation_reason=consent.revocation_reason or "",
        version=consent.version,
    )
    if consent.revoke_time is not None:
        message.revoke_time.CopyFrom(to_timestamp(consent.revoke_time))
    return message


def terms_from_proto(message: consent_pb2.ConsentTerms) -> ConsentTermsInput:
    return ConsentTermsInput(
        subject_member_id=message.subject_member_id,
        disclosing_organization_id=message.disclosing_organization_id,
        categories=_names(InformationCategory, message.categories),
        recipient_organization_ids=tuple(message.recipient_organization_ids),
        recipient_classes=_names(RecipientClass, message.recipient_classes),
        purposes=_names(ConsentPurpose, message.purposes),
        revocation_instructions=message.revocation_instructions,
        valid_from=optional_time(message, "valid_from"),
        expires_at=optional_time(message, "expires_at"),
        expiry_event=message.expiry_event,
        capture_method=value_name_from_proto(CaptureMethod, message.capture_method),
        witness_name=message.witness_name,
        signed_at=optional_time(message, "signed_at"),
    )
