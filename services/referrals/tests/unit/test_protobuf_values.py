"""Every domain value has its protobuf partner, both ways."""

from __future__ import annotations

from enum import StrEnum

import pytest

from peerbridge_referrals.adapters.protobuf_values import (
    PROTO_ENUMS,
    proto_name,
    value_name_from_proto,
)


@pytest.mark.parametrize("enum", list(PROTO_ENUMS))
def test_each_domain_value_round_trips_through_its_proto_number(enum: type[StrEnum]) -> None:
    descriptor, _ = PROTO_ENUMS[enum]
    for member in enum:
        number = descriptor.values_by_name[proto_name(member)].number
        assert value_name_from_proto(enum, number) == member.value


@pytest.mark.parametrize("enum", list(PROTO_ENUMS))
def test_each_proto_value_but_unspecified_has_a_domain_value(enum: type[StrEnum]) -> None:
    descriptor, prefix = PROTO_ENUMS[enum]
    names = {v.name.removeprefix(prefix) for v in descriptor.values if v.number != 0}
    assert names == set(enum.__members__)


@pytest.mark.parametrize("enum", list(PROTO_ENUMS))
def test_unset_and_unknown_numbers_stay_recognisable(enum: type[StrEnum]) -> None:
    assert value_name_from_proto(enum, 0) == ""
    assert value_name_from_proto(enum, 999) == "999"
