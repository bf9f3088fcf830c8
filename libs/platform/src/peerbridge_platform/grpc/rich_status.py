"""Field violations as `google.rpc.Status` with a `google.rpc.BadRequest` detail.

This is the standard `grpc-status-details-bin` trailer, which any gRPC client
(grpcurl, Go, Java) can decode. googleapis-common-protos is not a dependency,
so the two messages are declared here from their public definitions, in a
private descriptor pool that cannot clash with the real ones if they are
ever installed. The wire format is what matters, and it is identical.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, Protocol

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory

from ..errors import FieldViolation

STATUS_DETAILS_KEY = "grpc-status-details-bin"
_BAD_REQUEST = "google.rpc.BadRequest"
_TYPE_URL_PREFIX = "type.googleapis.com/"


class _HasTrailingMetadata(Protocol):
    def trailing_metadata(self) -> Any: ...


def status_details_metadata(
    code: int, message: str, violations: Sequence[FieldViolation]
) -> tuple[tuple[str, bytes], ...]:
    """Trailing metadata carrying `violations`; empty when there are none.

    `code` must be the call's status code (the integer value), as clients
    check that the details agree with the status.
    """
    if not violations:
        return ()
    status_type, bad_request_type = _message_types()
    bad_request = bad_request_type()
    for violation in violations:
        bad_request.field_violations.add(field=violation.field, description=violation.description)
    status = status_type(code=code, message=message)
    detail = status.details.add()
    detail.type_url = _TYPE_URL_PREFIX + _BAD_REQUEST
    detail.value = bad_request.SerializeToString()
    return ((STATUS_DETAILS_KEY, status.SerializeToString()),)


def field_violations(error: _HasTrailingMetadata) -> list[FieldViolation]:
    """The field violations a failed call carried (for example a `grpc.aio.AioRpcError`)."""
    return violations_from_trailers(error.trailing_metadata() or ())


def violations_from_trailers(trailing_metadata: Iterable[tuple[str, Any]]) -> list[FieldViolation]:
    status_type, bad_request_type = _message_types()
    found: list[FieldViolation] = []
    for key, value in trailing_metadata:
        if key != STATUS_DETAILS_KEY or not isinstance(value, bytes):
            continue
        status = status_type.FromString(value)
        for detail in status.details:
            if detail.type_url.rpartition("/")[2] != _BAD_REQUEST:
                continue
            bad_request = bad_request_type.FromString(detail.value)
            found.extend(
                FieldViolation(field=v.field, description=v.description)
                for v in bad_request.field_violations
            )
    return found


@cache
def _message_types() -> tuple[Any, Any]:
    # Built on first use, never at import.
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(any_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(_status_file())
    pool.Add(_error_details_file())
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("google.rpc.Status")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName(_BAD_REQUEST)),
    )


_Field = descriptor_pb2.FieldDescriptorProto


def _status_file() -> descriptor_pb2.FileDescriptorProto:
    # google/rpc/status.proto: message Status { int32 code = 1; string message = 2;
    # repeated google.protobuf.Any details = 3; }
    file = descriptor_pb2.FileDescriptorProto(
        name="google/rpc/status.proto",
        package="google.rpc",
        syntax="proto3",
        dependency=["google/protobuf/any.proto"],
    )
    status = file.message_type.add(name="Status")
    status.field.add(name="code", number=1, type=_Field.TYPE_INT32, label=_Field.LABEL_OPTIONAL)
    status.field.add(name="message", number=2, type=_Field.TYPE_STRING, label=_Field.LABEL_OPTIONAL)
    status.field.add(
        name="details",
        number=3,
        type=_Field.TYPE_MESSAGE,
        label=_Field.LABEL_REPEATED,
        type_name=".google.protobuf.Any",
    )
    return file


def _error_details_file() -> descriptor_pb2.FileDescriptorProto:
    # google/rpc/error_details.proto, the part we use: message BadRequest {
    # message FieldViolation { string field = 1; string description = 2; }
    # repeated FieldViolation field_violations = 1; }
    file = descriptor_pb2.FileDescriptorProto(
        name="google/rpc/error_details.proto", package="google.rpc", syntax="proto3"
    )
    bad_request = file.message_type.add(name="BadRequest")
    violation = bad_request.nested_type.add(name="FieldViolation")
    violation.field.add(
        name="field", number=1, type=_Field.TYPE_STRING, label=_Field.LABEL_OPTIONAL
    )
    violation.field.add(
        name="description", number=2, type=_Field.TYPE_STRING, label=_Field.LABEL_OPTIONAL
    )
    bad_request.field.add(
        name="field_violations",
        number=1,
        type=_Field.TYPE_MESSAGE,
        label=_Field.LABEL_REPEATED,
        type_name=".google.rpc.BadRequest.FieldViolation",
    )
    return file
