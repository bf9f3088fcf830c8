"""`/healthz` (the process is alive) and `/readyz` (it can serve: its database and services)."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import Resources
from ..problems import ProblemException, problem_responses
from ..readiness import READY, check_all


def build_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: the database and the referrals service answer",
        responses=problem_responses(503),
    )
    async def readyz(resources: Resources) -> dict[str, object]:
        checks = await check_all(resources.probes, resources.probe_timeout_s)
        failing = {name: outcome for name, outcome in checks.items() if outcome != READY}
        if failing:
            raise ProblemException(
                status=503,
                title="Not ready",
                slug="not-ready",
                detail="Not ready: "
                + ", ".join(f"{name} ({outcome})" for name, outcome in failing.items()),
                headers={"Retry-After": "1"},
                extensions={"checks": checks},
            )
        return {"status": "ready", "checks": checks}

    return router
