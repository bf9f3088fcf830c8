"""The ReferralsService servicer: translates each call and hands it to the application.

Domain errors propagate as they are; the platform's error-mapping interceptor
turns them into canonical status codes with field violations.
"""

from __future__ import annotations

from typing import Any

from peerbridge.referrals.v1 import referrals_service_pb2 as service_pb2
from peerbridge.referrals.v1 import referrals_service_pb2_grpc as service_grpc
from peerbridge_platform.grpc import ServiceRegistration

from ..adapters.consent_protobuf import to_proto_consent
from ..adapters.protobuf_values import to_proto_referral
from ..service_layer.application import ReferralsApplication
from . import grpc_translation as translate

SERVICE_NAME: str = service_pb2.DESCRIPTOR.services_by_name["ReferralsService"].full_name


class ReferralsServicer(service_grpc.ReferralsServiceServicer):
    def __init__(self, application: ReferralsApplication) -> None:
        self._application = application

    async def CreateReferral(
        self, request: service_pb2.CreateReferralRequest, context: Any
    ) -> service_pb2.CreateReferralResponse:
        referral = await self._application.create_referral(translate.create_command(request))
        return service_pb2.CreateReferralResponse(referral=to_proto_referral(referral))

    async def GetReferral(
        self, request: service_pb2.GetReferralRequest, context: Any
    ) -> service_pb2.GetReferralResponse:
        read = await self._application.read_referral(translate.get_query(request))
        return translate.get_response(read)

    async def ListReferrals(
        self, request: service_pb2.ListReferralsRequest, context: Any
    ) -> service_pb2.ListReferralsResponse:
        page = await self._application.list_referrals(translate.list_query(request))
        return translate.list_response(page)

    async def UpdateReferralStatus(
        self, request: service_pb2.UpdateReferralStatusRequest, context: Any
    ) -> service_pb2.UpdateReferralStatusResponse:
        command = translate.update_status_command(request)
        answer = await self._application.update_referral_status(command)
        return translate.update_status_response(answer)

    async def RecordConsent(
        self, request: service_pb2.RecordConsentRequest, context: Any
    ) -> service_pb2.RecordConsentResponse:
        consent = await self._application.record_consent(translate.record_consent_command(request))
        return service_pb2.RecordConsentResponse(consent=to_proto_consent(consent))

    async def RevokeConsent(
        self, request: service_pb2.RevokeConsentRequest, context: Any
    ) -> service_pb2.RevokeConsentResponse:
        consent = await self._application.revoke_consent(translate.revoke_consent_command(request))
        return service_pb2.RevokeConsentResponse(consent=to_proto_consent(consent))

    async def GetConsent(
        self, request: service_pb2.GetConsentRequest, context: Any
    ) -> service_pb2.GetConsentResponse:
        consent = await self._application.get_consent(translate.get_consent_query(request))
        return service_pb2.GetConsentResponse(consent=to_proto_consent(consent))

    async def ListConsents(
        self, request: service_pb2.ListConsentsRequest, context: Any
    ) -> service_pb2.ListConsentsResponse:
        page = await self._application.list_consents(translate.list_consents_query(request))
        return translate.list_consents_response(page)

    async def ListDisclosures(
        self, request: service_pb2.ListDisclosuresRequest, context: Any
    ) -> service_pb2.ListDisclosuresResponse:
        query = translate.list_disclosures_query(request)
        page = await self._application.list_disclosures(query)
        return translate.list_disclosures_response(page)


def referrals_registration(application: ReferralsApplication) -> ServiceRegistration:
    servicer = ReferralsServicer(application)
    return ServiceRegistration(
        SERVICE_NAME,
        lambda server: service_grpc.add_ReferralsServiceServicer_to_server(servicer, server),
    )
