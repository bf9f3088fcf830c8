"""The OAuth2 token and revocation endpoints' rules (RFC 6749, RFC 7009, RFC 7523), free of I/O.

Form bodies are parsed strictly: a parameter sent twice, a body that is not
`application/x-www-form-urlencoded` or not valid percent-encoded UTF-8 is an
`invalid_request`; unknown parameters are ignored and empty ones count as
absent (RFC 6749 §3.1). Errors are the JSON objects of RFC 6749 §5.2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import grpc
from pydantic import BaseModel

from peerbridge_platform.auth import CLIENT_ASSERTION_TYPE

from .clients.errors import ServiceError
from .clients.tokens import (
    ClientCredentialsGrant,
    Grant,
    IssuedTokens,
    PasswordGrant,
    RefreshTokenGrant,
)
from .problems import challenge

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
# Token responses hold credentials: no cache may keep them (RFC 6749 §5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
GRANT_TYPES = ("password", "refresh_token", "client_credentials")
_MAX_PARAMETERS = 16
_MAX_VALUE_CHARS = 8192
_MAX_SCOPES = 32
# RFC 6749 §3.3 scope-token.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")


class TokenResponse(BaseModel):
    """A successful token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str
    refresh_token: str | None = None


class OAuthErrorBody(BaseModel):
    """An error of the token endpoints (RFC 6749 §5.2)."""

    error: str
    error_description: str | None = None


@dataclass
class OAuthError(Exception):
    """Answer with this RFC 6749 §5.2 error."""

    error: str
    description: str
    status: int = 400
    headers: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.description}


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def invalid_client(description: str) -> OAuthError:
    # The client authenticated with an assertion, not an HTTP scheme; the challenge names ours.
    return OAuthError(
        "invalid_client",
        description,
        status=401,
        headers={"WWW-Authenticate": challenge(error="invalid_client")},
    )


def parse_form(body: bytes, content_type: str | None) -> dict[str, str]:
    """The parameters of a form body; raises `invalid_request` for anything malformed."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise invalid_request(f"Send the parameters as {FORM_MEDIA_TYPE}.")
    try:
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_PARAMETERS,
        )
    except ValueError:  # also UnicodeDecodeError: not ASCII, or not UTF-8 once decoded
        raise invalid_request("The form body is malformed.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise invalid_request(f"The parameter {name} is repeated.")
        if len(value) > _MAX_VALUE_CHARS:
            raise invalid_request(f"The parameter {name} is too long.")
        form[name] = value
    # Parameters sent without a value are treated as omitted (RFC 6749 §3.1).
    return {name: value for name, value in form.items() if value}


def parse_scope(value: str | None) -> tuple[str, ...]:
    """The scopes asked for (space-delimited, RFC 6749 §3.3); () asks for all allowed."""
    if value is None:
        return ()
    scopes = tuple(dict.fromkeys(value.split(" ")))
    if len(scopes) > _MAX_SCOPES or not all(_SCOPE_TOKEN.fullmatch(s) for s in scopes):
        raise OAuthError("invalid_scope", "The scope parameter is malformed.")
    return scopes


def grant_from(form: Mapping[str, str]) -> Grant:
    """The grant the form asks for; raises `invalid_request` or `unsupported_grant_type`."""
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise invalid_request("The grant_type parameter is required.")
    if grant_type == "password":
        return PasswordGrant(
            username=_required(form, "username"), password=_required(form, "password")
        )
    if grant_type == "refresh_token":
        return RefreshTokenGrant(refresh_token=_required(form, "refresh_token"))
    if grant_type == "client_credentials":
        assertion_type = _required(form, "client_assertion_type")
        if assertion_type != CLIENT_ASSERTION_TYPE:
            raise invalid_request(f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}.")
        return ClientCredentialsGrant(
            client_assertion_type=assertion_type,
            client_assertion=_required(form, "client_assertion"),
        )
    raise OAuthError(
        "unsupported_grant_type",
        f"The grant_type must be one of: {', '.join(GRANT_TYPES)}.",
    )


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if value is None:
        raise invalid_request(f"The {name} parameter is required.")
    return value


def token_response(issued: IssuedTokens) -> TokenResponse:
    return TokenResponse(
        access_token=issued.access_token,
        token_type=issued.token_type,
        expires_in=issued.expires_in,
        scope=" ".join(issued.scopes),
        refresh_token=issued.refresh_token,
    )


def oauth_error_from(error: ServiceError, grant: Grant | None) -> OAuthError | None:
    """The OAuth error for identity's refusal, or None when it is not the client's doing
    (unavailable, too many attempts, a bug: answered as problems)."""
    description = error.message or "The request was refused."
    if error.code is grpc.StatusCode.INVALID_ARGUMENT:
        if any(v.field == "scopes" for v in error.violations):
            return OAuthError("invalid_scope", description)
        return invalid_request(description)
    if error.code is grpc.StatusCode.UNAUTHENTICATED:
        if isinstance(grant, ClientCredentialsGrant):
            return invalid_client(description)
        return OAuthError("invalid_grant", description)
    return None
