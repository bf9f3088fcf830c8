"""The AsyncAPI document for integrators says what the code does.

Topic names, protobuf message names, CloudEvents headers, keys and the FHIR
Bundle outline are checked against the services' own code: the records the
referrals service builds are validated against the document's schemas, so a
renamed header or a new event type fails here until the document follows.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from fhir.resources.R4B.bundle import Bundle
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from peerbridge.audit.v1 import audit_events_pb2
from peerbridge.identity.v1 import identity_events_pb2, identity_service_pb2
from peerbridge.referrals.v1 import (
    referrals_consent_pb2,
    referrals_crisis_pb2,
    referrals_emergency_pb2,
    referrals_events_pb2,
    referrals_notes_pb2,
    referrals_service_pb2,
    referrals_worklist_pb2,
)
from peerbridge_identity.adapters import integration_events as identity_events
from peerbridge_identity.adapters import kafka_topics as identity_topics
from peerbridge_platform.envelope import FHIR_JSON, PROTOBUF, encode
from peerbridge_platform.kafka import AUDIT_TOPIC
from peerbridge_platform.settings import KafkaSettings
from peerbridge_referrals.adapters import integration_events
from peerbridge_referrals.adapters import kafka_topics as referrals_topics
from peerbridge_referrals.adapters.fhir.codes import (
    PART2_SECURITY_LABELS,
    REQUEST_PRIORITY,
    SERVICE_REQUEST_STATUS,
    TASK_STATUS,
)
from peerbridge_referrals.domain.commands import CreateReferral, PartyInput
from peerbridge_referrals.domain.events import DomainEvent
from peerbridge_referrals.domain.lifecycle import Actor, Side, StatusChange, change_status
from peerbridge_referrals.domain.model import open_referral
from peerbridge_referrals.domain.overdue import OverdueKind, OverdueState, ReferralOverdue
from peerbridge_referrals.domain.rules import validate_new_referral
from peerbridge_referrals.domain.values import Priority, Status, StatusReasonCategory

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "integration" / "asyncapi.yaml"
VALIDATOR = ROOT / "docs" / "integration" / "validate-asyncapi.mjs"
CREATED = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
REFERRAL_ID = UUID("6f1d3c1e-8a7b-4f55-9d0e-2b9a4c7e1f00")
CLINIC = "clinic-northside-test"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text())
    return loaded


def resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow local `$ref`s ('#/a/b') until a node that is not a reference."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for one schema of the document, its local $refs resolvable."""
    return Draft202012Validator({**schema, "components": document["components"]})


def header_properties(document: dict[str, Any], headers: dict[str, Any]) -> dict[str, Any]:
    """Every header property a message's headers schema names, through allOf and $refs."""
    headers = resolve(document, headers)
    found: dict[str, Any] = dict(headers.get("properties", {}))
    for part in headers.get("allOf", []):
        for name, schema in header_properties(document, part).items():
            found[name] = {**found.get(name, {}), **schema}
    return found


