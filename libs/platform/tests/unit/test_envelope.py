"""The CloudEvents envelope: exact headers, round trips, and the official SDK agrees."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cloudevents.core.bindings import kafka as core_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1 import kafka as sdk_kafka
from cloudevents.v1.http import CloudEvent
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from peerbridge.referrals.v1 import referrals_events_pb2
from peerbridge_platform.envelope import (
    FHIR_JSON,
    PROTOBUF,
    Envelope,
    EnvelopeError,
    KafkaRecord,
    TypeRegistry,
    UnknownEventType,
    decode,
    encode,
    envelope_for_proto,
    parse_time,
    unpack_proto,
)

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
WHEN = datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)
REQUIRED_HEADERS = [
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_time",
    "ce_subject",
    "content-type",
]


def referral_created(referral_id: str = "ref-1") -> referrals_events_pb2.ReferralCreated:
    return referrals_events_pb2.ReferralCreated(
        referral_id=referral_id, subject_member_id="member-7", version=3
    )


def sample(**changes: object) -> Envelope:
    fields: dict[str, object] = {
        "id": "8d0b7c1e-5a7f-4d55-9d8e-3c1f6b2a9e10",
        "source": "/peerbridge/referrals",
        "type": "peerbridge.referrals.v1.ReferralCreated",
        "subject": "ref-1",
        "time": WHEN,
        "data": referral_created().SerializeToString(),
        "traceparent": TRACEPARENT,
    }
    fields.update(changes)
    return Envelope(**fields)  # type: ignore[arg-type]


def without(record: KafkaRecord, header: str) -> list[tuple[str, bytes | None]]:
    return [(name, value) for name, value in record.headers if name != header]


# --- what goes on the wire -------------------------------------------------


def test_headers_are_exactly_the_binary_mode_attributes() -> None:
    record = encode(sample(dataschema="https://schemas.example/referrals/v1"))

    assert record.key == b"ref-1"
    assert record.value == referral_created().SerializeToString()
    assert record.headers == [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"8d0b7c1e-5a7f-4d55-9d8e-3c1f6b2a9e10"),
        ("ce_source", b"/peerbridge/referrals"),
        ("ce_type", b"peerbridge.referrals.v1.ReferralCreated"),
        ("ce_time", b"2026-03-14T15:09:26.535897Z"),
        ("ce_subject", b"ref-1"),
        ("ce_dataschema", b"https://schemas.example/referrals/v1"),
        ("content-type", b"application/protobuf"),
        ("traceparent", TRACEPARENT.encode()),
    ]


def test_optional_headers_are_left_out_when_unset() -> None:
    names = [name for name, _ in encode(sample(traceparent=None)).headers]
    assert names == REQUIRED_HEADERS


def test_extensions_travel_as_ce_headers_in_name_order() -> None:
    record = encode(sample(extensions={"tenant": "north", "partition": "3"}))
    assert record.headers[-2:] == [("ce_partition", b"3"), ("ce_tenant", b"north")]
    assert decode(record.headers, record.key, record.value).extensions == {
        "partition": "3",
        "tenant": "north",
    }


def test_time_is_written_in_utc_whatever_the_offset() -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=-5)))
    record = encode(sample(time=local))
    assert dict(record.headers)["ce_time"] == b"2026-03-14T15:09:26.535897Z"


# --- reading ---------------------------------------------------------------


def test_round_trip() -> None:
    original = sample(extensions={"tenant": "north"}, dataschema="urn:x")
    record = encode(original)
    assert decode(record.headers, record.key, record.value) == original


def test_headers_may_come_as_a_mapping_with_text_values() -> None:
    record = encode(sample())
    headers = {name: (value or b"").decode() for name, value in record.headers}
    assert decode(headers, record.key, record.value) == sample()


@pytest.mark.parametrize("header", REQUIRED_HEADERS)
def test_a_missing_required_header_is_named(header: str) -> None:
    record = encode(sample())
    with pytest.raises(EnvelopeError, match=f"header {header} is missing"):
        decode(without(record, header), record.key, record.value)


@pytest.mark.parametrize("header", REQUIRED_HEADERS)
def test_a_header_without_value_is_named(header: str) -> None:
    record = encode(sample())
    headers = [*without(record, header), (header, None)]
    with pytest.raises(EnvelopeError, match=f"header {header} has no value"):
        decode(headers, record.key, record.value)


@pytest.mark.parametrize(
    ("header", "value", "message"),
    [
        ("ce_specversion", b"0.3", "ce_specversion is '0.3'"),
        ("ce_time", b"yesterday", "ce_time 'yesterday' is not an RFC 3339"),
        ("ce_time", b"2026-02-30T00:00:00Z", "not a valid date"),
        ("ce_id", b"", "header ce_id is empty"),
        ("ce_source", b"\xff\xfe", "header ce_source is not valid UTF-8"),
        ("ce_id", b"a\x00b", "characters CloudEvents does not allow"),
    ],
)
def test_an_invalid_header_is_named(header: str, value: bytes, message: str) -> None:
    record = encode(sample())
    headers = [*without(record, header), (header, value)]
    with pytest.raises(EnvelopeError, match=message):
        decode(headers, record.key, record.value)


def test_a_repeated_attribute_is_refused() -> None:
    record = encode(sample())
    headers = [*record.headers, ("ce_type", b"peerbridge.other.v1.Other")]
    with pytest.raises(EnvelopeError, match="header ce_type appears more than once"):
        decode(headers, record.key, record.value)


def test_datacontenttype_must_travel_as_content_type() -> None:
    record = encode(sample())
    headers = [*record.headers, ("ce_datacontenttype", b"application/protobuf")]
    with pytest.raises(EnvelopeError, match="ce_datacontenttype"):
        decode(headers, record.key, record.value)


def test_a_key_other_than_the_subject_is_refused() -> None:
    record = encode(sample())
    with pytest.raises(EnvelopeError, match="does not match header ce_subject"):
        decode(record.headers, b"someone-else", record.value)


def test_a_record_without_key_is_read_by_its_subject() -> None:
    record = encode(sample())
    assert decode(record.headers, None, record.value).subject == "ref-1"


def test_a_broken_traceparent_is_dropped_not_fatal() -> None:
    record = encode(sample())
    headers = [*without(record, "traceparent"), ("traceparent", b"garbage")]
    assert decode(headers, record.key, record.value).traceparent is None


def test_other_headers_are_ignored() -> None:
    record = encode(sample())
    headers = [*record.headers, ("peerbridge_dlt_reason", b"boom"), ("x-other", None)]
    assert decode(headers, record.key, record.value) == sample()


def test_data_stays_bytes_even_when_it_is_text() -> None:
    fhir = json.dumps({"resourceType": "Task", "status": "requested"}).encode()
    original = sample(content_type=FHIR_JSON, type="peerbridge.referrals.v1.FhirBundle", data=fhir)
    record = encode(original)
    decoded = decode(record.headers, record.key, record.value)
    assert type(decoded.data) is bytes
    assert decoded.data == fhir
    assert decoded.content_type == "application/fhir+json"


def test_an_empty_or_null_value_is_empty_data() -> None:
    record = encode(sample(data=b""))
    assert decode(record.headers, record.key, None).data == b""
    assert decode(record.headers, record.key, b"").data == b""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-14T15:09:26Z", datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)),
        ("2026-03-14t15:09:26.5z", datetime(2026, 3, 14, 15, 9, 26, 500000, tzinfo=UTC)),
        ("2026-03-14T10:09:26.123456789-05:00", datetime(2026, 3, 14, 15, 9, 26, 123456, UTC)),
        ("2026-03-14T17:39:26+02:30", datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)),
    ],
)
def test_any_rfc3339_time_is_read_as_utc(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


# --- building --------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": ""}, "id must not be empty"),
        ({"subject": "a\nb"}, "subject .* characters CloudEvents does not allow"),
        ({"time": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"data": "text"}, "data must be bytes"),
        ({"traceparent": "00-abc"}, "not W3C trace context"),
        ({"extensions": {"Tenant": "x"}}, "lower-case ASCII"),
        ({"extensions": {"my_ext": "x"}}, "lower-case ASCII"),
        ({"extensions": {"subject": "x"}}, "reserved"),
        ({"extensions": {"data": "x"}}, "reserved"),
    ],
)
def test_an_invalid_envelope_cannot_be_built(changes: dict[str, object], message: str) -> None:
    with pytest.raises(EnvelopeError, match=message):
        sample(**changes)


def test_envelope_for_proto_names_the_type_and_serialises_the_message() -> None:
    message = referral_created()
    envelope = envelope_for_proto(message, source="/peerbridge/referrals", subject="ref-1")

    assert envelope.type == "peerbridge.referrals.v1.ReferralCreated"
    assert envelope.content_type == PROTOBUF
    assert envelope.data == message.SerializeToString()
    assert envelope.subject == "ref-1"
    assert len(envelope.id) == 36
    assert envelope.time.tzinfo is UTC
    assert abs(datetime.now(UTC) - envelope.time) < timedelta(minutes=1)


def test_envelope_for_proto_keeps_given_id_and_time() -> None:
    envelope = envelope_for_proto(
        referral_created(), source="/s", subject="ref-1", id="evt-1", time=WHEN
    )
    assert (envelope.id, envelope.time) == ("evt-1", WHEN)


def test_envelope_for_proto_carries_the_current_trace() -> None:
    span = NonRecordingSpan(
        SpanContext(
            trace_id=0x0AF7651916CD43DD8448EB211C80319C,
            span_id=0xB7AD6B7169203331,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
    )
    with trace.use_span(span):
        envelope = envelope_for_proto(referral_created(), source="/s", subject="ref-1")
    assert envelope.traceparent == TRACEPARENT


def test_envelope_for_proto_without_a_trace_has_no_traceparent() -> None:
    envelope = envelope_for_proto(referral_created(), source="/s", subject="ref-1")
    assert envelope.traceparent is None


# --- unpacking -------------------------------------------------------------

REGISTRY = TypeRegistry([referrals_events_pb2.ReferralCreated, wrappers_pb2.StringValue])


def test_unpack_by_registry_picks_the_class_from_ce_type() -> None:
    envelope = envelope_for_proto(referral_created("ref-9"), source="/s", subject="ref-9")
    message = unpack_proto(envelope, REGISTRY)
    assert isinstance(message, referrals_events_pb2.ReferralCreated)
    assert message == referral_created("ref-9")


def test_unpack_by_class() -> None:
    envelope = envelope_for_proto(referral_created(), source="/s", subject="ref-1")
    message = unpack_proto(envelope, referrals_events_pb2.ReferralCreated)
    assert message.referral_id == "ref-1"


def test_unpack_an_unregistered_type() -> None:
    envelope = envelope_for_proto(wrappers_pb2.Int64Value(value=3), source="/s", subject="x")
    with pytest.raises(UnknownEventType) as caught:
        unpack_proto(envelope, REGISTRY)
    assert caught.value.type_name == "google.protobuf.Int64Value"


def test_unpack_with_the_wrong_class() -> None:
    envelope = envelope_for_proto(referral_created(), source="/s", subject="ref-1")
    with pytest.raises(EnvelopeError, match=r"not 'google\.protobuf\.StringValue'"):
        unpack_proto(envelope, wrappers_pb2.StringValue)


def test_unpack_bytes_that_do_not_parse() -> None:
    envelope = sample(data=b"\xff\xff\xff")
    with pytest.raises(
        EnvelopeError, match=r"not a valid peerbridge\.referrals\.v1\.ReferralCreated"
    ):
        unpack_proto(envelope, REGISTRY)


def test_unpack_refuses_a_non_protobuf_payload() -> None:
    envelope = sample(content_type=FHIR_JSON, data=b"{}")
    with pytest.raises(EnvelopeError, match="application/fhir\\+json"):
        unpack_proto(envelope, REGISTRY)


def test_registry_refuses_two_classes_for_one_name() -> None:
    # Same full name from another descriptor pool: a second, different class.
    pool = descriptor_pool.DescriptorPool()
    file = descriptor_pb2.FileDescriptorProto(name="shadow.proto", package="google.protobuf")
    file.message_type.add(name="StringValue")
    pool.Add(file)
    shadow = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("google.protobuf.StringValue")
    )
    with pytest.raises(ValueError, match=r"google\.protobuf\.StringValue"):
        TypeRegistry([wrappers_pb2.StringValue, shadow])


def test_registry_knows_its_types() -> None:
    assert "peerbridge.referrals.v1.ReferralCreated" in REGISTRY
    assert "peerbridge.referrals.v1.Unknown" not in REGISTRY
    assert len(REGISTRY) == 2


# --- properties ------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cc", "Cs", "Cn")), min_size=1, max_size=40)
EXTENSION_NAMES = st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True).filter(
    lambda name: (
        name not in {"specversion", "id", "source", "type", "time", "subject", "dataschema", "data"}
    )
)
TIMES = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.builds(
        timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
    ),
)
ENVELOPES = st.builds(
    Envelope,
    id=TEXT,
    source=TEXT,
    type=TEXT,
    subject=TEXT,
    time=TIMES,
    data=st.binary(max_size=512),
    content_type=st.sampled_from([PROTOBUF, FHIR_JSON, "text/plain; charset=utf-8"]),
    dataschema=st.none() | TEXT,
    traceparent=st.none()
    | st.from_regex(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", fullmatch=True),
    extensions=st.dictionaries(EXTENSION_NAMES, TEXT, max_size=4),
)


@given(ENVELOPES)
def test_every_envelope_survives_a_round_trip(envelope: Envelope) -> None:
    record = encode(envelope)
    decoded = decode(record.headers, record.key, record.value)
    assert decoded == envelope
    assert type(decoded.data) is bytes


HEADER_NAMES = st.sampled_from(
    [*REQUIRED_HEADERS, "ce_dataschema", "ce_tenant", "ce_Bad_Name", "traceparent", "x"]
)


@given(
    st.lists(st.tuples(HEADER_NAMES, st.none() | st.binary(max_size=40)), max_size=12),
    st.none() | st.binary(max_size=8),
    st.none() | st.binary(max_size=64),
)
def test_decoding_garbage_fails_only_with_envelope_error(
    headers: list[tuple[str, bytes | None]], key: bytes | None, value: bytes | None
) -> None:
    try:
        envelope = decode(headers, key, value)
    except EnvelopeError:
        return
    assert type(envelope.data) is bytes


# --- the official CloudEvents SDK agrees -----------------------------------


def sdk_message(record: KafkaRecord) -> sdk_kafka.KafkaMessage:
    headers = {name: value for name, value in record.headers if value is not None}
    return sdk_kafka.KafkaMessage(headers=headers, key=record.key, value=record.value or b"")


def test_the_sdk_reads_our_records() -> None:
    ours = sample(dataschema="urn:peerbridge:referrals:v1", extensions={"tenant": "north"})
    record = encode(ours)

    event = sdk_kafka.from_binary(sdk_message(record), data_unmarshaller=lambda body: body)

    assert event["specversion"] == "1.0"
    assert event["id"] == ours.id
    assert event["source"] == ours.source
    assert event["type"] == ours.type
    assert event["subject"] == ours.subject
    assert event["datacontenttype"] == "application/protobuf"
    assert event["dataschema"] == ours.dataschema
    assert event["tenant"] == "north"
    assert event["partitionkey"] == ours.subject.encode()
    assert datetime.fromisoformat(event["time"]) == ours.time
    assert event.get_data() == ours.data


def test_the_strict_sdk_validates_and_reads_our_records() -> None:
    ours = sample(extensions={"tenant": "north"})
    record = encode(ours)
    message = core_kafka.KafkaMessage(
        headers={name: value for name, value in record.headers if value is not None},
        key=record.key,
        value=record.value or b"",
    )

    event = core_kafka.from_binary(message, JSONFormat())

    assert event.get_id() == ours.id
    assert event.get_source() == ours.source
    assert event.get_type() == ours.type
    assert event.get_subject() == ours.subject
    assert event.get_time() == ours.time
    assert event.get_datacontenttype() == PROTOBUF
    assert event.get_extension("tenant") == "north"
    # This SDK turns any payload that is valid UTF-8 into str; the bytes are the same.
    data = event.get_data()
    assert (data.encode() if isinstance(data, str) else data) == ours.data


def test_the_sdk_reads_a_fhir_payload_as_json() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": []}
    record = encode(sample(content_type=FHIR_JSON, data=json.dumps(bundle).encode()))
    message = core_kafka.KafkaMessage(
        headers={name: value for name, value in record.headers if value is not None},
        key=record.key,
        value=record.value or b"",
    )
    assert core_kafka.from_binary(message, JSONFormat()).get_data() == bundle


def test_we_read_what_the_sdk_writes() -> None:
    data = referral_created().SerializeToString()
    attributes: dict[str, Any] = {
        "id": "sdk-1",
        "source": "/elsewhere",
        "type": "peerbridge.referrals.v1.ReferralCreated",
        "subject": "ref-1",
        "time": "2026-03-14T15:09:26.535897+00:00",
        "datacontenttype": "application/protobuf",
        "partitionkey": b"ref-1",
        "tenant": "north",
    }
    event = CloudEvent(attributes, data)

    message = sdk_kafka.to_binary(event, data_marshaller=lambda body: body)
    assert isinstance(message.value, bytes)
    ours = decode(list(message.headers.items()), message.key, message.value)

    assert ours == Envelope(
        id="sdk-1",
        source="/elsewhere",
        type="peerbridge.referrals.v1.ReferralCreated",
        subject="ref-1",
        time=WHEN,
        data=data,
        content_type=PROTOBUF,
        extensions={"tenant": "north"},
    )
    assert unpack_proto(ours, REGISTRY) == referral_created()


def test_we_read_what_the_strict_sdk_writes() -> None:
    from cloudevents.core.v1.event import CloudEvent as CoreCloudEvent

    event = CoreCloudEvent(
        attributes={
            "id": "sdk-2",
            "source": "/elsewhere",
            "type": "peerbridge.referrals.v1.ReferralCreated",
            "subject": "ref-1",
            "time": WHEN,
            "datacontenttype": "application/protobuf",
            "specversion": "1.0",
        },
        data=referral_created().SerializeToString(),
    )
    message = core_kafka.to_binary(event, JSONFormat(), key_mapper=lambda e: e.get_subject())

    ours = decode(list(message.headers.items()), message.key, message.value)

    assert (ours.id, ours.time, ours.subject) == ("sdk-2", WHEN, "ref-1")
    assert unpack_proto(ours, referrals_events_pb2.ReferralCreated) == referral_created()
