"""An inbound referral from a clinic's EHR as a FHIR R4 ServiceRequest, translated into
the referrals port's NewReferral.

The codes and identifier systems are the ones the referrals service's FHIR view
uses on the way out (`urn:peerbridge:*`), so an EHR writes what it reads:
- `subject.identifier` with system `urn:peerbridge:member`: the member;
- `code.coding` with system `urn:peerbridge:codesystem:referral-category`: the
  kind of service (`peer-support`, `housing`, ...);
- `requester.identifier` (`urn:peerbridge:organization`): the sending clinic,
  which must be the calling client's own organization (the service checks);
- `performer[0].identifier` (`urn:peerbridge:organization`): the program asked;
- `reasonCode[0].text` or `note[0].text`: why, in free text (protected);
- `priority`: routine (default), urgent, asap or stat;
- `identifier[0]`: the EHR's order id, used as the idempotency key when the
  request sends no Idempotency-Key, so a resent order makes no second referral.
Every field that cannot be translated is reported at once, by its FHIR path.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from ..clients.referrals import Category, Direction, NewReferral, Party, PartyKind, Priority
from ..problems import FieldError

MEMBER_SYSTEM = "urn:peerbridge:member"
ORGANIZATION_SYSTEM = "urn:peerbridge:organization"
CATEGORY_SYSTEM = "urn:peerbridge:codesystem:referral-category"
_CATEGORIES = {category.value.replace("_", "-"): category for category in Category}
_MAX_REASON = 2000


class ServiceRequestError(Exception):
    """The resource is not a ServiceRequest the platform can take; `errors` say where."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.detail}" for e in errors))
        self.errors = errors


def _bad(field: str, detail: str) -> FieldError:
    return FieldError(field=field, detail=detail)


def parse_service_request(raw: bytes) -> ServiceRequest:
    try:
        resource = ServiceRequest.model_validate_json(raw)
    except ValidationError as error:
        raise ServiceRequestError(
            [
                _bad(".".join(str(part) for part in problem["loc"]) or "$", problem["msg"])
                for problem in error.errors(include_input=False)
            ][:20]
        ) from None
    except ValueError as error:
        raise ServiceRequestError([_bad("$", f"is not a FHIR resource: {error}")]) from None
    return resource


def to_new_referral(resource: ServiceRequest) -> NewReferral:
    errors: list[FieldError] = []
    if resource.status != "active":
        errors.append(_bad("status", "must be active"))
    if resource.intent not in ("order", "original-order"):
        errors.append(_bad("intent", "must be order"))
    member = _identifier_value(resource.subject, MEMBER_SYSTEM, "subject", errors)
    category = _category(resource, errors)
    priority = _priority(resource.priority, errors)
    requester = _organization(resource.requester, "requester", errors)
    performers = resource.performer or []
    recipient = _organization(performers[0] if performers else None, "performer[0]", errors)
    reason = _reason(resource, errors)
    if errors:
        raise ServiceRequestError(errors)
    if not (member and category and priority and requester and recipient and reason):
        raise AssertionError("every part was checked above")
    return NewReferral(
        subject_member_id=member,
        direction=Direction.CLINIC_TO_PEER_SUPPORT,
        category=category,
        priority=priority,
        reason=reason,
        requester=Party(PartyKind.CLINIC, requester[0], requester[1]),
        recipient=Party(PartyKind.PEER_SUPPORT_PROGRAM, recipient[0], recipient[1]),
    )


def order_key(resource: ServiceRequest) -> str | None:
    """The EHR's own order identifier, as an idempotency key (`system|value`)."""
    for identifier in resource.identifier or []:
        if identifier.value:
            return f"{identifier.system or ''}|{identifier.value}"
    return None


def _identifier_value(
    reference: Any, system: str, path: str, errors: list[FieldError]
) -> str | None:
    identifier = getattr(reference, "identifier", None) if reference is not None else None
    if identifier is None or identifier.system != system or not identifier.value:
        errors.append(_bad(f"{path}.identifier", f"is required, with system {system} and a value"))
        return None
    value: str = identifier.value
    return value


def _organization(reference: Any, path: str, errors: list[FieldError]) -> tuple[str, str] | None:
    value = _identifier_value(reference, ORGANIZATION_SYSTEM, path, errors)
    if value is None:
        return None
    return value, (reference.display or value)


def _category(resource: ServiceRequest, errors: list[FieldError]) -> Category | None:
    codings = resource.code.coding if resource.code and resource.code.coding else []
    for coding in codings:
        if coding.system == CATEGORY_SYSTEM and coding.code in _CATEGORIES:
            return _CATEGORIES[coding.code]
    known = ", ".join(sorted(_CATEGORIES))
    errors.append(_bad("code.coding", f"needs a {CATEGORY_SYSTEM} code: one of {known}"))
    return None


def _priority(value: str | None, errors: list[FieldError]) -> Priority | None:
    try:
        return Priority(value or "routine")
    except ValueError:
        errors.append(_bad("priority", "must be routine, urgent, asap or stat"))
        return None


def _reason(resource: ServiceRequest, errors: list[FieldError]) -> str | None:
    texts = [c.text for c in resource.reasonCode or [] if c.text]
    texts += [n.text for n in resource.note or [] if n.text]
    if not texts:
        errors.append(_bad("reasonCode[0].text", "is required (or note[0].text)"))
        return None
    reason = texts[0].strip()
    if not reason or len(reason) > _MAX_REASON:
        errors.append(_bad("reasonCode[0].text", f"must be 1 to {_MAX_REASON} characters"))
        return None
    return reason
