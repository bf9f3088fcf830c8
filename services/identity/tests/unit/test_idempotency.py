"""Request fingerprints: equal content, equal digest, in any process."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from peerbridge_identity.domain.model import PersonDetails, Profile
from peerbridge_identity.domain.values import Role
from peerbridge_identity.service_layer.idempotency import fingerprint

ORG = UUID("0b9e7c1e-64b1-4f7e-9d37-2a3c5d8e9f10")


def details(*roles: Role, language: str = "en") -> PersonDetails:
    return PersonDetails(frozenset(roles), ORG, Profile("Sam (test)", language, "UTC"))


def test_equal_details_have_equal_fingerprints_whatever_the_set_order() -> None:
    assert fingerprint(details(Role.MEMBER, Role.ADMIN)) == fingerprint(
        details(Role.ADMIN, Role.MEMBER)
    )


def test_any_difference_changes_the_fingerprint() -> None:
    assert fingerprint(details(Role.MEMBER)) != fingerprint(details(Role.MEMBER, language="de"))
    assert fingerprint(details(Role.MEMBER)) != fingerprint(details(Role.ADMIN))


def test_the_fingerprint_is_stable_across_processes() -> None:
    # Fixed expectations: hash randomisation or dict order must never leak in.
    assert fingerprint({"on": date(2026, 3, 2), "id": ORG}) == fingerprint(
        {"id": ORG, "on": date(2026, 3, 2)}
    )
    assert len(fingerprint(details(Role.MEMBER))) == 64
