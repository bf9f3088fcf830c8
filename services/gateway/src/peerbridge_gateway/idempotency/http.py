"""Idempotency for a POST route: run it once per key, replay the recorded response after."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import Scope

from ..clients.errors import ServiceError
from ..problems import ProblemException, ProblemRenderer, to_problem
from .guard import IdempotencyGuard, KeyReusedError, StillInProgressError
from .keys import HEADER, fingerprint
from .store import KeyScope, StoredResponse

REPLAYED_HEADER = "Idempotent-Replayed"
# What a replay repeats besides status and body.
_KEPT_HEADERS = frozenset({"content-type", "location", "retry-after"})


@dataclass(frozen=True)
class IdempotentPost:
    """One POST request's idempotency: its key (None without the header) and its identity."""

    key: str | None
    caller: str
    guard: IdempotencyGuard
    renderer: ProblemRenderer
    scope: Scope

    async def respond(self, body: BaseModel, action: Callable[[], Awaitable[Response]]) -> Response:
        """`action`'s response, or the one recorded for this key by an earlier request.

        Without a key the action simply runs. Failures the client caused (4xx
        problems) are recorded like successes; 5xx answers are not.
        """
        if self.key is None:
            return await action()
        request_fingerprint = fingerprint(
            method=self.scope["method"],
            path=self.scope["path"],
            caller=self.caller,
            body=body.model_dump(mode="json"),
        )
        try:
            execution = await self.guard.execute(
                KeyScope(self.caller, self.key), request_fingerprint, self._recorded(action)
            )
        except KeyReusedError:
            raise ProblemException(
                status=409,
                title="Idempotency key reused",
                slug="idempotency-key-reused",
                detail=f"This {HEADER} was used for a different request; use a new key.",
            ) from None
        except StillInProgressError as error:
            raise ProblemException(
                status=409,
                title="Request still in progress",
                slug="request-in-progress",
                detail=f"A request with this {HEADER} is still being processed; retry shortly.",
                headers={"Retry-After": str(error.retry_after_s)},
            ) from None
        headers = dict(execution.response.headers)
        if execution.replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(
            content=execution.response.body,
            status_code=execution.response.status_code,
            headers=headers,
        )

    def _recorded(
        self, action: Callable[[], Awaitable[Response]]
    ) -> Callable[[], Awaitable[StoredResponse]]:
        async def run() -> StoredResponse:
            try:
                response = await action()
            except (ProblemException, ServiceError) as error:
                response = self.renderer.render(to_problem(error), self.scope)
            return StoredResponse(
                status_code=response.status_code,
                headers=tuple(
                    (name, value)
                    for name, value in response.headers.items()
                    if name.lower() in _KEPT_HEADERS
                ),
                body=bytes(response.body),
            )

        return run
