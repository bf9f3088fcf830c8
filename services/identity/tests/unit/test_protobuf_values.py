"""Domain values ⇄ protobuf: every value has a partner, and requests translate faithfully."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from uuid import uuid4

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from peerbridge.identity.v1 import identity_resources_pb2 as resources_pb2
from peerbridge.identity.v1 import identity_service_pb2 as service_pb2
from peerbridge_identity.adapters.protobuf_values import (
    PROTO_ENUMS,
    proto_name,
    to_module_ref,
    to_proto_person,
    value_name_from_proto,
)
from peerbridge_identity.domain.commands import DateInput, ModuleInput, ProfileInput
from peerbridge_identity.domain.model import Person, Profile
from peerbridge_identity.domain.values import AgeBand, ContactPreference, Role
from peerbridge_identity.entrypoints import grpc_translation as translate


@pytest.mark.parametrize("enum", list(PROTO_ENUMS), ids=lambda e: e.__name__)
def test_every_domain_value_has_a_proto_value_and_back(enum: type[StrEnum]) -> None:
    descriptor, prefix = PROTO_ENUMS[enum]
    proto_names = {v.name for v in descriptor.values if v.number != 0}

    assert {proto_name(member) for member in enum} == proto_names
    for member in enum:
        number = descriptor.values_by_name[proto_name(member)].number
        assert value_name_from_proto(enum, number) == member.value
    assert descriptor.values_by_number[0].name == f"{prefix}UNSPECIFIED"


def test_unset_and_unknown_numbers_reach_the_domain_as_bad_values() -> None:
    assert value_name_from_proto(Role, 0) == ""
    assert value_name_from_proto(Role, 99) == "99"


def test_modules_are_standard_or_program_defined() -> None:
    assert to_module_ref("ethics") == resources_pb2.TrainingModuleRef(
        standard=resources_pb2.TRAINING_MODULE_ETHICS
    )
    assert to_module_ref("hiv_bloodborne_pathogens") == resources_pb2.TrainingModuleRef(
        program_defined="hiv_bloodborne_pathogens"
    )


def test_a_register_person_request_translates_field_by_field() -> None:
    request = service_pb2.RegisterPersonRequest(
        request_id="req-1",
        roles=[resources_pb2.ROLE_MEMBER, resources_pb2.ROLE_ADMIN, 42],
        organization_id="org-1",
        profile=resources_pb2.Profile(
            display_name="Sam (test)",
            contact_preference=resources_pb2.CONTACT_PREFERENCE_EMAIL,
            language="en",
            time_zone="UTC",
            age_band=resources_pb2.AGE_BAND_65_OR_OLDER,
        ),
    )

    command = translate.register_person(request)

    assert command.roles == ("member", "admin", "42")
    assert command.profile == ProfileInput("Sam (test)", "email", "en", "UTC", "65_or_older")


def test_a_missing_profile_stays_missing() -> None:
    assert translate.register_person(service_pb2.RegisterPersonRequest()).profile is None


def test_an_update_carries_the_mask_as_sent() -> None:
    request = service_pb2.UpdateProfileRequest(
        person_id="p",
        profile=resources_pb2.Profile(language="de"),
        update_mask=FieldMask(paths=["language", "roles"]),
    )

    assert translate.update_profile(request).update_mask == ("language", "roles")


def test_training_requests_keep_unset_dates_and_modules_unset() -> None:
    empty = translate.record_training(service_pb2.RecordTrainingRequest())
    full = translate.record_training(
        service_pb2.RecordTrainingRequest(
            module=resources_pb2.TrainingModuleRef(program_defined="naloxone"),
            completed_on=resources_pb2.Date(year=2026, month=2, day=30),
        )
    )

    assert (empty.module, empty.completed_on, empty.expires_on) == (None, None, None)
    assert full.module == ModuleInput("program_defined", "naloxone")
    assert full.completed_on == DateInput(2026, 2, 30)  # the domain says it is no date


def test_a_person_translates_to_proto_with_sorted_roles() -> None:
    now = datetime(2026, 3, 2, tzinfo=UTC)
    person = Person(
        uuid4(),
        frozenset({Role.ADMIN, Role.MEMBER}),
        None,
        Profile("Sam (test)", "en", "UTC", ContactPreference.NO_CONTACT, AgeBand.B45_TO_54),
        now,
        now,
        4,
    )

    message = to_proto_person(person)

    assert list(message.roles) == [resources_pb2.ROLE_MEMBER, resources_pb2.ROLE_ADMIN]
    assert message.organization_id == ""
    assert message.profile.age_band == resources_pb2.AGE_BAND_45_TO_54
    assert message.profile.contact_preference == resources_pb2.CONTACT_PREFERENCE_NO_CONTACT
    assert message.version == 4
    assert date(2026, 3, 2) == message.create_time.ToDatetime().date()
