"""A consent as a FHIR R4 Consent resource (privacy consent to disclose, as HL7 Gravity uses).

Pure: the same consent state gives the same JSON. Category
`v3-ActCode#IDSCL` (information disclosure), scope `patient-privacy`, the
42 CFR Part 2 policy, and one `permit` provision holding its period, its
recipients (by organization, or a class by display), purposes (HL7
PurposeOfUse) and the information categories. A revoked consent is
`inactive`, its provision period ending at the revocation.
"""

from __future__ import annotations

from typing import Any

from ...domain.consent import (
    CaptureMethod,
    Consent,
    ConsentStatus,
    InformationCategory,
    RecipientClass,
)
from .codes import (
    ACT_CODE_SYSTEM,
    MEMBER_SYSTEM,
    ORGANIZATION_SYSTEM,
    PART2_SECURITY_LABELS,
    fhir_instant,
)

CONSENT_SYSTEM = "urn:peerbridge:consent"
CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
PURPOSE_OF_USE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
INFORMATION_CATEGORY_SYSTEM = "urn:peerbridge:codesystem:consent-information-category"
RECIPIENT_CLASS_SYSTEM = "urn:peerbridge:codesystem:consent-recipient-class"
CAPTURE_METHOD_SYSTEM = "urn:peerbridge:codesystem:consent-capture-method"
PART2_POLICY_URI = "https://www.ecfr.gov/current/title-42/chapter-I/subchapter-A/part-2"

INFORMATION_CATEGORY_DISPLAY: dict[InformationCategory, str] = {
    InformationCategory.REFERRAL_DETAILS: "Referral details",
    InformationCategory.SUBSTANCE_USE_TREATMENT: "Substance use treatment information",
    InformationCategory.CONTACT_DETAILS: "Contact details",
}
RECIPIENT_CLASS_DISPLAY: dict[RecipientClass, str] = {
    RecipientClass.TREATING_PROVIDERS: "Treating providers of the member",
}
PURPOSE_DISPLAY = {
    "TREAT": "treatment",
    "COC": "coordination of care",
    "CAREMGT": "care management",
    "HPAYMT": "healthcare payment",
    "HOPERAT": "healthcare operations",
}
CAPTURE_DISPLAY: dict[CaptureMethod, str] = {
    CaptureMethod.SIGNED_ELECTRONICALLY: "Signed electronically",
    CaptureMethod.SIGNED_ON_PAPER: "Signed on paper",
    CaptureMethod.VERBAL_WITH_WITNESS: "Verbal, with a witness",
}


def consent_resource(consent: Consent) -> dict[str, Any]:
    terms = consent.terms
    return {
        "resourceType": "Consent",
        "id": str(consent.consent_id),
        "meta": {
            "versionId": str(consent.version),
            "lastUpdated": fhir_instant(consent.revoke_time or consent.create_time),
            "security": [dict(label) for label in PART2_SECURITY_LABELS],
        },
        "identifier": [{"system": CONSENT_SYSTEM, "value": str(consent.consent_id)}],
        "status": "active" if consent.status is ConsentStatus.ACTIVE else "inactive",
        "scope": {
            "coding": [
                {
                    "system": CONSENT_SCOPE_SYSTEM,
                    "code": "patient-privacy",
                    "display": "Privacy Consent",
                }
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": ACT_CODE_SYSTEM,
                        "code": "IDSCL",
                        "display": "information disclosure",
                    }
                ]
            }
        ],
        "patient": _member(terms.subject_member_id),
        "dateTime": fhir_instant(terms.signed_at),
        "performer": [_member(terms.subject_member_id)],
        "organization": [_organization(terms.disclosing_organization_id)],
        "policy": [{"uri": PART2_POLICY_URI}],
        "verification": [_verification(consent)],
        "provision": _provision(consent),
    }


def _provision(consent: Consent) -> dict[str, Any]:
    terms = consent.terms
    period: dict[str, str] = {"start": fhir_instant(terms.valid_from)}
    end = min((t for t in (terms.expires_at, consent.revoke_time) if t is not None), default=None)
    if end is not None:
        period["end"] = fhir_instant(end)
    actors = [
        _recipient(_organization(organization_id))
        for organization_id in sorted(terms.recipient_organization_ids)
    ]
    actors += [
        _recipient({"display": RECIPIENT_CLASS_DISPLAY[recipient_class]})
        for recipient_class in sorted(terms.recipient_classes)
    ]
    provision: dict[str, Any] = {
        "type": "permit",
        "period": period,
        "actor": actors,
        "purpose": [
            {
                "system": PURPOSE_OF_USE_SYSTEM,
                "code": purpose.code,
                "display": PURPOSE_DISPLAY[purpose.code],
            }
            for purpose in sorted(terms.purposes)
        ],
        "code": [
            {
                "coding": [
                    {
                        "system": INFORMATION_CATEGORY_SYSTEM,
                        "code": category.value.replace("_", "-"),
                        "display": INFORMATION_CATEGORY_DISPLAY[category],
                    }
                ]
            }
            for category in sorted(terms.categories)
        ],
    }
    return provision


def _verification(consent: Consent) -> dict[str, Any]:
    """How and when the member's consent was captured; a witness is named as verifier."""
    terms = consent.terms
    verification: dict[str, Any] = {
        "verified": True,
        "verificationDate": fhir_instant(terms.signed_at),
        "extension": [
            {
                "url": f"{CAPTURE_METHOD_SYSTEM}-extension",
                "valueCoding": {
                    "system": CAPTURE_METHOD_SYSTEM,
                    "code": terms.capture_method.value.replace("_", "-"),
                    "display": CAPTURE_DISPLAY[terms.capture_method],
                },
            }
        ],
    }
    if terms.witness_name is not None:
        verification["verifiedWith"] = {"display": f"Witness: {terms.witness_name}"}
    return verification


def _recipient(reference: dict[str, Any]) -> dict[str, Any]:
    return {
        "role": {
            "coding": [
                {
                    "system": PARTICIPATION_TYPE_SYSTEM,
                    "code": "IRCP",
                    "display": "information recipient",
                }
            ]
        },
        "reference": reference,
    }


def _member(member_id: str) -> dict[str, Any]:
    return {"type": "Patient", "identifier": {"system": MEMBER_SYSTEM, "value": member_id}}


def _organization(organization_id: str) -> dict[str, Any]:
    return {
        "type": "Organization",
        "identifier": {"system": ORGANIZATION_SYSTEM, "value": organization_id},
    }
