"""The IdentityService servicer: translates each call and hands it to the application.

Domain errors propagate as they are; the platform's error-mapping interceptor
turns them into canonical status codes with field violations. Every
IdentityService call needs a verified access token (`identity_interceptors`);
who may do what is decided in the service layer (see domain/access_rules.py).
"""

from __future__ import annotations

from typing import Any

import grpc

from peerbridge.identity.v1 import identity_service_pb2 as service_pb2
from peerbridge.identity.v1 import identity_service_pb2_grpc as service_grpc
from peerbridge.identity.v1 import identity_tokens_pb2 as tokens_pb2
from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import BearerVerifier
from peerbridge_platform.grpc import ServiceRegistration
from peerbridge_platform.grpc.auth_interceptor import EXEMPT_SERVICES, AuthenticationInterceptor
from peerbridge_platform.grpc.invalid_input_audit import InvalidInputAuditInterceptor
from peerbridge_platform.grpc.server_interceptors import default_server_interceptors

from ..adapters import protobuf_values as to_proto
from ..domain import commands
from ..service_layer.application import IdentityApplication
from . import grpc_translation as translate

SERVICE_NAME: str = service_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name
TOKEN_SERVICE_NAME: str = tokens_pb2.DESCRIPTOR.services_by_name["TokenService"].full_name


