"""Audit every call a service refuses as invalid input (INVALID_ARGUMENT).

Refusals under the access rules are audited by the handlers that apply them;
a request refused for its shape (an unknown field in an update mask, a
malformed id, an oversized value) never reaches a rule, yet it may be an
attempt (mass assignment, probing). This records it as a denied access of
the RPC: the field names only, never the values. Put it last, after
authentication, so the verified caller is the actor.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import grpc

from .. import errors
from ..audit import Auditor
from ..audit.model import PurposeOfUse
from ..logging import get_logger
from .auth_interceptor import EXEMPT_SERVICES
from .handlers import wrap_handler

log = get_logger(__name__)
RESOURCE_TYPE = "rpc"
_MAX_REASON = 200


def _snake(name: str) -> str:
    """`UpdateProfile` -> `update_profile`: audit actions are lower-case words."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class InvalidInputAuditInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(
        self, auditor: Auditor, *, exempt_services: Iterable[str] = EXEMPT_SERVICES
    ) -> None:
        self._auditor = auditor
        self._exempt_prefixes = tuple(f"/{name}/" for name in exempt_services)

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], handler_call_details: Any
    ) -> Any:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(self._exempt_prefixes):
            return handler
        return wrap_handler(handler, lambda _context: self._auditing(method))

    @asynccontextmanager
    async def _auditing(self, method: str) -> AsyncIterator[None]:
        try:
            yield
        except errors.InvalidArgument as error:
            await self._record(method, error)
            raise

    async def _record(self, method: str, error: errors.InvalidArgument) -> None:
        fields = sorted({violation.field for violation in error.violations})
        reason = f"invalid input: {', '.join(fields) or error.message}"[:_MAX_REASON]
        try:
            await self._auditor.record_denied(
                action=f"rpc.{_snake(method.rsplit('/', 1)[-1])}",
                resource_type=RESOURCE_TYPE,
                resource_id=method,
                purpose=PurposeOfUse.HSYSADMIN,
                reason=reason,
            )
        except Exception as audit_error:  # the refusal stands; a lost entry is logged loudly
            log.error("invalid input not audited", method=method, error=repr(audit_error))
