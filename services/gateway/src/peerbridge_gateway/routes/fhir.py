"""`/v1/fhir`: referrals from clinic EHRs as FHIR R4 resources (see
schemas/fhir_service_request.py for what a ServiceRequest must hold)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from peerbridge_platform.auth.scopes import REFERRALS_WRITE
from peerbridge_platform.errors import FieldViolation
from peerbridge_platform.grpc import Caller

from ..clients.errors import ServiceError
from ..clients.patients import PatientsClient, ResolvedPatient
from ..deps import CurrentCaller, Idempotent, Patients, Referrals, require_scopes
from ..problems import ProblemException, problem_responses
from ..schemas.fhir_service_request import (
    InboundReferralOut,
    PatientSubject,
    ServiceRequestError,
    order_key,
    parse_service_request,
    to_inbound_referral,
)

_EXAMPLE = {
    "resourceType": "ServiceRequest",
    "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.9999", "value": "ORDER-1001"}],
    "status": "active",
    "intent": "order",
    "priority": "routine",
    "code": {
        "coding": [
            {"system": "urn:peerbridge:codesystem:referral-category", "code": "peer-support"}
        ]
    },
    "subject": {"identifier": {"system": "urn:peerbridge:member", "value": "member-demo-cleo"}},
    "requester": {
        "type": "Organization",
        "identifier": {"system": "urn:peerbridge:organization", "value": "clinic-northside"},
        "display": "Northside Health Clinic (demo)",
    },
    "performer": [
        {
            "type": "Organization",
            "identifier": {"system": "urn:peerbridge:organization", "value": "program-harbour"},
            "display": "Harbour Peer Recovery (demo)",
        }
    ],
    "reasonCode": [{"text": "Discharged from detox; wants a peer supporter."}],
}
# The clinic's own patient instead of a member: identity links or enrols the member.
_PATIENT_EXAMPLE = _EXAMPLE | {
    "contained": [
        {
            "resourceType": "Patient",
            "id": "p1",
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.9999.1", "value": "MRN-0042"}],
            "name": [{"family": "Demo", "given": ["Robin"]}],
            "birthDate": "1990-05-17",
            "communication": [
                {
                    "language": {
                        "text": "Spanish",
                        "coding": [{"system": "urn:ietf:bcp:47", "code": "es"}],
                    },
                    "preferred": True,
                }
            ],
        }
    ],
    "subject": {"reference": "#p1"},
}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["fhir"])

    @router.post(
        "/ServiceRequest",
        name="receive_service_request",
        summary="A clinic refers a patient to peer support (FHIR R4 ServiceRequest)",
        status_code=201,
        response_model=InboundReferralOut,
        dependencies=[require_scopes(REFERRALS_WRITE)],
        responses=problem_responses(400, 401, 403, 409, 413, 415, 422, 500, 503, 504),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/fhir+json": {
                        "schema": {"type": "object"},
                        "examples": {
                            "member": {"summary": "a known member", "value": _EXAMPLE},
                            "clinic_patient": {
                                "summary": "the clinic's patient (linked or enrolled)",
                                "value": _PATIENT_EXAMPLE,
                            },
                        },
                    }
                },
            }
        },
    )
    async def receive_service_request(
        request: Request,
        referrals: Referrals,
        patients: Patients,
        caller: CurrentCaller,
        idempotent: Idempotent,
    ) -> Response:
        """The referral is created clinic to peer support; resending the same order
        (the same `identifier`) answers with the same referral.

        A subject given by the clinic's own patient identifier (or a contained Patient)
        is linked to its member, or a new member is enrolled into the performing program
        (this needs the `patients.link` scope); `patient_resolution` says which. Only
        the exact identifier is matched, never names or birth dates."""
        try:
            resource = parse_service_request(await request.body())
            inbound = to_inbound_referral(resource)
        except ServiceRequestError as error:
            raise ProblemException(
                status=422,
                title="Not a ServiceRequest the platform can take",
                slug="validation-error",
                detail=f"{len(error.errors)} input(s) are not valid; see `errors`.",
                errors=error.errors,
            ) from None

        async def create() -> Response:
            resolved = (
                await _resolve(patients, inbound.patient, caller) if inbound.patient else None
            )
            new = inbound.for_member(resolved.member_id) if resolved else inbound.referral
            referral = await referrals.create_referral(
                new, caller=caller, idempotency_key=idempotent.key or order_key(resource)
            )
            location = request.app.url_path_for("get_referral", referral_id=referral.referral_id)
            body = InboundReferralOut.from_port(referral).model_dump(mode="json")
            body["patient_resolution"] = resolved.resolution.value if resolved else None
            return JSONResponse(
                body,
                status_code=201,
                headers={"Location": str(location)},
            )

        return await idempotent.respond(resource, create)

    return router


async def _resolve(
    patients: PatientsClient, patient: PatientSubject, caller: Caller
) -> ResolvedPatient:
    """The member of the clinic's patient; identity's field errors named by FHIR path."""
    try:
        return await patients.resolve_patient(patient.query, caller=caller)
    except ServiceError as error:
        error.violations = [
            FieldViolation(patient.path_of(v.field), v.description) for v in error.violations
        ]
        raise
