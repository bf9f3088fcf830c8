"""An inbound referral from a clinic's EHR as a FHIR R4 ServiceRequest, translated into
the referrals port's NewReferral.

The codes and identifier systems are the ones the referrals service's FHIR view
uses on the way out (`urn:peerbridge:*`), so an EHR writes what it reads:
- the subject: `subject.identifier` with system `urn:peerbridge:member` names the
  member; `subject.identifier` with the clinic's own system (its medical record
  number, say), or `subject.reference` `#id` to a contained Patient with an
  `identifier`, names the clinic's patient, whom identity links to a member (or
  enrols: the contained Patient's first given name, birth date and preferred
  language are used for a new member; nothing else about the patient is kept);
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

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from ..clients.patients import PatientQuery, Resolution
from ..clients.referrals import Category, Direction, NewReferral, Party, PartyKind, Priority
from ..problems import FieldError
from .referrals import ReferralOut

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


@dataclass(frozen=True)
class PatientSubject:
    """The subject as the clinic knows it: identity finds (or enrols) the member."""

    query: PatientQuery
    # The FHIR path of each of identity's fields, so errors name what the clinic sent.
    paths: dict[str, str]

    def path_of(self, field: str) -> str:
        return self.paths.get(field, field)


@dataclass(frozen=True)
class InboundReferral:
    # Its subject_member_id is empty while `patient` is still to be resolved.
    referral: NewReferral
    patient: PatientSubject | None = None

    def for_member(self, member_id: str) -> NewReferral:
        return replace(self.referral, subject_member_id=member_id)


class InboundReferralOut(ReferralOut):
    """The referral created, and how its member was found from the clinic's patient:
    `linked` (already known by this identifier), `enrolled` (a new member), or absent
    when the request named the member itself."""

    patient_resolution: Resolution | None = None


def to_new_referral(resource: ServiceRequest) -> NewReferral:
    """The referral of a ServiceRequest naming its member (`urn:peerbridge:member`)."""
    inbound = to_inbound_referral(resource)
    if inbound.patient is not None:
        raise ServiceRequestError(
            [_bad("subject.identifier", f"is required, with system {MEMBER_SYSTEM} and a value")]
        )
    return inbound.referral


def to_inbound_referral(resource: ServiceRequest) -> InboundReferral:
    errors: list[FieldError] = []
    if resource.status != "active":
        errors.append(_bad("status", "must be active"))
    if resource.intent not in ("order", "original-order"):
        errors.append(_bad("intent", "must be order"))
    member, patient = _subject(resource, errors)
    category = _category(resource, errors)
    priority = _priority(resource.priority, errors)
    requester = _organization(resource.requester, "requester", errors)
    performers = resource.performer or []
    recipient = _organization(performers[0] if performers else None, "performer[0]", errors)
    reason = _reason(resource, errors)
    if errors:
        raise ServiceRequestError(errors)
    if not ((member or patient) and category and priority and requester and recipient and reason):
        raise AssertionError("every part was checked above")
    if patient is not None:
        patient = replace(patient, query=replace(patient.query, program_id=recipient[0]))
    referral = NewReferral(
        subject_member_id=member or "",
        direction=Direction.CLINIC_TO_PEER_SUPPORT,
        category=category,
        priority=priority,
        reason=reason,
        requester=Party(PartyKind.CLINIC, requester[0], requester[1]),
        recipient=Party(PartyKind.PEER_SUPPORT_PROGRAM, recipient[0], recipient[1]),
    )
    return InboundReferral(referral, patient)


def order_key(resource: ServiceRequest) -> str | None:
    """The EHR's own order identifier, as an idempotency key (`system|value`)."""
    for identifier in resource.identifier or []:
        if identifier.value:
            return f"{identifier.system or ''}|{identifier.value}"
    return None


def _subject(
    resource: ServiceRequest, errors: list[FieldError]
) -> tuple[str | None, PatientSubject | None]:
    """The member's id, or the clinic's patient to resolve; else an error naming the fix."""
    subject = resource.subject
    reference = (subject.reference or "") if subject is not None else ""
    if reference.startswith("#"):
        return _contained_patient(resource, reference[1:], errors)
    identifier = subject.identifier if subject is not None else None
    if identifier is not None and identifier.system and identifier.value:
        if identifier.system == MEMBER_SYSTEM:
            return identifier.value, None
        query = PatientQuery(identifier.system, identifier.value, program_id="")
        return None, PatientSubject(query, _paths("subject.identifier", None))
    errors.append(
        _bad(
            "subject.identifier",
            f"is required: the member ({MEMBER_SYSTEM}) or the clinic's patient identifier "
            "(system and value), or give subject.reference '#id' of a contained Patient",
        )
    )
    return None, None


def _contained_patient(
    resource: ServiceRequest, patient_id: str, errors: list[FieldError]
) -> tuple[str | None, PatientSubject | None]:
    found = [
        (index, item)
        for index, item in enumerate(resource.contained or [])
        if isinstance(item, Patient) and item.id == patient_id
    ]
    if not found:
        errors.append(_bad("subject.reference", f"names no contained Patient with id {patient_id}"))
        return None, None
    index, patient = found[0]
    base = f"contained[{index}]"
    identifiers = [i for i in patient.identifier or [] if i.system and i.value]
    member = next((str(i.value) for i in identifiers if i.system == MEMBER_SYSTEM), None)
    if member is not None:
        return member, None
    if not identifiers:
        errors.append(
            _bad(
                f"{base}.identifier", "is required: the clinic's patient identifier (system, value)"
            )
        )
        return None, None
    position = (patient.identifier or []).index(identifiers[0])
    born = patient.birthDate
    if born is not None and not isinstance(born, date):
        errors.append(_bad(f"{base}.birthDate", "must be a full date (YYYY-MM-DD) or left out"))
        return None, None
    query = PatientQuery(
        str(identifiers[0].system),
        str(identifiers[0].value),
        program_id="",
        given_name=_given_name(patient),
        birth_date=born,
        language=_preferred_language(patient),
    )
    return None, PatientSubject(query, _paths(f"{base}.identifier[{position}]", base))


def _given_name(patient: Patient) -> str:
    for name in patient.name or []:
        for given in name.given or []:
            if given and given.strip():
                return str(given.strip())
    return ""


def _preferred_language(patient: Patient) -> str:
    communications = sorted(patient.communication or [], key=lambda c: not c.preferred)
    for communication in communications:
        for coding in communication.language.coding or []:
            if coding.code:
                return str(coding.code)
    return ""


def _paths(identifier: str, patient: str | None) -> dict[str, str]:
    paths = {
        "identifier.system": f"{identifier}.system",
        "identifier.value": f"{identifier}.value",
        "program_id": "performer[0].identifier",
    }
    if patient is not None:
        paths |= {
            "demographics.given_name": f"{patient}.name[0].given[0]",
            "demographics.birth_date": f"{patient}.birthDate",
            "demographics.language": f"{patient}.communication[0].language",
        }
    return paths


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
