"""A referral as a FHIR R4 Bundle (type collection) of a Task and its ServiceRequest.

Pure code: the same referral state always gives the same JSON, ids included,
so an EHR can recognise a repeated delivery.

A status change is told by Task.status, Task.statusReason (the category as a
code, the short non-clinical text as text) and, once completed, Task.output
(the outcome), so the requesting side sees the loop closed.

Three shapes, chosen by the consent gate (`domain.disclosure`):
- `disclosed_bundle`: under the member's consent, the Task and ServiceRequest
  with the free-text reason (ServiceRequest.reasonCode.text), the Consent as a
  third entry linked from ServiceRequest.supportingInfo (as Gravity does), and
  the 42 CFR 2.32 notice in Task.note and ServiceRequest.note;
- `minimal_bundle`: without one, only that a referral exists: the Task with its
  status, priority and owner, and a ServiceRequest without category, code,
  reason or outcome, whose subject (the member) is masked;
- `referral_bundle`: the view before gating (no reason, no Consent), kept for
  building records outside the service; the service always gates.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ...domain.consent import Consent
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
    fhir_instant,
    kebab,
)
from .consent_view import consent_resource

FHIR_JSON = "application/fhir+json"
# Fixed namespace for the ids we derive (ServiceRequest, Bundle) from a referral id.
_ID_NAMESPACE = uuid.UUID("0b6f3a52-5d0e-4c55-9a8b-6f0e2d2c7a10")


def service_request_id(referral: Referral) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"ServiceRequest/{referral.referral_id}"))


def bundle_id(referral: Referral) -> str:
    # One bundle id per referral state: a resend of the same version is the same bundle.
    return str(uuid.uuid5(_ID_NAMESPACE, f"Bundle/{referral.referral_id}/{referral.version}"))


def referral_bundle(referral: Referral) -> dict[str, Any]:
    task_id = str(referral.referral_id)
    request_id = service_request_id(referral)
    return _bundle(
        referral,
        task(referral, task_id, request_id),
        service_request(referral, request_id),
    )


def _bundle(referral: Referral, *resources: dict[str, Any]) -> dict[str, Any]:
    """A collection of `resources`, each under its `urn:uuid:<id>`."""
    return {
        "resourceType": "Bundle",
        "id": bundle_id(referral),
        "type": "collection",
        "timestamp": fhir_instant(referral.update_time),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


def referral_bundle_json(referral: Referral) -> bytes:
    return _json(referral_bundle(referral))


def _json(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle, separators=(",", ":")).encode()


# 42 CFR 2.32(a)(1): the statement that accompanies each disclosure made with consent.
PART2_NOTICE = (
    "This record which has been disclosed to you is protected by Federal confidentiality "
    "rules (42 CFR part 2). These rules prohibit you from using or disclosing this record, "
    "or testimony that describes the information contained in this record, in any civil, "
    "criminal, administrative, or legislative proceedings by any Federal, State, or local "
    "authority, against the patient, unless authorized by the consent of the patient, except "
    "as provided at 42 CFR 2.12(c)(5) or as authorized by a court in accordance with "
    "42 CFR 2.64 or 2.65. In addition, the Federal rules prohibit you from making any further "
    "disclosure of this record unless authorized by the written consent of the patient, or "
    "unless otherwise expressly permitted by 42 CFR part 2. A general authorization for the "
    "release of medical or other information is NOT sufficient for this purpose "
    "(see 42 CFR 2.31)."
)
# FHIR's way to say an element is left out on purpose.
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


def disclosed_bundle(referral: Referral, consent: Consent) -> dict[str, Any]:
    """The full view under `consent`: reason, Consent and the 2.32 notice."""
    bundle = referral_bundle(referral)
    task_resource, request = (entry["resource"] for entry in bundle["entry"])
    consent_id = str(consent.consent_id)
    notice = [{"text": PART2_NOTICE}]
    task_resource["note"] = notice
    request["note"] = notice
    request["reasonCode"] = [{"text": referral.reason}]
    request["supportingInfo"] = [{"reference": f"urn:uuid:{consent_id}", "type": "Consent"}]
    bundle["entry"].append(
        {"fullUrl": f"urn:uuid:{consent_id}", "resource": consent_resource(consent)}
    )
    return bundle


def minimal_bundle(referral: Referral) -> dict[str, Any]:
    """That a referral exists, its status and who holds it; nothing about the member."""
    task_id = str(referral.referral_id)
    request_id = service_request_id(referral)
    task_resource = _task_base(referral, task_id, request_id)
    del task_resource["for"]
    request = {
        **_service_request_base(referral, request_id),
        "subject": {
            "extension": [{"url": DATA_ABSENT_REASON, "valueCode": "masked"}],
            "display": "Withheld: no consent of the member covers this disclosure",
        },
    }
    return _bundle(referral, task_resource, request)


def gated_bundle_json(referral: Referral, consent: Consent | None) -> bytes:
    """The full view under `consent`, or the minimal one without."""
    if consent is None:
        return _json(minimal_bundle(referral))
    return _json(disclosed_bundle(referral, consent))


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
        **_service_request_base(referral, request_id),
        "category": [concept],
        "code": concept,
        "priority": REQUEST_PRIORITY[referral.priority],
        "subject": _member(referral),
        "authoredOn": fhir_instant(referral.create_time),
    }


def _service_request_base(referral: Referral, request_id: str) -> dict[str, Any]:
    """What both views show of the request: which referral, its status, who and to whom."""
    return {
        "resourceType": "ServiceRequest",
        "id": request_id,
        "meta": _meta(referral),
        "identifier": [_referral_identifier(referral)],
        "status": SERVICE_REQUEST_STATUS[referral.status],
        "intent": "order",
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
