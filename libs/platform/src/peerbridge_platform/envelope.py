"""CloudEvents 1.0 in Kafka binary content mode: the envelope of every PeerBridge event.

Attributes travel as `ce_<name>` headers, the data content type as
`content-type`, the W3C trace context as `traceparent`, the payload as the
record value and the aggregate id (`ce_subject`) as the record key, so one
aggregate's events keep their order. Any CloudEvents reader (the official
SDKs, an EHR's consumer) reads these records without our code.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar, overload

from google.protobuf.message import DecodeError, Message

from .tracing import TRACEPARENT, current_traceparent

SPECVERSION = "1.0"
PROTOBUF = "application/protobuf"
FHIR_JSON = "application/fhir+json"

CE_PREFIX = "ce_"
CONTENT_TYPE = "content-type"

# Attributes with a fixed place in the envelope; anything else `ce_*` is an extension.
_CORE = frozenset(
    {"specversion", "id", "source", "type", "time", "subject", "dataschema", "datacontenttype"}
)
# The spec limits attribute names to lower-case ASCII letters and digits.
_EXTENSION_NAME = re.compile(r"[a-z0-9]+")
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
# Control characters, surrogates and noncharacters are not CloudEvents strings.
_NOT_ALLOWED = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
    "|[\U0001fffe\U0001ffff\U0002fffe\U0002ffff\U0003fffe\U0003ffff\U0004fffe\U0004ffff"
    "\U0005fffe\U0005ffff\U0006fffe\U0006ffff\U0007fffe\U0007ffff\U0008fffe\U0008ffff"
    "\U0009fffe\U0009ffff\U000afffe\U000affff\U000bfffe\U000bffff\U000cfffe\U000cffff"
    "\U000dfffe\U000dffff\U000efffe\U000effff\U000ffffe\U000fffff\U0010fffe\U0010ffff]"
)

HeaderValue = str | bytes | None
Headers = Mapping[str, HeaderValue] | Sequence[tuple[str, HeaderValue]]

M = TypeVar("M", bound=Message)


class EnvelopeError(ValueError):
    """A record is not a valid PeerBridge CloudEvent, or an envelope cannot be built."""


class UnknownEventType(EnvelopeError):
    """A valid envelope whose `ce_type` the reader has no message class for."""

    def __init__(self, type_name: str) -> None:
        super().__init__(f"no message class registered for ce_type {type_name!r}")
        self.type_name = type_name


@dataclass(frozen=True)
class KafkaRecord:
    """What goes to (or came from) Kafka: key, value and headers, nothing decoded.

    The key is required: every PeerBridge record is keyed by its aggregate id.
    A null value (a tombstone) is allowed, so any record can be passed on as it was.
    """

    key: bytes
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]] = ()


@dataclass(frozen=True)
class Envelope:
    """One CloudEvent. `subject` is the aggregate id and becomes the Kafka key."""

    id: str
    source: str
    type: str
    subject: str
    time: datetime
    data: bytes
    content_type: str = PROTOBUF
    dataschema: str | None = None
    traceparent: str | None = None
    extensions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("id", "source", "type", "subject", "content_type"):
            _check_string(name, getattr(self, name))
        if self.dataschema is not None:
            _check_string("dataschema", self.dataschema)
        if self.traceparent is not None and not _TRACEPARENT.fullmatch(self.traceparent):
            raise EnvelopeError(f"traceparent {self.traceparent!r} is not W3C trace context")
        if not isinstance(self.time, datetime) or self.time.utcoffset() is None:
            raise EnvelopeError("time must be a timezone-aware datetime")
        if not isinstance(self.data, bytes | bytearray | memoryview):
            raise EnvelopeError(f"data must be bytes, not {type(self.data).__name__}")
        for name, value in self.extensions.items():
            _check_extension_name(name)
            _check_string(f"extension {name}", value)
        # Normalised once here, so equal events compare equal whatever was passed in.
        object.__setattr__(self, "time", self.time.astimezone(UTC))
        object.__setattr__(self, "data", bytes(self.data))
        object.__setattr__(self, "extensions", dict(self.extensions))


def encode(envelope: Envelope) -> KafkaRecord:
    """The record for one event: key = subject, value = data, CloudEvents headers."""
    headers: list[tuple[str, bytes | None]] = [
        ("ce_specversion", SPECVERSION.encode()),
        ("ce_id", envelope.id.encode()),
        ("ce_source", envelope.source.encode()),
        ("ce_type", envelope.type.encode()),
        ("ce_time", format_time(envelope.time).encode()),
        ("ce_subject", envelope.subject.encode()),
    ]
    if envelope.dataschema is not None:
        headers.append(("ce_dataschema", envelope.dataschema.encode()))
    headers.append((CONTENT_TYPE, envelope.content_type.encode()))
    if envelope.traceparent is not None:
        headers.append((TRACEPARENT, envelope.traceparent.encode()))
    headers.extend(
        (f"{CE_PREFIX}{name}", value.encode())
        for name, value in sorted(envelope.extensions.items())
    )
    return KafkaRecord(key=envelope.subject.encode(), value=envelope.data, headers=headers)


def decode(headers: Headers | None, key: str | bytes | None, value: bytes | None) -> Envelope:
    """Read one binary-mode record; EnvelopeError names the header at fault.

    `data` is always the raw bytes of the value, whatever the content type:
    interpreting it is the reader's business. A record with a key that is not
    its subject is refused, because per-aggregate order rests on that key.
    """
    attributes, content_type, traceparent = _read_headers(headers)
    specversion = _required(attributes, "specversion")
    if specversion != SPECVERSION:
        raise EnvelopeError(f"header ce_specversion is {specversion!r}, only '1.0' is supported")
    if "datacontenttype" in attributes:
        raise EnvelopeError(f"header ce_datacontenttype is not allowed; use {CONTENT_TYPE}")
    id_, source, type_, subject, time = (
        _required(attributes, name) for name in ("id", "source", "type", "subject", "time")
    )
    if content_type is None:
        raise EnvelopeError(f"header {CONTENT_TYPE} is missing")
    if key is not None and _as_bytes(key) != subject.encode():
        raise EnvelopeError(f"record key {key!r} does not match header ce_subject {subject!r}")
    try:
        return Envelope(
            id=id_,
            source=source,
            type=type_,
            subject=subject,
            time=parse_time(time),
            data=bytes(value) if value is not None else b"",
            content_type=content_type,
            dataschema=attributes.get("dataschema"),
            traceparent=_valid_traceparent(traceparent),
            extensions={name: text for name, text in attributes.items() if name not in _CORE},
        )
    except EnvelopeError as exc:
        raise EnvelopeError(f"invalid CloudEvents header: {exc}") from exc


def envelope_for_proto(
    message: Message,
    *,
    source: str,
    subject: str,
    id: str | None = None,
    time: datetime | None = None,
    dataschema: str | None = None,
    traceparent: str | None = None,
    extensions: Mapping[str, str] | None = None,
) -> Envelope:
    """An event carrying a protobuf message; `ce_type` is the message's full name.

    Without an explicit `traceparent`, the current span's (if any) is carried.
    """
    return Envelope(
        id=id or str(uuid.uuid4()),
        source=source,
        type=message.DESCRIPTOR.full_name,
        subject=subject,
        time=time or datetime.now(UTC),
        data=message.SerializeToString(deterministic=True),
        content_type=PROTOBUF,
        dataschema=dataschema,
        traceparent=traceparent or current_traceparent(),
        extensions=extensions or {},
    )


class TypeRegistry:
    """Maps `ce_type` (a protobuf full name) to the message class that decodes it."""

    def __init__(self, message_classes: Iterable[type[Message]]) -> None:
        self._classes: dict[str, type[Message]] = {}
        for cls in message_classes:
            name = cls.DESCRIPTOR.full_name
            if self._classes.setdefault(name, cls) is not cls:
                raise ValueError(f"two message classes registered for {name}")

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._classes

    def __len__(self) -> int:
        return len(self._classes)

    def message_class(self, type_name: str) -> type[Message]:
        try:
            return self._classes[type_name]
        except KeyError:
            raise UnknownEventType(type_name) from None


@overload
def unpack_proto(envelope: Envelope, target: type[M]) -> M: ...
@overload
def unpack_proto(envelope: Envelope, target: TypeRegistry) -> Message: ...
def unpack_proto(envelope: Envelope, target: type[Message] | TypeRegistry) -> Message:
    """The protobuf payload, decoded by `ce_type`.

    Raises UnknownEventType when the registry has no class for the type (a
    reader may choose to skip those), EnvelopeError when the class does not
    match the type or the bytes do not parse.
    """
    if envelope.content_type != PROTOBUF:
        raise EnvelopeError(
            f"event {envelope.id} carries {envelope.content_type!r}, not {PROTOBUF!r}"
        )
    if isinstance(target, TypeRegistry):
        cls = target.message_class(envelope.type)
    else:
        cls = target
        if cls.DESCRIPTOR.full_name != envelope.type:
            raise EnvelopeError(
                f"event {envelope.id} has ce_type {envelope.type!r}, "
                f"not {cls.DESCRIPTOR.full_name!r}"
            )
    message = cls()
    try:
        message.ParseFromString(envelope.data)
    except DecodeError as exc:
        raise EnvelopeError(f"event {envelope.id}: data is not a valid {envelope.type}") from exc
    return message


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: fixed width, so it sorts as text too."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Any RFC 3339 timestamp (other writers use offsets or fewer digits), as UTC."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise EnvelopeError(f"ce_time {text!r} is not an RFC 3339 timestamp")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        tz = UTC if offset in ("Z", "z") else _offset(offset)
        # Python keeps microseconds; finer digits are cut, not rounded.
        micros = int((fraction or "0")[:6].ljust(6, "0"))
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tz
        )
    except ValueError as exc:
        raise EnvelopeError(f"ce_time {text!r} is not a valid date and time: {exc}") from None
    return moment.astimezone(UTC)


def _offset(text: str) -> timezone:
    hours, minutes = int(text[1:3]), int(text[4:6])
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


def _read_headers(headers: Headers | None) -> tuple[dict[str, str], str | None, str | None]:
    """CloudEvents attributes (by name), content type and traceparent, as text."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    attributes: dict[str, str] = {}
    content_type: str | None = None
    traceparent: str | None = None
    for raw_name, raw_value in pairs:
        name = raw_name.lower()
        if name.startswith(CE_PREFIX):
            attribute = name[len(CE_PREFIX) :]
            if attribute not in _CORE:
                _check_header_extension(raw_name, attribute)
            if attribute in attributes:
                # Two values for one attribute: no safe way to pick.
                raise EnvelopeError(f"header {raw_name} appears more than once")
            attributes[attribute] = _text(raw_name, raw_value)
        elif name == CONTENT_TYPE:
            if content_type is not None:
                raise EnvelopeError(f"header {raw_name} appears more than once")
            content_type = _text(raw_name, raw_value)
        elif name == TRACEPARENT and traceparent is None:
            traceparent = _text(raw_name, raw_value)
    return attributes, content_type, traceparent


