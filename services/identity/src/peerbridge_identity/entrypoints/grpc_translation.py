"""gRPC messages → commands and queries; the rules stay in the domain."""

from __future__ import annotations

from peerbridge.identity.v1 import identity_resources_pb2 as resources_pb2
from peerbridge.identity.v1 import identity_service_pb2 as service_pb2

from ..adapters.protobuf_values import value_name_from_proto
from ..domain import commands
from ..domain.values import (
    AgeBand,
    ClientKind,
    ContactPreference,
    OrganizationKind,
    Role,
    StandardModule,
    VerificationDecision,
)
from ..service_layer.queries import GetPerson, GetSupporterEligibility, ListEligibleSupporters


def date_input(message: resources_pb2.Date) -> commands.DateInput:
    return commands.DateInput(message.year, message.month, message.day)


def module_input(message: resources_pb2.TrainingModuleRef) -> commands.ModuleInput | None:
    which = message.WhichOneof("module")
    if which == "standard":
        return commands.ModuleInput(
            "standard", value_name_from_proto(StandardModule, message.standard)
        )
    if which == "program_defined":
        return commands.ModuleInput("program_defined", message.program_defined)
    return None


def _program_settings(message: resources_pb2.ProgramSettings) -> commands.ProgramSettingsInput:
    return commands.ProgramSettingsInput(
        required_training=tuple(
            commands.TrainingRequirementInput(
                module=module_input(item.module) if item.HasField("module") else None,
                validity_days=item.validity_days,
            )
            for item in message.required_training
        ),
        certification_renewal_days=message.certification_renewal_days,
    )


def register_organization(
    request: service_pb2.RegisterOrganizationRequest,
) -> commands.RegisterOrganization:
    return commands.RegisterOrganization(
        request_id=request.request_id,
        kind=value_name_from_proto(OrganizationKind, request.kind),
        name=request.name,
        program_settings=(
            _program_settings(request.program_settings)
            if request.HasField("program_settings")
            else None
        ),
    )


def profile_input(message: resources_pb2.Profile) -> commands.ProfileInput:
    return commands.ProfileInput(
        display_name=message.display_name,
        contact_preference=value_name_from_proto(ContactPreference, message.contact_preference),
        language=message.language,
        time_zone=message.time_zone,
        age_band=value_name_from_proto(AgeBand, message.age_band),
    )


def register_person(request: service_pb2.RegisterPersonRequest) -> commands.RegisterPerson:
    return commands.RegisterPerson(
        request_id=request.request_id,
        roles=tuple(value_name_from_proto(Role, role) for role in request.roles),
        organization_id=request.organization_id,
        profile=profile_input(request.profile) if request.HasField("profile") else None,
    )


def get_person(request: service_pb2.GetPersonRequest) -> GetPerson:
    return GetPerson(person_id=request.person_id)


def update_profile(request: service_pb2.UpdateProfileRequest) -> commands.UpdateProfile:
    return commands.UpdateProfile(
        person_id=request.person_id,
        profile=profile_input(request.profile) if request.HasField("profile") else None,
        update_mask=tuple(request.update_mask.paths),
    )


def grant_role(request: service_pb2.GrantRoleRequest) -> commands.GrantRole:
    return commands.GrantRole(
        person_id=request.person_id,
        role=value_name_from_proto(Role, request.role),
        organization_id=request.organization_id,
    )


def revoke_role(request: service_pb2.RevokeRoleRequest) -> commands.RevokeRole:
    return commands.RevokeRole(
        person_id=request.person_id, role=value_name_from_proto(Role, request.role)
    )


def register_client(request: service_pb2.RegisterClientRequest) -> commands.RegisterClient:
    return commands.RegisterClient(
        request_id=request.request_id,
        organization_id=request.organization_id,
        kind=value_name_from_proto(ClientKind, request.kind),
        display_name=request.display_name,
        scopes=tuple(request.scopes),
    )


def record_training(request: service_pb2.RecordTrainingRequest) -> commands.RecordTraining:
    return commands.RecordTraining(
        request_id=request.request_id,
        person_id=request.person_id,
        module=module_input(request.module) if request.HasField("module") else None,
        completed_on=(
            date_input(request.completed_on) if request.HasField("completed_on") else None
        ),
        expires_on=date_input(request.expires_on) if request.HasField("expires_on") else None,
    )


def record_certification(
    request: service_pb2.RecordCertificationRequest,
) -> commands.RecordCertification:
    return commands.RecordCertification(
        request_id=request.request_id,
        person_id=request.person_id,
        credential_type=request.credential_type,
        issuing_body=request.issuing_body,
        credential_number=request.credential_number,
        valid_from=date_input(request.valid_from) if request.HasField("valid_from") else None,
        valid_until=(date_input(request.valid_until) if request.HasField("valid_until") else None),
    )


def verify_certification(
    request: service_pb2.VerifyCertificationRequest,
) -> commands.VerifyCertification:
    return commands.VerifyCertification(
        certification_id=request.certification_id,
        decision=value_name_from_proto(VerificationDecision, request.decision),
        verified_by=request.verified_by,
    )


def assign_supervisor(request: service_pb2.AssignSupervisorRequest) -> commands.AssignSupervisor:
    return commands.AssignSupervisor(
        supporter_id=request.supporter_id, supervisor_id=request.supervisor_id
    )


def get_supporter_eligibility(
    request: service_pb2.GetSupporterEligibilityRequest,
) -> GetSupporterEligibility:
    return GetSupporterEligibility(person_id=request.person_id)


def list_eligible_supporters(
    request: service_pb2.ListEligibleSupportersRequest,
) -> ListEligibleSupporters:
    return ListEligibleSupporters(
        page_size=request.page_size,
        page_token=request.page_token,
        organization_id=request.organization_id,
    )
