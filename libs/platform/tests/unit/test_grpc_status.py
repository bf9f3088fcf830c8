"""Status mapping, rich error details and metadata parsing: pure functions, no server."""

from __future__ import annotations

import grpc
import pytest

from peerbridge_platform import errors
from peerbridge_platform.grpc import Caller, http_status_for, status_code_for
from peerbridge_platform.grpc.metadata import read_incoming
from peerbridge_platform.grpc.rich_status import (
    STATUS_DETAILS_KEY,
    status_details_metadata,
    violations_from_trailers,
)


@pytest.mark.parametrize(
    ("code", "http_status"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.ABORTED, 409),
        (grpc.StatusCode.FAILED_PRECONDITION, 409),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.INTERNAL, 500),
        (grpc.StatusCode.UNKNOWN, 500),
        (grpc.StatusCode.DATA_LOSS, 500),
    ],
)
def test_http_status_for_each_code(code: grpc.StatusCode, http_status: int) -> None:
    assert http_status_for(code) == http_status


class ReferralNotEditable(errors.FailedPrecondition):
    """A service's own error type keeps its parent's meaning."""


def test_status_code_follows_the_error_hierarchy() -> None:
    assert status_code_for(ReferralNotEditable("closed")) == grpc.StatusCode.FAILED_PRECONDITION
    assert status_code_for(errors.Conflict("raced")) == grpc.StatusCode.ABORTED
    assert status_code_for(errors.DomainError("no meaning")) is None


def test_field_violations_round_trip_through_status_details() -> None:
    violations = [
        errors.FieldViolation("recipient.organization_id", "must not be empty"),
        errors.FieldViolation("priority", "must be set"),
    ]
    trailers = status_details_metadata(3, "invalid referral", violations)
    assert [key for key, _ in trailers] == [STATUS_DETAILS_KEY]
    assert violations_from_trailers([("other", "x"), *trailers]) == violations


def test_no_violations_means_no_details() -> None:
    assert status_details_metadata(5, "not found", []) == ()
    assert violations_from_trailers([]) == []


def test_incoming_metadata_is_parsed_and_bounded() -> None:
    incoming = read_incoming(
        [
            ("x-request-id", "req-1"),
            ("authorization", "Bearer synthetic-token"),
            ("x-peerbridge-caller", "partner-app:demo"),
            ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ("x-other-bin", b"\x00"),
        ]
    )
    assert incoming.request_id == "req-1"
    assert incoming.caller == Caller(principal="partner-app:demo", bearer_token="synthetic-token")
    assert incoming.trace_carrier == {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    }
    # A request id that could forge log lines is dropped (the server makes a new one).
    assert read_incoming([("x-request-id", "a\nb")]).request_id is None
    assert read_incoming([("authorization", "Basic abc")]).caller is None


def test_caller_repr_never_shows_the_token() -> None:
    assert "synthetic-token" not in repr(Caller("someone", "synthetic-token"))