def _as_bytes(key: str | bytes) -> bytes:
    return key.encode() if isinstance(key, str) else bytes(key)


def _valid_traceparent(text: str | None) -> str | None:
    # A broken trace context must not make the event unreadable: it is dropped.
    return text if text is not None and _TRACEPARENT.fullmatch(text) else None


def _check_header_extension(header: str, attribute: str) -> None:
    try:
        _check_extension_name(attribute)
    except EnvelopeError as exc:
        raise EnvelopeError(f"header {header}: {exc}") from None


def _required(attributes: Mapping[str, str], name: str) -> str:
    value = attributes.get(name)
    if value is None:
        raise EnvelopeError(f"header {CE_PREFIX}{name} is missing")
    if not value:
        raise EnvelopeError(f"header {CE_PREFIX}{name} is empty")
    return value


def _text(header: str, value: HeaderValue) -> str:
    if value is None:
        raise EnvelopeError(f"header {header} has no value")
    if isinstance(value, str):
        return value
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise EnvelopeError(f"header {header} is not valid UTF-8") from None


def _check_string(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise EnvelopeError(f"{name} must be a string, not {type(value).__name__}")
    if not value:
        raise EnvelopeError(f"{name} must not be empty")
    if _NOT_ALLOWED.search(value):
        raise EnvelopeError(f"{name} {value!r} holds characters CloudEvents does not allow")


def _check_extension_name(name: str) -> None:
    if name in _CORE or name == "data":
        raise EnvelopeError(f"extension name {name!r} is reserved by CloudEvents")
    if not _EXTENSION_NAME.fullmatch(name):
        raise EnvelopeError(
            f"extension name {name!r} must be lower-case ASCII letters and digits only"
        )
