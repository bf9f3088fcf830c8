"""HTTP routes: each translates a request into a client call and the answer back."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ..deps import current_caller, require_json_body
from . import consents, crisis, disclosures, emergency, fhir, notes, referrals, worklist


def build_v1_router() -> APIRouter:
    """Everything under `/v1` but the token endpoints. `current_caller` guards every route
    here (the auth seam); each route also names the scopes it needs."""
    router = APIRouter(
        prefix="/v1", dependencies=[Depends(current_caller), Depends(require_json_body)]
    )
    router.include_router(referrals.build_router())
    router.include_router(fhir.build_router())
    router.include_router(consents.build_router())
    router.include_router(disclosures.build_router())
    router.include_router(worklist.build_router())
    router.include_router(crisis.build_router())
    router.include_router(emergency.build_router())
    router.include_router(notes.build_router())
    return router
