"""OpenAPI tweaks: error responses are documented as `application/problem+json`
(but the OAuth2 errors of the token endpoints, which are plain JSON by RFC 6749)."""

from __future__ import annotations

from typing import Any

from .problems import PROBLEM_MEDIA_TYPE


def problems_as_problem_json(schema: dict[str, Any]) -> dict[str, Any]:
    """Move the JSON content of every 4xx/5xx response to the problem media type (in place)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                body = content.get("application/json", {}).get("schema", {})
                if body.get("$ref", "").endswith("/OAuthErrorBody"):
                    continue
                if str(status)[:1] in {"4", "5"} and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return schema
