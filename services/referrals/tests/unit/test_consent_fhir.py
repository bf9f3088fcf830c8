"""The FHIR Consent view: valid R4 (fhir.resources R4B), IDSCL, patient-privacy, provision."""

from __future__ import annotations

import json
from datetime import timedelta

from fhir.resources.R4B.consent import Consent as FhirConsent

from peerbridge_referrals.adapters.fhir.consent_view import consent_resource
from peerbridge_referrals.domain.consent import revoke

from ..conftest import CLINIC
from ..consent_builders import MEMBER, NOW, synthetic_consent


def parsed(resource: dict[str, object]) -> FhirConsent:
    return FhirConsent.model_validate_json(json.dumps(resource))


def test_an_active_consent_is_a_valid_privacy_consent_to_disclose() -> None:
    consent = synthetic_consent()
    resource = consent_resource(consent)
    fhir = parsed(resource)
    assert fhir.status == "active"
    assert [c.coding[0].code for c in fhir.category if c.coding] == ["IDSCL"]
    assert resource["scope"]["coding"][0]["code"] == "patient-privacy"
    provision = resource["provision"]
    assert provision["type"] == "permit"
    assert provision["actor"][0]["reference"]["identifier"]["value"] == CLINIC
    assert [p["code"] for p in provision["purpose"]] == ["TREAT"]
    assert [c["coding"][0]["code"] for c in provision["code"]] == ["referral-details"]
    assert provision["period"]["end"].startswith("2027-03-01")
    assert resource["patient"]["identifier"]["value"] == MEMBER
    assert {label["code"] for label in resource["meta"]["security"]} >= {"42CFRPart2", "R"}


def test_a_revoked_consent_is_inactive_and_its_period_ends_at_the_revocation() -> None:
    revoked = revoke(synthetic_consent(), by=MEMBER, reason=None, now=NOW + timedelta(days=1))
    resource = consent_resource(revoked)
    assert parsed(resource).status == "inactive"
    assert resource["provision"]["period"]["end"].startswith("2026-03-02T09:00")
    assert resource["meta"]["versionId"] == "2"


def test_a_class_recipient_and_a_witness_are_shown_and_still_valid() -> None:
    consent = synthetic_consent(
        recipient_organization_ids=(),
        recipient_classes=("treating_providers",),
        capture_method="verbal_with_witness",
        witness_name="Sam Example (synthetic)",
        expires_at=None,
        expiry_event="End of treatment",
    )
    resource = consent_resource(consent)
    parsed(resource)
    assert resource["provision"]["actor"][0]["reference"] == {
        "display": "Treating providers of the member"
    }
    assert "end" not in resource["provision"]["period"]
    assert resource["verification"][0]["verifiedWith"]["display"].startswith("Witness:")


def test_the_same_state_gives_the_same_json() -> None:
    consent = synthetic_consent()
    assert json.dumps(consent_resource(consent)) == json.dumps(consent_resource(consent))
