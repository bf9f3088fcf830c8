"""The FHIR view: valid R4 (per fhir.resources R4B), Gravity codes, Part 2 labels, no reason."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from peerbridge_referrals.adapters.fhir.codes import (
    CATEGORY_DISPLAY,
    REQUEST_PRIORITY,
    SERVICE_REQUEST_STATUS,
    TASK_STATUS,
)
from peerbridge_referrals.adapters.fhir.referral_view import (
    referral_bundle,
    referral_bundle_json,
)
from peerbridge_referrals.domain.commands import CreateReferral
from peerbridge_referrals.domain.model import Referral, open_referral
from peerbridge_referrals.domain.rules import validate_new_referral
from peerbridge_referrals.domain.values import Category, Priority, Status

# The value sets of FHIR R4, written out here because the library accepts any code.
FHIR_TASK_STATUS = {
    "draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
    "in-progress", "on-hold", "failed", "completed", "entered-in-error",
}  # fmt: skip
FHIR_REQUEST_STATUS = {
    "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown",
}  # fmt: skip
FHIR_REQUEST_PRIORITY = {"routine", "urgent", "asap", "stat"}
PART2_LABELS = {
    ("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R"),
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "42CFRPart2"),
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "ETH"),
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "NORDSCLCD"),
}
CREATED = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def referral(create_command: CreateReferral) -> Referral:
    details = validate_new_referral(create_command)
    referral, _ = open_referral(
        details,
        referral_id=UUID("6f1d3c1e-8a7b-4f55-9d0e-2b9a4c7e1f00"),
        request_id=create_command.request_id,
        now=CREATED,
    )
    return referral


def parse(referral: Referral) -> tuple[Any, Any, Any]:
    """The bundle, Task and ServiceRequest as fhir.resources models (typed loosely: every
    FHIR element is optional to the type checker)."""
    bundle: Any = Bundle.model_validate_json(referral_bundle_json(referral))
    resources: dict[str, Any] = {
        entry.resource.get_resource_type(): entry.resource for entry in bundle.entry or []
    }
    return bundle, resources["Task"], resources["ServiceRequest"]


def test_the_view_is_a_valid_r4_collection_of_a_task_and_its_service_request(
    referral: Referral,
) -> None:
    bundle, task, request = parse(referral)

    assert bundle.type == "collection"
    assert [e.resource.get_resource_type() for e in bundle.entry or []] == [
        "Task",
        "ServiceRequest",
    ]
    assert isinstance(task, Task)
    assert isinstance(request, ServiceRequest)


def test_the_task_follows_the_gravity_referral_workflow(referral: Referral) -> None:
    bundle, task, request = parse(referral)

    assert task.id == str(referral.referral_id)
    assert task.status == "requested"
    assert task.intent == "order"
    assert task.priority == "urgent"
    assert [(c.system, c.code) for c in task.code.coding] == [
        ("http://hl7.org/fhir/CodeSystem/task-code", "fulfill")
    ]
    # focus resolves to the ServiceRequest entry of the same bundle
    request_entry = next(e for e in bundle.entry or [] if e.resource is request)
    assert task.focus.reference == request_entry.fullUrl
    assert task.focus.reference.endswith(request.id)
    assert task.for_fhir.type == "Patient"
    assert (task.for_fhir.identifier.system, task.for_fhir.identifier.value) == (
        "urn:peerbridge:member",
        "member-synthetic-001",
    )
    assert task.requester.type == "Organization"
    assert task.requester.identifier.system == "urn:peerbridge:organization"
    assert task.requester.identifier.value == "program-harbour-test"
    assert task.owner.identifier.value == "clinic-northside-test"
    assert task.authoredOn == CREATED
    assert task.lastModified == CREATED


def test_the_service_request_is_an_active_order_for_the_category(referral: Referral) -> None:
    _, _, request = parse(referral)

    assert request.status == "active"
    assert request.intent == "order"
    assert request.priority == "urgent"
    coding = request.code.coding[0]
    assert coding.system == "urn:peerbridge:codesystem:referral-category"
    assert coding.code == "medication-for-opioid-use-disorder"
    assert coding.display == "Medication for opioid use disorder"
    assert request.category[0].coding[0].code == coding.code
    assert request.subject.identifier.value == "member-synthetic-001"
    assert request.requester.identifier.value == "program-harbour-test"
    assert [p.identifier.value for p in request.performer] == ["clinic-northside-test"]
    assert request.authoredOn == CREATED


def test_both_resources_carry_the_part2_security_labels(referral: Referral) -> None:
    _, task, request = parse(referral)

    for resource in (task, request):
        assert {(c.system, c.code) for c in resource.meta.security} == PART2_LABELS
        assert resource.meta.versionId == "1"


def test_the_free_text_reason_is_not_in_the_view(referral: Referral) -> None:
    assert referral.reason not in referral_bundle_json(referral).decode()
    assert "reason" not in json.dumps(referral_bundle(referral)).lower()


def test_the_same_state_gives_the_same_json(referral: Referral) -> None:
    assert referral_bundle_json(referral) == referral_bundle_json(referral)


def test_a_new_version_gets_a_new_bundle_id(referral: Referral) -> None:
    later = replace(referral, version=2, update_time=CREATED + timedelta(minutes=5))

    first, second = referral_bundle(referral), referral_bundle(later)

    assert first["id"] != second["id"]
    assert first["entry"][1]["resource"]["id"] == second["entry"][1]["resource"]["id"]


@pytest.mark.parametrize("status", list(Status))
def test_every_status_maps_to_valid_fhir_codes(referral: Referral, status: Status) -> None:
    _, task, request = parse(replace(referral, status=status))

    assert task.status in FHIR_TASK_STATUS
    assert task.status == status.value.replace("_", "-")
    assert request.status in FHIR_REQUEST_STATUS


@pytest.mark.parametrize("priority", list(Priority))
def test_every_priority_is_a_fhir_request_priority(referral: Referral, priority: Priority) -> None:
    _, task, request = parse(replace(referral, priority=priority))

    assert task.priority == request.priority == priority.value
    assert task.priority in FHIR_REQUEST_PRIORITY


@pytest.mark.parametrize("category", list(Category))
def test_every_category_has_a_code_and_display(referral: Referral, category: Category) -> None:
    _, _, request = parse(replace(referral, category=category))

    assert request.code.coding[0].display == CATEGORY_DISPLAY[category]
    assert request.code.text == CATEGORY_DISPLAY[category]


def test_the_maps_cover_every_value() -> None:
    assert set(TASK_STATUS) == set(SERVICE_REQUEST_STATUS) == set(Status)
    assert set(REQUEST_PRIORITY) == set(Priority)
    assert set(CATEGORY_DISPLAY) == set(Category)
