"""Every kind of failure becomes the right RFC 9457 problem."""

from __future__ import annotations

import json

import grpc
import pytest
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from peerbridge_gateway.clients.errors import ServiceError
from peerbridge_gateway.problems import (
    PROBLEM_MEDIA_TYPE,
    REQUEST_ID_SCOPE_KEY,
    ProblemException,
    ProblemRenderer,
    to_problem,
)
from peerbridge_platform.errors import FieldViolation


def test_validation_errors_name_each_field_without_echoing_input() -> None:
    error = RequestValidationError(
        [
            {"type": "missing", "loc": ("body", "requester", "kind"), "msg": "Field required"},
            {"type": "extra_forbidden", "loc": ("body", "nickname"), "msg": "Extra inputs"},
            {"type": "greater_than_equal", "loc": ("query", "limit"), "msg": "too small"},
            {"type": "string_type", "loc": ("body", "items", 2, "id"), "msg": "not a string"},
            {"type": "model_attributes_type", "loc": ("body",), "msg": "not an object"},
        ]
    )
    problem = to_problem(error)
    assert problem.status == 422
    assert problem.slug == "validation-error"
    assert [e.field for e in problem.errors or []] == [
        "requester.kind",
        "nickname",
        "limit",
        "items[2].id",
        "body",
    ]


def test_malformed_json_is_a_400_not_a_422() -> None:
    error = RequestValidationError(
        [
            {
                "type": "json_invalid",
                "loc": ("body", 7),
                "msg": "JSON decode error",
                "ctx": {"error": "Expecting value"},
            }
        ]
    )
    problem = to_problem(error)
    assert (problem.status, problem.slug) == (400, "malformed-json")
    assert problem.detail is not None
    assert "character 7" in problem.detail


@pytest.mark.parametrize(
    ("code", "status", "slug"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400, "invalid-argument"),
        (grpc.StatusCode.NOT_FOUND, 404, "not-found"),
        (grpc.StatusCode.ALREADY_EXISTS, 409, "already-exists"),
        (grpc.StatusCode.ABORTED, 409, "conflict"),
        (grpc.StatusCode.FAILED_PRECONDITION, 409, "failed-precondition"),
        (grpc.StatusCode.PERMISSION_DENIED, 403, "forbidden"),
        (grpc.StatusCode.UNAUTHENTICATED, 401, "unauthenticated"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429, "too-many-requests"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504, "upstream-timeout"),
        (grpc.StatusCode.UNAVAILABLE, 503, "service-unavailable"),
        (grpc.StatusCode.INTERNAL, 500, "upstream-error"),
        (grpc.StatusCode.UNKNOWN, 500, "upstream-error"),
    ],
)
def test_service_errors_map_through_http_status_for(
    code: grpc.StatusCode, status: int, slug: str
) -> None:
    problem = to_problem(ServiceError("referrals", code, "the service's words"))
    assert (problem.status, problem.slug) == (status, slug)


def test_client_errors_carry_the_services_field_violations() -> None:
    error = ServiceError(
        "referrals",
        grpc.StatusCode.INVALID_ARGUMENT,
        "the referral is not valid",
        [FieldViolation("recipient.organization_id", "must differ from requester")],
    )
    problem = to_problem(error)
    assert problem.detail == "the referral is not valid"
    assert [(e.field, e.detail) for e in problem.errors or []] == [
        ("recipient.organization_id", "must differ from requester")
    ]


def test_server_side_failures_keep_the_services_words_to_themselves() -> None:
    error = ServiceError("referrals", grpc.StatusCode.INTERNAL, "stack trace at db.py:12")
    problem = to_problem(error)
    assert problem.detail is not None
    assert "db.py" not in problem.detail
    unavailable = to_problem(ServiceError("referrals", grpc.StatusCode.UNAVAILABLE, "conn refused"))
    assert unavailable.headers.get("Retry-After") == "1"


def test_http_exceptions_keep_their_headers() -> None:
    problem = to_problem(HTTPException(405, headers={"Allow": "GET, POST"}))
    assert (problem.status, problem.title, problem.slug) == (405, "Method Not Allowed", None)
    assert problem.headers["Allow"] == "GET, POST"


def test_anything_else_is_a_bare_500() -> None:
    problem = to_problem(RuntimeError("password=hunter2 in a traceback"))
    assert problem.status == 500
    assert "hunter2" not in json.dumps(problem.detail)


def test_the_renderer_writes_problem_json_with_type_instance_and_request_id() -> None:
    renderer = ProblemRenderer("https://problems.test/")
    problem = ProblemException(
        status=409, title="Conflict", slug="conflict", detail="d", extensions={"extra": 1}
    )
    response = renderer.render(
        problem, {"type": "http", "path": "/v1/things/1", REQUEST_ID_SCOPE_KEY: "req-1"}
    )
    assert response.media_type == PROBLEM_MEDIA_TYPE
    assert json.loads(bytes(response.body)) == {
        "type": "https://problems.test/conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "d",
        "instance": "/v1/things/1",
        "request_id": "req-1",
        "extra": 1,
    }
    blank = renderer.render(ProblemException(status=404, title="Not Found"), {"type": "http"})
    assert json.loads(bytes(blank.body))["type"] == "about:blank"
