"""What leaves the service: one protobuf event per fact, keyed by its aggregate, no profile
values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

from peerbridge.identity.v1 import identity_events_pb2 as events_pb2
from peerbridge.identity.v1 import identity_resources_pb2 as resources_pb2
from peerbridge_identity.adapters.integration_events import EVENTS_TOPIC, SOURCE, messages_for
from peerbridge_identity.domain.eligibility import EligibilityState, Reason
from peerbridge_identity.domain.events import (
    ClientRegistered,
    PersonRegistered,
    ProfileUpdated,
    RoleGranted,
    SupporterEligibilityChanged,
)
from peerbridge_identity.domain.model import Client, Person, Profile
from peerbridge_identity.domain.values import (
    AgeBand,
    ClientKind,
    ContactPreference,
    EligibilityChange,
    EligibilityStatus,
    ReasonCode,
    Role,
)
from peerbridge_platform.envelope import PROTOBUF, unpack_proto

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
PROGRAM = uuid4()
PROFILE = Profile(
    "Unique Display Name 7f3a",
    "pt-BR",
    "America/Sao_Paulo",
    ContactPreference.SMS,
    AgeBand.B25_TO_34,
)
PERSON = Person(
    uuid4(), frozenset({Role.MEMBER, Role.PEER_SUPPORTER}), PROGRAM, PROFILE, NOW, NOW, 1
)


def only(event: object) -> tuple[str, bytes, str]:
    (message,) = messages_for(event)  # type: ignore[arg-type]
    envelope = message.envelope
    assert message.topic == EVENTS_TOPIC == "peerbridge.identity.events.v1"
    assert envelope.source == SOURCE
    assert envelope.content_type == PROTOBUF
    return envelope.subject, envelope.data, envelope.type


def test_person_events_are_keyed_by_the_person_and_carry_no_profile_values() -> None:
    for event in (
        PersonRegistered(PERSON),
        ProfileUpdated(PERSON, ("display_name", "time_zone")),
        RoleGranted(PERSON, Role.PEER_SUPPORTER),
    ):
        key, data, _ = only(event)
        assert key == str(PERSON.person_id)
        for value in ("Unique Display Name 7f3a", "pt-BR", "America/Sao_Paulo"):
            assert value.encode() not in data


def test_person_registered_carries_ids_and_roles() -> None:
    (message,) = messages_for(PersonRegistered(PERSON))

    decoded = unpack_proto(message.envelope, events_pb2.PersonRegistered)

    assert decoded.person_id == str(PERSON.person_id)
    assert list(decoded.roles) == [resources_pb2.ROLE_MEMBER, resources_pb2.ROLE_PEER_SUPPORTER]
    assert decoded.organization_id == str(PROGRAM)


def test_profile_updated_names_fields_only() -> None:
    (message,) = messages_for(ProfileUpdated(PERSON, ("display_name",)))

    decoded = unpack_proto(message.envelope, events_pb2.ProfileUpdated)

    assert list(decoded.changed_fields) == ["display_name"]


def test_client_events_are_keyed_by_the_organization() -> None:
    client = Client(uuid4(), PROGRAM, ClientKind.APP, "App (test)", ("referrals.read",), NOW)

    key, _, type_name = only(ClientRegistered(client))

    assert key == str(PROGRAM)
    assert type_name == "peerbridge.identity.v1.ClientRegistered"


def test_eligibility_changes_carry_status_reasons_and_dates() -> None:
    state = EligibilityState(
        PERSON.person_id,
        PROGRAM,
        EligibilityStatus.INELIGIBLE,
        (Reason(ReasonCode.TRAINING_EXPIRED, "ethics", date(2026, 3, 1)),),
        None,
        None,
        date(2026, 3, 2),
        NOW,
        7,
    )
    event = SupporterEligibilityChanged(
        state, EligibilityStatus.EXPIRING_SOON, EligibilityChange.EXPIRED
    )
    (message,) = messages_for(event)

    decoded = unpack_proto(message.envelope, events_pb2.SupporterEligibilityChanged)

    assert message.envelope.subject == str(PERSON.person_id)
    assert decoded.change == events_pb2.ELIGIBILITY_CHANGE_EXPIRED
    assert decoded.previous_status == resources_pb2.ELIGIBILITY_STATUS_EXPIRING_SOON
    assert decoded.status == resources_pb2.ELIGIBILITY_STATUS_INELIGIBLE
    (reason,) = decoded.reasons
    assert reason.code == resources_pb2.ELIGIBILITY_REASON_CODE_TRAINING_EXPIRED
    assert reason.training_module.standard == resources_pb2.TRAINING_MODULE_ETHICS
    assert (reason.date.year, reason.date.month, reason.date.day) == (2026, 3, 1)
    assert not decoded.HasField("lapses_on")
    assert decoded.effective_on.day == 2
