"""A referral as a FHIR R4 Bundle (type collection) of a Task and its ServiceRequest.

Pure code: the same referral state always gives the same JSON, ids included,
so an EHR can recognise a repeated delivery.

A status change is told by Task.status, Task.statusReason (the category as a
code, the short non-clinical text as text) and, once completed, Task.output
(the outcome), so the requesting side sees the loop closed.

The free-text reason is deliberately absent: it is 42 CFR Part 2 protected
and may reach a clinic only under the member's active consent. Consent
gating (a Consent referenced from ServiceRequest.supportingInfo, and the
reason with it) comes with a later change.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from ...domain.model import Referral
from ...domain.values import Party
from .codes import (
    CATEGORY_DISPLAY,
    CATEGORY_SYSTEM,
    MEMBER_SYSTEM,
    ORGANIZATION_SYSTEM,
    PART2_SECURITY_LABELS,
    REFERRAL_SYSTEM,
    REQUEST_PRIORITY,
    SERVICE_REQUEST_STATUS,
    STATUS_REASON_DISPLAY,
    STATUS_REASON_SYSTEM,
    TASK_CODE_SYSTEM,
    TASK_OUTPUT_SYSTEM,
    TASK_STATUS,
    category_code,
    kebab,
)

FHIR_JSON = "application/fhir+json"
# Fixed namespace for the ids we derive (ServiceRequest, Bundle) from a referral id.
_ID_NAMESPACE = uuid.UUID("0b6f3a52-5d0e-4c55-9a8b-6f0e2d2c7a10")


def service_request_id(referral: Referral) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"ServiceRequest/{referral.referral_id}"))


def bundle_id(referral: Referral) -> str:
    # One bundle id per referral state: a resend of the same version is the same bundle.
    return str(uuid.uuid5(_ID_NAMESPACE, f"Bundle/{referral.referral_id}/{referral.version}"))


def fhir_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def referral_bundle(referral: Referral) -> dict[str, Any]:
    task_id = str(referral.referral_id)
    request_id = service_request_id(referral)
    return {
        "resourceType": "Bundle",
        "id": bundle_id(referral),
        "type": "collection",
        "timestamp": fhir_instant(referral.update_time),
        "entry": [
            {"fullUrl": f"urn:uuid:{task_id}", "resource": task(referral, task_id, request_id)},
            {
                "fullUrl": f"urn:uuid:{request_id}",
                "resource": service_request(referral, request_id),
            },
        ],
    }


def referral_bundle_json(referral: Referral) -> bytes:
    return json.dumps(referral_bundle(referral), separators=(",", ":")).encode()


def task(referral: Referral, task_id: str, request_id: str) -> dict[str, Any]:
    resource = _task_base(referral, task_id, request_id)
    if referral.status_reason is not None:
        resource["statusReason"] = _status_reason(referral, referral.status_reason)
    if referral.outcome is not None:
        resource["output"] = [_outcome(referral.outcome)]
    return resource


def _task_base(referral: Referral, task_id: str, request_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "id": task_id,
        "meta": _meta(referral),
        "identifier": [_referral_identifier(referral)],
        "status": TASK_STATUS[referral.status],
        "intent": "order",
        "priority": REQUEST_PRIORITY[referral.priority],
        "code": {
            "coding": [
                {
                    "system": TASK_CODE_SYSTEM,
                    "code": "fulfill",
                    "display": "Fulfill the focal request",
                }
            ]
        },
        "focus": {"reference": f"urn:uuid:{request_id}", "type": "ServiceRequest"},
        "for": _member(referral),
        "authoredOn": fhir_instant(referral.create_time),
        "lastModified": fhir_instant(referral.update_time),
        "requester": _organization(referral.requester),
        "owner": _organization(referral.recipient),
    }


def service_request(referral: Referral, request_id: str) -> dict[str, Any]:
    concept = _category_concept(referral)
    return {
        "resourceType": "ServiceRequest",
        "id": request_id,
        "meta": _meta(referral),
        "identifier": [_referral_identifier(referral)],
        "status": SERVICE_REQUEST_STATUS[referral.status],
        "intent": "order",
        "category": [concept],
        "code": concept,
        "priority": REQUEST_PRIORITY[referral.priority],
        "subject": _member(referral),
        "authoredOn": fhir_instant(referral.create_time),
        "requester": _organization(referral.requester),
        "performer": [_organization(referral.recipient)],
    }


def _status_reason(referral: Referral, text: str) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    category = referral.status_reason_category
    if category is not None:
        display = STATUS_REASON_DISPLAY[category]
        concept["coding"] = [
            {"system": STATUS_REASON_SYSTEM, "code": kebab(category), "display": display}
        ]
    return concept


def _outcome(text: str) -> dict[str, Any]:
    return {
        "type": {
            "coding": [{"system": TASK_OUTPUT_SYSTEM, "code": "outcome", "display": "Outcome"}],
            "text": "Outcome",
        },
        "valueString": text,
    }


def _meta(referral: Referral) -> dict[str, Any]:
    return {
        "versionId": str(referral.version),
        "lastUpdated": fhir_instant(referral.update_time),
        "security": [dict(label) for label in PART2_SECURITY_LABELS],
    }


def _referral_identifier(referral: Referral) -> dict[str, Any]:
    return {"system": REFERRAL_SYSTEM, "value": str(referral.referral_id)}


def _member(referral: Referral) -> dict[str, Any]:
    return {
        "type": "Patient",
        "identifier": {"system": MEMBER_SYSTEM, "value": referral.subject_member_id},
    }


def _organization(party: Party) -> dict[str, Any]:
    return {
        "type": "Organization",
        "identifier": {"system": ORGANIZATION_SYSTEM, "value": party.organization_id},
        "display": party.display_name,
    }


def _category_concept(referral: Referral) -> dict[str, Any]:
    display = CATEGORY_DISPLAY[referral.category]
    return {
        "coding": [
            {
                "system": CATEGORY_SYSTEM,
                "code": category_code(referral.category),
                "display": display,
            }
        ],
        "text": display,
    }
