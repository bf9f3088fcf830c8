"""Domain values ⇄ protobuf enums and messages of `peerbridge.identity.v1`.

A domain enum value `x_y` is the proto value `<PREFIX>X_Y`; matching by name
keeps the two lists honest (a unit test checks that every value has its partner).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.timestamp_pb2 import Timestamp

from peerbridge.identity.v1 import identity_events_pb2 as events_pb2
from peerbridge.identity.v1 import identity_resources_pb2 as resources_pb2
from peerbridge.identity.v1 import identity_service_pb2 as service_pb2

from ..domain.eligibility import EligibilityState, Reason
from ..domain.model import (
    Certification,
    Client,
    ModuleCode,
    Organization,
    Person,
    ProgramSettings,
    TrainingRecord,
    is_standard_module,
)
from ..domain.values import (
    AgeBand,
    ClientKind,
    ContactPreference,
    EligibilityChange,
    EligibilityStatus,
    OrganizationKind,
    ReasonCode,
    Role,
    StandardModule,
    VerificationDecision,
    VerificationStatus,
)

# Each domain enum, its protobuf enum and the prefix of the protobuf value names.
PROTO_ENUMS: dict[type[StrEnum], tuple[EnumDescriptor, str]] = {
    Role: (resources_pb2.Role.DESCRIPTOR, "ROLE_"),
    OrganizationKind: (resources_pb2.OrganizationKind.DESCRIPTOR, "ORGANIZATION_KIND_"),
    ContactPreference: (resources_pb2.ContactPreference.DESCRIPTOR, "CONTACT_PREFERENCE_"),
    AgeBand: (resources_pb2.AgeBand.DESCRIPTOR, "AGE_BAND_"),
    ClientKind: (resources_pb2.ClientKind.DESCRIPTOR, "CLIENT_KIND_"),
    StandardModule: (resources_pb2.TrainingModule.DESCRIPTOR, "TRAINING_MODULE_"),
    VerificationStatus: (resources_pb2.VerificationStatus.DESCRIPTOR, "VERIFICATION_STATUS_"),
    VerificationDecision: (
        service_pb2.VerificationDecision.DESCRIPTOR,
        "VERIFICATION_DECISION_",
    ),
    EligibilityStatus: (resources_pb2.EligibilityStatus.DESCRIPTOR, "ELIGIBILITY_STATUS_"),
    ReasonCode: (resources_pb2.EligibilityReasonCode.DESCRIPTOR, "ELIGIBILITY_REASON_CODE_"),
    EligibilityChange: (events_pb2.EligibilityChange.DESCRIPTOR, "ELIGIBILITY_CHANGE_"),
}


def proto_name(value: StrEnum) -> str:
    return PROTO_ENUMS[type(value)][1] + value.value.upper()


def role_to_proto(value: Role) -> resources_pb2.Role.ValueType:
    return resources_pb2.Role.Value(proto_name(value))


def roles_to_proto(roles: frozenset[Role]) -> list[resources_pb2.Role.ValueType]:
    return sorted(role_to_proto(role) for role in roles)


def organization_kind_to_proto(value: OrganizationKind) -> resources_pb2.OrganizationKind.ValueType:
    return resources_pb2.OrganizationKind.Value(proto_name(value))


def client_kind_to_proto(value: ClientKind) -> resources_pb2.ClientKind.ValueType:
    return resources_pb2.ClientKind.Value(proto_name(value))


def status_to_proto(value: EligibilityStatus) -> resources_pb2.EligibilityStatus.ValueType:
    return resources_pb2.EligibilityStatus.Value(proto_name(value))


def change_to_proto(value: EligibilityChange) -> events_pb2.EligibilityChange.ValueType:
    return events_pb2.EligibilityChange.Value(proto_name(value))


def value_name_from_proto(enum: type[StrEnum], number: int) -> str:
    """The domain value's name for a proto number: "" when unset, the number when unknown.

    Checking is the domain's job; this only translates, so the domain can
    report an unset or unknown value like any other bad field.
    """
    if number == 0:
        return ""
    descriptor, prefix = PROTO_ENUMS[enum]
    proto_value = descriptor.values_by_number.get(number)
    if proto_value is None:
        return str(number)
    value = proto_value.name.removeprefix(prefix).lower()
    return value if value in enum.__members__.values() else str(number)


def to_timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def to_proto_date(day: date) -> resources_pb2.Date:
    return resources_pb2.Date(year=day.year, month=day.month, day=day.day)


def to_module_ref(module: ModuleCode) -> resources_pb2.TrainingModuleRef:
    if is_standard_module(module):
        standard = resources_pb2.TrainingModule.Value(proto_name(StandardModule(module)))
        return resources_pb2.TrainingModuleRef(standard=standard)
    return resources_pb2.TrainingModuleRef(program_defined=module)


def to_proto_program_settings(settings: ProgramSettings) -> resources_pb2.ProgramSettings:
    return resources_pb2.ProgramSettings(
        required_training=[
            resources_pb2.TrainingRequirement(
                module=to_module_ref(r.module), validity_days=r.validity_days or 0
            )
            for r in settings.required_training
        ],
        certification_renewal_days=settings.certification_renewal_days or 0,
    )


def to_proto_organization(organization: Organization) -> resources_pb2.Organization:
    message = resources_pb2.Organization(
        organization_id=str(organization.organization_id),
        kind=organization_kind_to_proto(organization.kind),
        name=organization.name,
        create_time=to_timestamp(organization.create_time),
    )
    if organization.program_settings is not None:
        message.program_settings.CopyFrom(to_proto_program_settings(organization.program_settings))
    return message


def to_proto_person(person: Person) -> resources_pb2.Person:
    profile = person.profile
    return resources_pb2.Person(
        person_id=str(person.person_id),
        roles=roles_to_proto(person.roles),
        organization_id=str(person.organization_id) if person.organization_id else "",
        profile=resources_pb2.Profile(
            display_name=profile.display_name,
            contact_preference=(
                resources_pb2.ContactPreference.Value(proto_name(profile.contact_preference))
                if profile.contact_preference
                else resources_pb2.CONTACT_PREFERENCE_UNSPECIFIED
            ),
            language=profile.language,
            time_zone=profile.time_zone,
            age_band=(
                resources_pb2.AgeBand.Value(proto_name(profile.age_band))
                if profile.age_band
                else resources_pb2.AGE_BAND_UNSPECIFIED
            ),
        ),
        create_time=to_timestamp(person.create_time),
        update_time=to_timestamp(person.update_time),
        version=person.version,
    )


def to_proto_client(client: Client) -> resources_pb2.Client:
    return resources_pb2.Client(
        client_id=str(client.client_id),
        organization_id=str(client.organization_id),
        kind=client_kind_to_proto(client.kind),
        display_name=client.display_name,
        scopes=list(client.scopes),
        create_time=to_timestamp(client.create_time),
    )


def to_proto_training(record: TrainingRecord) -> resources_pb2.TrainingRecord:
    message = resources_pb2.TrainingRecord(
        training_record_id=str(record.training_record_id),
        person_id=str(record.person_id),
        module=to_module_ref(record.module),
        completed_on=to_proto_date(record.completed_on),
        create_time=to_timestamp(record.create_time),
    )
    if record.expires_on is not None:
        message.expires_on.CopyFrom(to_proto_date(record.expires_on))
    return message


def to_proto_certification(certification: Certification) -> resources_pb2.Certification:
    c = certification
    message = resources_pb2.Certification(
        certification_id=str(c.certification_id),
        person_id=str(c.person_id),
        credential_type=c.credential_type,
        issuing_body=c.issuing_body,
        credential_number=c.credential_number,
        valid_from=to_proto_date(c.valid_from),
        valid_until=to_proto_date(c.valid_until),
        verification_status=resources_pb2.VerificationStatus.Value(
            proto_name(c.verification_status)
        ),
        verified_by=str(c.verified_by) if c.verified_by else "",
        create_time=to_timestamp(c.create_time),
    )
    if c.verify_time is not None:
        message.verify_time.CopyFrom(to_timestamp(c.verify_time))
    return message


def to_proto_reason(reason: Reason) -> resources_pb2.EligibilityReason:
    message = resources_pb2.EligibilityReason(
        code=resources_pb2.EligibilityReasonCode.Value(proto_name(reason.code))
    )
    if reason.module is not None:
        message.training_module.CopyFrom(to_module_ref(reason.module))
    if reason.on is not None:
        message.date.CopyFrom(to_proto_date(reason.on))
    return message


def to_proto_eligibility(state: EligibilityState) -> resources_pb2.SupporterEligibility:
    message = resources_pb2.SupporterEligibility(
        person_id=str(state.person_id),
        organization_id=str(state.organization_id) if state.organization_id else "",
        status=status_to_proto(state.status),
        reasons=[to_proto_reason(r) for r in state.reasons],
        evaluated_on=to_proto_date(state.evaluated_on),
    )
    if state.lapses_on is not None:
        message.lapses_on.CopyFrom(to_proto_date(state.lapses_on))
    return message