class IdentityServicer(service_grpc.IdentityServiceServicer):
    def __init__(self, application: IdentityApplication) -> None:
        self._app = application

    async def RegisterOrganization(
        self, request: service_pb2.RegisterOrganizationRequest, context: Any
    ) -> service_pb2.RegisterOrganizationResponse:
        organization = await self._app.register_organization(
            translate.register_organization(request)
        )
        return service_pb2.RegisterOrganizationResponse(
            organization=to_proto.to_proto_organization(organization)
        )

    async def RegisterPerson(
        self, request: service_pb2.RegisterPersonRequest, context: Any
    ) -> service_pb2.RegisterPersonResponse:
        person = await self._app.register_person(translate.register_person(request))
        return service_pb2.RegisterPersonResponse(person=to_proto.to_proto_person(person))

    async def GetPerson(
        self, request: service_pb2.GetPersonRequest, context: Any
    ) -> service_pb2.GetPersonResponse:
        person = await self._app.get_person(translate.get_person(request))
        return service_pb2.GetPersonResponse(person=to_proto.to_proto_person(person))

    async def UpdateProfile(
        self, request: service_pb2.UpdateProfileRequest, context: Any
    ) -> service_pb2.UpdateProfileResponse:
        person = await self._app.update_profile(translate.update_profile(request))
        return service_pb2.UpdateProfileResponse(person=to_proto.to_proto_person(person))

    async def GrantRole(
        self, request: service_pb2.GrantRoleRequest, context: Any
    ) -> service_pb2.GrantRoleResponse:
        person = await self._app.grant_role(translate.grant_role(request))
        return service_pb2.GrantRoleResponse(person=to_proto.to_proto_person(person))

    async def RevokeRole(
        self, request: service_pb2.RevokeRoleRequest, context: Any
    ) -> service_pb2.RevokeRoleResponse:
        person = await self._app.revoke_role(translate.revoke_role(request))
        return service_pb2.RevokeRoleResponse(person=to_proto.to_proto_person(person))

    async def RegisterClient(
        self, request: service_pb2.RegisterClientRequest, context: Any
    ) -> service_pb2.RegisterClientResponse:
        client = await self._app.register_client(translate.register_client(request))
        return service_pb2.RegisterClientResponse(client=to_proto.to_proto_client(client))

    async def RecordTraining(
        self, request: service_pb2.RecordTrainingRequest, context: Any
    ) -> service_pb2.RecordTrainingResponse:
        record = await self._app.record_training(translate.record_training(request))
        return service_pb2.RecordTrainingResponse(
            training_record=to_proto.to_proto_training(record)
        )

    async def RecordCertification(
        self, request: service_pb2.RecordCertificationRequest, context: Any
    ) -> service_pb2.RecordCertificationResponse:
        certification = await self._app.record_certification(
            translate.record_certification(request)
        )
        return service_pb2.RecordCertificationResponse(
            certification=to_proto.to_proto_certification(certification)
        )

    async def VerifyCertification(
        self, request: service_pb2.VerifyCertificationRequest, context: Any
    ) -> service_pb2.VerifyCertificationResponse:
        certification = await self._app.verify_certification(
            translate.verify_certification(request)
        )
        return service_pb2.VerifyCertificationResponse(
            certification=to_proto.to_proto_certification(certification)
        )

    async def AssignSupervisor(
        self, request: service_pb2.AssignSupervisorRequest, context: Any
    ) -> service_pb2.AssignSupervisorResponse:
        supervision = await self._app.assign_supervisor(translate.assign_supervisor(request))
        return service_pb2.AssignSupervisorResponse(
            supporter_id=str(supervision.supporter_id),
            supervisor_id=str(supervision.supervisor_id),
        )

    async def GetSupporterEligibility(
        self, request: service_pb2.GetSupporterEligibilityRequest, context: Any
    ) -> service_pb2.GetSupporterEligibilityResponse:
        state = await self._app.get_supporter_eligibility(
            translate.get_supporter_eligibility(request)
        )
        return service_pb2.GetSupporterEligibilityResponse(
            eligibility=to_proto.to_proto_eligibility(state)
        )

    async def ListEligibleSupporters(
        self, request: service_pb2.ListEligibleSupportersRequest, context: Any
    ) -> service_pb2.ListEligibleSupportersResponse:
        page = await self._app.list_eligible_supporters(translate.list_eligible_supporters(request))
        return service_pb2.ListEligibleSupportersResponse(
            supporters=[to_proto.to_proto_eligibility(s) for s in page.supporters],
            next_page_token=page.next_page_token,
        )

    async def SetPassword(
        self, request: service_pb2.SetPasswordRequest, context: Any
    ) -> service_pb2.SetPasswordResponse:
        await self._app.set_password(
            commands.SetPassword(
                person_id=request.person_id,
                username=request.username,
                new_password=request.new_password,
                current_password=request.current_password,
            )
        )
        return service_pb2.SetPasswordResponse()

    async def AddClientKey(
        self, request: service_pb2.AddClientKeyRequest, context: Any
    ) -> service_pb2.AddClientKeyResponse:
        kid = await self._app.add_client_key(
            commands.AddClientKey(request.client_id, request.public_jwk_json)
        )
        return service_pb2.AddClientKeyResponse(kid=kid)

    async def RemoveClientKey(
        self, request: service_pb2.RemoveClientKeyRequest, context: Any
    ) -> service_pb2.RemoveClientKeyResponse:
        await self._app.remove_client_key(commands.RemoveClientKey(request.client_id, request.kid))
        return service_pb2.RemoveClientKeyResponse()

    async def RotateSigningKey(
        self, request: service_pb2.RotateSigningKeyRequest, context: Any
    ) -> service_pb2.RotateSigningKeyResponse:
        return service_pb2.RotateSigningKeyResponse(kid=await self._app.rotate_signing_key())


def identity_registration(application: IdentityApplication) -> ServiceRegistration:
    servicer = IdentityServicer(application)
    return ServiceRegistration(
        SERVICE_NAME,
        lambda server: service_grpc.add_IdentityServiceServicer_to_server(servicer, server),
    )


def identity_interceptors(
    verifier: BearerVerifier, auditor: Auditor | None = None
) -> list[grpc.aio.ServerInterceptor]:
    """The default interceptors plus authentication of every call but health, reflection
    and TokenService (which is how a caller gets a token in the first place), and, with
    an `auditor`, the audit of calls refused as invalid input."""
    exempt = (*EXEMPT_SERVICES, TOKEN_SERVICE_NAME)
    interceptors = [
        *default_server_interceptors(),
        AuthenticationInterceptor(verifier, exempt_services=exempt),
    ]
    if auditor is not None:
        interceptors.append(InvalidInputAuditInterceptor(auditor))
    return interceptors
