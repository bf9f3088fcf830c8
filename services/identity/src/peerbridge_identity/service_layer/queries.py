"""Queries: questions from outside, in plain values, not yet checked."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.eligibility import EligibilityState


@dataclass(frozen=True)
class GetPerson:
    person_id: str


@dataclass(frozen=True)
class GetSupporterEligibility:
    person_id: str


@dataclass(frozen=True)
class ListEligibleSupporters:
    page_size: int = 0
    page_token: str = ""
    organization_id: str = ""


@dataclass(frozen=True)
class EligibleSupporterPage:
    supporters: list[EligibilityState]
    next_page_token: str
