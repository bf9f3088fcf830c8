"""The consent gate on reads: what a recipient organization reads of a referral sent to it.

A referral a peer support program sends to a clinic holds the member's
substance-use detail: who the member is, what they are referred for (the
category: medication for opioid use disorder, detox...), why (the reason), and
what came of it (status reason, outcome). When someone of the RECIPIENT
organization reads it (a clinician, its coordinator, its partner client), that
read is a disclosure by the program, so it is gated exactly as the FHIR view
is (`disclosure_for`): under a covering consent the referral comes whole and
the read is written to the disclosure log; without one it comes redacted, as
the minimal FHIR view: that it exists, its status, priority, direction, who
sent it and who holds it, and why the rest is withheld.

Reads by the requesting side and by the member themselves are not
disclosures and are unchanged; so are clinic-to-program referrals, whose
details the program received rather than disclosed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from peerbridge_platform.auth.principal import Principal, Role

from .consent import Consent
from .disclosure import Disclosure, disclosure_for
from .model import Referral
from .values import Direction

# For the accounting of disclosures (42 CFR 2.24): brief, no detail.
READ_DESCRIPTION = (
    "Referral details read through the API: the referral's member, category, "
    "reason, status reason and outcome, with the member's consent"
)


class ReadView(StrEnum):
    FULL = "full"
    REDACTED = "redacted"


@dataclass(frozen=True)
class ReadDisclosure:
    """What a read returned of a referral and why; `reason` is empty for a plain read."""

    view: ReadView = ReadView.FULL
    reason: str = ""


# A read that is no disclosure: the referral is the caller's own business.
NOT_A_DISCLOSURE = ReadDisclosure()


def is_disclosure(caller: Principal, referral: Referral) -> bool:
    """Whether `caller` reads `referral` as its recipient, so the read discloses it."""
    if referral.direction is not Direction.PEER_SUPPORT_TO_CLINIC:
        return False
    if caller.has_role(Role.MEMBER) and caller.subject == referral.subject_member_id:
        return False
    organization = caller.organization_id
    return (
        organization is not None
        and organization == referral.recipient.organization_id
        and organization != referral.requester.organization_id
    )


@dataclass(frozen=True)
class GatedRead:
    """A read's answer: the referral as the caller may see it, the marker, and the gate's
    decision when the read was a disclosure (None otherwise)."""

    referral: Referral
    disclosure: ReadDisclosure
    decision: Disclosure | None = None


def gate_read(
    caller: Principal, referral: Referral, consents: Iterable[Consent], at: datetime
) -> GatedRead:
    """The referral whole when the read is no disclosure or a consent covers it; else
    redacted, with why."""
    if not is_disclosure(caller, referral):
        return GatedRead(referral, NOT_A_DISCLOSURE)
    return gate_decided(referral, disclosure_for(referral, consents, at))


def gate_answer(caller: Principal, referral: Referral, decision: Disclosure) -> GatedRead:
    """What the answer to the caller's own change shows: a recipient who changes a status
    gets the referral back as the change's FHIR view discloses it, no more."""
    if not is_disclosure(caller, referral):
        return GatedRead(referral, NOT_A_DISCLOSURE)
    return gate_decided(referral, decision)


def gate_decided(referral: Referral, decision: Disclosure) -> GatedRead:
    """The referral whole under the decision's consent, else redacted with why."""
    if decision.consent is not None:
        marker = ReadDisclosure(
            ReadView.FULL, f"disclosed under consent {decision.consent.consent_id}"
        )
        return GatedRead(referral, marker, decision)
    marker = ReadDisclosure(ReadView.REDACTED, decision.withheld_because or "")
    return GatedRead(redact(referral), marker, decision)


def redact(referral: Referral) -> Referral:
    """`referral` without the member's detail, as the minimal FHIR view shows it: no member,
    no reason, no status reason (text or code), no outcome, and no requester practitioner
    (who works with the member). The category is withheld too; `Referral` needs one, so
    the translations to the wire leave it out for a redacted read (`ReadView.REDACTED`)."""
    return replace(
        referral,
        subject_member_id="",
        reason="",
        status_reason=None,
        status_reason_category=None,
        outcome=None,
        requester=replace(referral.requester, practitioner_id=None),
        request_id=None,
    )
