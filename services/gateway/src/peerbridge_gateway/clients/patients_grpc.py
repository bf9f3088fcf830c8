"""The patients port over gRPC: identity's PatientLinkService, on the identity channel, with
the caller's token forwarded and a deadline on every call."""

from __future__ import annotations

import grpc

from peerbridge.identity.v1 import identity_patients_pb2 as patients_pb2
from peerbridge.identity.v1 import identity_patients_pb2_grpc as patients_grpc
from peerbridge.identity.v1 import identity_resources_pb2 as resources_pb2
from peerbridge_platform.grpc import Caller

from .grpc_calls import unary_call
from .patients import PatientQuery, Resolution, ResolvedPatient
from .tokens_grpc import SERVICE

_RESOLUTIONS = {
    patients_pb2.PATIENT_RESOLUTION_LINKED: Resolution.LINKED,
    patients_pb2.PATIENT_RESOLUTION_ENROLLED: Resolution.ENROLLED,
}


class GrpcPatientsClient:
    """`PatientsClient` over a grpc.aio channel to identity (the caller owns the channel).
    Field violations keep identity's names; the route knows the FHIR paths they came from."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._stub = patients_grpc.PatientLinkServiceStub(channel)

    async def resolve_patient(self, query: PatientQuery, *, caller: Caller) -> ResolvedPatient:
        request = patients_pb2.ResolvePatientRequest(
            identifier=patients_pb2.PatientIdentifier(system=query.system, value=query.value),
            demographics=patients_pb2.PatientDemographics(
                given_name=query.given_name, language=query.language
            ),
            program_id=query.program_id,
        )
        if query.birth_date is not None:
            born = query.birth_date
            request.demographics.birth_date.CopyFrom(
                resources_pb2.Date(year=born.year, month=born.month, day=born.day)
            )
        response = await unary_call(
            SERVICE,
            self._stub.ResolvePatient,
            request,
            caller=caller,
            timeout_s=self._timeout_s,
        )
        return ResolvedPatient(response.member_id, _RESOLUTIONS[response.resolution])