def channels_by_address(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {channel["address"]: channel for channel in document["channels"].values()}


def channel_messages(document: dict[str, Any], address: str) -> list[dict[str, Any]]:
    channel = channels_by_address(document)[address]
    return [resolve(document, m) for m in channel["messages"].values()]


def documented_types(document: dict[str, Any], address: str) -> set[str]:
    """The `ce_type` values the document allows on one topic."""
    types: set[str] = set()
    for message in channel_messages(document, address):
        ce_type = header_properties(document, message["headers"])["ce_type"]
        types |= {ce_type["const"]} if "const" in ce_type else set(ce_type["enum"])
    return types


def event_names(*modules: Any) -> set[str]:
    """The files' top-level messages that no message of the package holds as a field (RPC
    requests and responses included): its events."""
    package = {
        m
        for module in (*modules, referrals_service_pb2, identity_service_pb2)
        for m in module.DESCRIPTOR.message_types_by_name.values()
    }
    parts = {f.message_type.full_name for m in package for f in m.fields if f.message_type}
    parts |= {
        t.full_name
        for module in modules
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
        for t in (method.input_type, method.output_type)
    }
    messages = [m for module in modules for m in module.DESCRIPTOR.message_types_by_name.values()]
    return {m.full_name for m in messages} - parts


def code_topics() -> set[str]:
    settings = KafkaSettings()
    specs = referrals_topics.topic_specs(settings) + identity_topics.topic_specs(settings)
    return {spec.name for spec in specs}


def test_every_channel_is_a_topic_the_services_create(document: dict[str, Any]) -> None:
    addresses = set(channels_by_address(document))
    assert addresses <= code_topics()
    for channel in document["channels"].values():
        binding = channel.get("bindings", {}).get("kafka", {})
        assert binding.get("topic", channel["address"]) == channel["address"]


def test_the_referral_topics_identity_events_and_audit_are_all_documented(
    document: dict[str, Any],
) -> None:
    wanted = {
        integration_events.FHIR_TOPIC,
        integration_events.EVENTS_TOPIC,
        identity_events.EVENTS_TOPIC,
        AUDIT_TOPIC,
    }
    assert wanted <= set(channels_by_address(document))


def test_each_channel_is_received_by_an_operation(document: dict[str, Any]) -> None:
    received = {
        resolve(document, op["channel"])["address"]
        for op in document["operations"].values()
        if op["action"] == "receive"
    }
    assert received == set(channels_by_address(document))


def test_every_protobuf_message_named_exists_in_the_generated_stubs(
    document: dict[str, Any],
) -> None:
    pool = descriptor_pool.Default()
    named = 0
    for message in document["components"]["messages"].values():
        if message["contentType"] != PROTOBUF:
            continue
        payload = message["payload"]
        proto_file = ROOT / payload["x-protobuf-file"]
        types = documented_types_of(document, message)
        if "x-protobuf-message" in payload:
            assert types == {payload["x-protobuf-message"]}
        for full_name in types:
            pool.FindMessageTypeByName(full_name)  # KeyError when it does not exist
            short = full_name.rsplit(".", 1)[1]
            assert re.search(rf"^message {short} {{", proto_file.read_text(), re.MULTILINE), (
                f"{full_name} is not declared in {proto_file}"
            )
            named += 1
    assert named >= 4


def documented_types_of(document: dict[str, Any], message: dict[str, Any]) -> set[str]:
    ce_type = header_properties(document, message["headers"])["ce_type"]
    return {ce_type["const"]} if "const" in ce_type else set(ce_type["enum"])


@pytest.mark.parametrize(
    ("topic", "modules"),
    [
        (
            integration_events.EVENTS_TOPIC,
            (
                referrals_events_pb2,
                referrals_consent_pb2,
                referrals_worklist_pb2,
                referrals_notes_pb2,
                referrals_crisis_pb2,
                referrals_emergency_pb2,
            ),
        ),
        (identity_events.EVENTS_TOPIC, (identity_events_pb2,)),
        (AUDIT_TOPIC, (audit_events_pb2,)),
    ],
)
def test_every_event_type_in_the_protos_is_documented_on_its_topic(
    document: dict[str, Any], topic: str, modules: tuple[Any, ...]
) -> None:
    assert documented_types(document, topic) == event_names(*modules)


def test_the_fhir_headers_are_the_ones_the_code_sets(document: dict[str, Any]) -> None:
    (message,) = channel_messages(document, integration_events.FHIR_TOPIC)
    headers = header_properties(document, message["headers"])
    assert f"ce_{integration_events.RECIPIENT_EXTENSION}" in headers
    assert headers["ce_type"]["const"] == integration_events.FHIR_VIEW_TYPE
    assert headers["ce_source"]["const"] == integration_events.SOURCE
    assert headers["content-type"]["const"].startswith(FHIR_JSON)
    assert message["contentType"] == headers["content-type"]["const"]


def test_the_fhir_outline_lists_the_codes_the_view_uses(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert set(schemas["Task"]["properties"]["status"]["enum"]) == set(TASK_STATUS.values())
    assert set(schemas["ServiceRequest"]["properties"]["status"]["enum"]) == set(
        SERVICE_REQUEST_STATUS.values()
    )
    assert set(schemas["Priority"]["enum"]) == set(REQUEST_PRIORITY.values())
    (labels,) = schemas["Meta"]["properties"]["security"]["examples"]
    assert labels == [dict(label) for label in PART2_SECURITY_LABELS]


def synthetic_events() -> list[DomainEvent]:
    """A created referral, then the clinic accepts it, starts it and puts it on hold."""
    command = CreateReferral(
        request_id="contract-test-1",
        subject_member_id="member-synthetic-001",
        direction="peer_support_to_clinic",
        category="medication_for_opioid_use_disorder",
        priority="urgent",
        reason="Synthetic reason that must never leave the platform.",
        requester=PartyInput(
            kind="peer_support_program",
            organization_id="program-harbour-test",
            display_name="Harbour Peer Recovery (test)",
        ),
        recipient=PartyInput(
            kind="clinic", organization_id=CLINIC, display_name="Northside Health Clinic (test)"
        ),
    )
    referral, created = open_referral(
        validate_new_referral(command), referral_id=REFERRAL_ID, request_id="r1", now=CREATED
    )
    clinic = Actor(subject="ehr-client", organization_id=CLINIC, side=Side.PERFORMER)
    events: list[DomainEvent] = [created]
    steps = [
        StatusChange(referral_id=REFERRAL_ID, status=Status.ACCEPTED),
        StatusChange(referral_id=REFERRAL_ID, status=Status.IN_PROGRESS),
        StatusChange(
            referral_id=REFERRAL_ID,
            status=Status.ON_HOLD,
            reason="Waiting for an intake slot.",
            reason_category=StatusReasonCategory.NO_CAPACITY,
        ),
    ]
    for n, step in enumerate(steps, start=1):
        referral, changed = change_status(
            referral, step, clinic, now=CREATED + timedelta(minutes=n)
        )
        events.append(changed)
    # The accepted version missed its window to act.
    overdue = OverdueState(
        referral_id=REFERRAL_ID,
        version=2,
        kind=OverdueKind.ACT,
        status=Status.ACCEPTED,
        priority=Priority.URGENT,
        requester_organization_id="program-harbour-test",
        recipient_organization_id=CLINIC,
        due_time=CREATED + timedelta(days=3, minutes=1),
    )
    events.append(ReferralOverdue(overdue, CREATED + timedelta(days=3, minutes=2)))
    return events


def produced_records() -> list[tuple[str, Any]]:
    return [
        (message.topic, encode(message.envelope))
        for event in synthetic_events()
        for message in integration_events.messages_for(event)
    ]


@pytest.mark.parametrize(("topic", "record"), produced_records())
def test_each_record_the_referrals_service_builds_matches_the_document(
    document: dict[str, Any], topic: str, record: Any
) -> None:
    headers = {name: (value or b"").decode() for name, value in record.headers}
    candidates = [
        m
        for m in channel_messages(document, topic)
        if headers["ce_type"] in documented_types_of(document, m)
    ]
    assert len(candidates) == 1, f"no single message documents {headers['ce_type']} on {topic}"
    (message,) = candidates

    errors = list(validator(document, message["headers"]).iter_errors(headers))
    assert errors == [], [e.message for e in errors]
    key_schema = message["bindings"]["kafka"]["key"]
    assert not list(validator(document, key_schema).iter_errors(record.key.decode()))
    assert record.key.decode() == headers["ce_subject"] == str(REFERRAL_ID)
    assert headers["ce_recipientorganization"] == CLINIC

    if message["contentType"] == PROTOBUF:
        # Decoded by ce_type alone, as the document tells a consumer to.
        descriptor = descriptor_pool.Default().FindMessageTypeByName(headers["ce_type"])
        decoded: Message = message_factory.GetMessageClass(descriptor).FromString(record.value)
        assert decoded.ListFields()
    else:
        body = json.loads(record.value)
        errors = list(validator(document, message["payload"]).iter_errors(body))
        assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]
        Bundle.model_validate_json(record.value)
        assert b"Synthetic reason" not in record.value


def test_a_status_reason_shows_in_the_outlined_task(document: dict[str, Any]) -> None:
    """The outline covers the optional Task elements too, by validating one that has them."""
    fhir = [r for topic, r in produced_records() if topic == integration_events.FHIR_TOPIC]
    task = json.loads(fhir[-1].value)["entry"][0]["resource"]
    assert task["status"] == "on-hold"
    assert "statusReason" in task
    task_schema = {"$ref": "#/components/schemas/Task"}
    assert not list(validator(document, task_schema).iter_errors(task))
    # Gravity leaves out `received`: the outline refuses it.
    assert list(validator(document, task_schema).iter_errors({**task, "status": "received"}))


node = shutil.which("node")
parser_installed = (ROOT / "node_modules" / "@asyncapi" / "parser").is_dir()


@pytest.mark.skipif(
    node is None or not parser_installed, reason="node and npm ci (make install) needed"
)
def test_the_official_parser_accepts_the_document_and_refuses_a_broken_copy(
    tmp_path: Path,
) -> None:
    ok = subprocess.run(
        [str(node), str(VALIDATOR), str(DOCUMENT)], capture_output=True, text=True, timeout=120
    )
    assert ok.returncode == 0, ok.stderr
    broken = tmp_path / "asyncapi.yaml"
    broken.write_text(DOCUMENT.read_text().replace("action: receive", "action: listen", 1))
    refused = subprocess.run(
        [str(node), str(VALIDATOR), str(broken)], capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 1
    assert "action" in refused.stderr


def gated_views() -> dict[str, dict[str, Any]]:
    """The two shapes the consent gate publishes, for the synthetic referral."""
    from peerbridge_referrals.adapters.fhir.referral_view import disclosed_bundle, minimal_bundle
    from peerbridge_referrals.domain.consent import (
        CaptureMethod,
        Consent,
        ConsentPurpose,
        ConsentStatus,
        ConsentTerms,
        InformationCategory,
    )

    created = synthetic_events()[0]
    referral = created.referral  # type: ignore[attr-defined]
    consent = Consent(
        consent_id=UUID("2b0c6a3e-1f7d-4c55-8a3e-6d2f9b7c1e00"),
        request_id=None,
        terms=ConsentTerms(
            subject_member_id=referral.subject_member_id,
            disclosing_organization_id=referral.requester.organization_id,
            categories=frozenset({InformationCategory.REFERRAL_DETAILS}),
            recipient_organization_ids=frozenset({CLINIC}),
            recipient_classes=frozenset(),
            purposes=frozenset({ConsentPurpose.TREAT}),
            revocation_instructions="Tell the program; it stops every disclosure from then on.",
            valid_from=CREATED,
            expires_at=CREATED + timedelta(days=365),
            expiry_event=None,
            capture_method=CaptureMethod.SIGNED_ELECTRONICALLY,
            witness_name=None,
            signed_at=CREATED,
        ),
        status=ConsentStatus.ACTIVE,
        recorded_by="member-synthetic-001",
        create_time=CREATED,
    )
    return {
        "disclosed": disclosed_bundle(referral, consent),
        "minimal": minimal_bundle(referral),
    }


@pytest.mark.parametrize("shape", ["disclosed", "minimal"])
def test_both_views_of_the_consent_gate_match_the_outline(
    document: dict[str, Any], shape: str
) -> None:
    (message,) = channel_messages(document, integration_events.FHIR_TOPIC)
    bundle = gated_views()[shape]

    errors = list(validator(document, message["payload"]).iter_errors(bundle))

    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]
    Bundle.model_validate_json(json.dumps(bundle))
    types = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert types == (["Task", "ServiceRequest", "Consent"] if shape == "disclosed" else types[:2])
