"""The PatientLinkService servicer: a clinic's patient identifier to its member.

Authenticated like IdentityService (`identity_interceptors`); the rule is in
domain/patients.py.
"""

from __future__ import annotations

from typing import Any

from peerbridge.identity.v1 import identity_patients_pb2 as patients_pb2
from peerbridge.identity.v1 import identity_patients_pb2_grpc as patients_grpc
from peerbridge_platform.grpc import ServiceRegistration

from ..domain.patients import Resolution, ResolvePatient
from ..service_layer.application import IdentityApplication
from .grpc_translation import date_input

SERVICE_NAME: str = patients_pb2.DESCRIPTOR.services_by_name["PatientLinkService"].full_name
_RESOLUTIONS = {
    Resolution.LINKED: patients_pb2.PATIENT_RESOLUTION_LINKED,
    Resolution.ENROLLED: patients_pb2.PATIENT_RESOLUTION_ENROLLED,
}


class PatientLinkServicer(patients_grpc.PatientLinkServiceServicer):
    def __init__(self, application: IdentityApplication) -> None:
        self._app = application

    async def ResolvePatient(
        self, request: patients_pb2.ResolvePatientRequest, context: Any
    ) -> patients_pb2.ResolvePatientResponse:
        demographics = request.demographics
        resolved = await self._app.resolve_patient(
            ResolvePatient(
                system=request.identifier.system,
                value=request.identifier.value,
                program_id=request.program_id,
                given_name=demographics.given_name,
                birth_date=(
                    date_input(demographics.birth_date)
                    if demographics.HasField("birth_date")
                    else None
                ),
                language=demographics.language,
            )
        )
        return patients_pb2.ResolvePatientResponse(
            member_id=str(resolved.member_id), resolution=_RESOLUTIONS[resolved.resolution]
        )


def patients_registration(application: IdentityApplication) -> ServiceRegistration:
    servicer = PatientLinkServicer(application)
    return ServiceRegistration(
        SERVICE_NAME,
        lambda server: patients_grpc.add_PatientLinkServiceServicer_to_server(servicer, server),
    )
