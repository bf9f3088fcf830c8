"""Consent use cases: record, revoke, get and list a member's consents to disclose.

Each allowed call writes its audit record (consent.record, consent.revoke,
consent.read) in the transaction of its work; each refusal is audited as
denied, and a consent the caller may not see is answered like a missing one.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from peerbridge_platform.audit.model import PurposeOfUse
from peerbridge_platform.auth.principal import Principal
from peerbridge_platform.auth.scopes import CONSENTS_WRITE, REFERRALS_READ
from peerbridge_platform.errors import (
    Conflict,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from peerbridge_platform.logging import get_logger

from ..domain.access_rules import purpose_of_use
from ..domain.commands import RecordConsent, RevokeConsent
from ..domain.consent import (
    Consent,
    ConsentStatus,
    check_revocation_reason,
    revoke,
    validate_consent_terms,
)
from ..domain.consent_access import consent_visibility, may_manage
from ..domain.events import ConsentGiven, ConsentRevoked
from ..domain.rules import OPAQUE_ID_RULE, is_opaque_id
from .audit import CONSENT, CONSENT_READ, CONSENT_RECORD, CONSENT_REVOKE, Access, DeniedAccessLog
from .handlers import Clock, IdFactory, parse_uuid, require_scope
from .pagination import PageLimits, check_member_listing, decode_page_token, encode_page_token
from .queries import ConsentPage, GetConsent, ListConsents
from .repository import Cursor, DuplicateConsentRequest, ReferralFilter, StaleVersion
from .unit_of_work import UnitOfWork

log = get_logger(__name__)


def _access(
    action: str,
    consent: Consent | None,
    purpose: PurposeOfUse,
    *,
    consent_id: str | None = None,
    member: str | None = None,
    reason: str | None = None,
) -> Access:
    """An audited access to `consent`, or to the consent id and member named when there is
    none (a refusal before anything was found)."""
    if consent is not None:
        consent_id, member = str(consent.consent_id), consent.subject_member_id
    return Access(action, consent_id, member, purpose, reason, CONSENT)


async def record_consent(
    command: RecordConsent,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    clock: Clock,
    new_id: IdFactory,
) -> Consent:
    """Record a consent, or return the one this caller's earlier call with this request id
    recorded. Checked in order: the request's values, the scope, who may record it."""
    purpose = purpose_of_use(caller)
    if command.request_id and not is_opaque_id(command.request_id):
        raise InvalidArgument(
            "the consent is not valid", [FieldViolation("request_id", OPAQUE_ID_RULE)]
        )
    now = clock()
    terms = validate_consent_terms(command.terms, now=now)
    attempt = _access(CONSENT_RECORD, None, purpose, member=terms.subject_member_id)
    await require_scope(caller, CONSENTS_WRITE, denials, attempt)
    if not may_manage(caller, terms):
        reason = "only the member or staff of the disclosing program record a consent"
        await denials.record_denied(replace(attempt, reason=reason))
        raise PermissionDenied(reason)
    request_id = command.request_id or None
    for _ in range(2):
        try:
            async with uow:
                if request_id is not None:
                    existing = await uow.consents.get_by_request_id(caller.subject, request_id)
                    if existing is not None:
                        if existing.terms != terms:
                            raise Conflict("request_id was already used for a different consent")
                        await uow.record_access(
                            _access(CONSENT_RECORD, existing, purpose, reason="repeated request")
                        )
                        await uow.commit()
                        return existing
                consent = Consent(
                    consent_id=new_id(),
                    request_id=request_id,
                    terms=terms,
                    status=ConsentStatus.ACTIVE,
                    recorded_by=caller.subject,
                    create_time=now,
                )
                await uow.consents.add(consent)
                await uow.publish(ConsentGiven(consent))
                await uow.record_access(_access(CONSENT_RECORD, consent, purpose))
                await uow.commit()
        except DuplicateConsentRequest:
            continue  # a concurrent call with this request id committed first: answer with it
        log.info("consent recorded", consent_id=str(consent.consent_id))
        return consent
    raise Conflict("request_id is being used by a concurrent call: try again")


async def revoke_consent(
    command: RevokeConsent,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    clock: Clock,
) -> Consent:
    """Revoke at once; a revoked consent is returned as it is. Checked in order: the values,
    whether the caller may see it (NOT_FOUND alike when missing), may revoke it
    (PERMISSION_DENIED: a recipient sees but never revokes), and the scope that needs."""
    consent_id = parse_uuid(command.consent_id, "consent_id")
    reason = check_revocation_reason(command.reason)
    purpose = purpose_of_use(caller)
    consent = await _visible_consent(consent_id, CONSENT_REVOKE, uow, caller, denials, purpose)
    attempt = _access(CONSENT_REVOKE, consent, purpose)
    if not may_manage(caller, consent.terms):
        why = "only the member or staff of the disclosing program revoke a consent"
        await denials.record_denied(replace(attempt, reason=why))
        raise PermissionDenied(why)
    await require_scope(caller, CONSENTS_WRITE, denials, attempt)
    try:
        async with uow:
            current = await uow.consents.get(consent_id) or consent
            revoked = revoke(current, by=caller.subject, reason=reason, now=clock())
            if revoked is not current:
                await uow.consents.revoke(revoked)
                await uow.publish(ConsentRevoked(revoked))
                await uow.record_access(attempt)
                await uow.commit()
                log.info("consent revoked", consent_id=str(consent_id))
                return revoked
    except StaleVersion:
        pass  # revoked concurrently: answer with that revocation
    async with uow:
        current = await uow.consents.get(consent_id) or consent
        await uow.record_access(replace(attempt, reason="already revoked"))
        await uow.commit()
    return current


async def get_consent(
    query: GetConsent, uow: UnitOfWork, *, caller: Principal, denials: DeniedAccessLog
) -> Consent:
    consent_id = parse_uuid(query.consent_id, "consent_id")
    purpose = purpose_of_use(caller)
    consent = await _visible_consent(consent_id, CONSENT_READ, uow, caller, denials, purpose)
    async with uow:
        await uow.record_access(_access(CONSENT_READ, consent, purpose))
        await uow.commit()
    return consent


async def _visible_consent(
    consent_id: UUID,
    action: str,
    uow: UnitOfWork,
    caller: Principal,
    denials: DeniedAccessLog,
    purpose: PurposeOfUse,
) -> Consent:
    """The consent if the caller may see it, after the read scope; otherwise the refusal is
    audited and NOT_FOUND raised, alike whether it is missing or someone else's."""
    attempt = _access(action, None, purpose, consent_id=str(consent_id))
    await require_scope(caller, REFERRALS_READ, denials, attempt)
    async with uow:
        consent = await uow.consents.get(consent_id)
    if consent is not None and consent_visibility(caller).admits(consent):
        return consent
    why = "no such consent" if consent is None else "not visible to the caller"
    member = consent.subject_member_id if consent is not None else None
    await denials.record_denied(replace(attempt, subject_member_id=member, reason=why))
    raise NotFound(f"consent {consent_id} not found")


async def list_consents(
    query: ListConsents,
    uow: UnitOfWork,
    *,
    caller: Principal,
    denials: DeniedAccessLog,
    limits: PageLimits,
) -> ConsentPage:
    """One page of the member's consents the caller may see, newest first."""
    check_member_listing(query.subject_member_id, query.page_size)
    member = query.subject_member_id
    purpose = purpose_of_use(caller)
    attempt = _access(CONSENT_READ, None, purpose, member=member)
    await require_scope(caller, REFERRALS_READ, denials, attempt)
    visible = consent_visibility(caller)
    if not visible.may_cover_member(member):
        await denials.record_denied(replace(attempt, reason="another member's consents"))
        return ConsentPage(consents=[], next_page_token="")
    # Page tokens carry the member as their filter, so a token only serves its own member.
    where = ReferralFilter(subject_member_id=member)
    after = decode_page_token(query.page_token, where)
    size = limits.size_for(query.page_size)
    async with uow:
        found = await uow.consents.list_for_member(member, visible, after=after, limit=size + 1)
        page = found[:size]
        for consent in page:
            await uow.record_access(_access(CONSENT_READ, consent, purpose, reason="listed"))
        if page:
            await uow.commit()
    next_token = ""
    if len(found) > size:
        last = page[-1]
        next_token = encode_page_token(Cursor(last.create_time, last.consent_id), where)
    return ConsentPage(consents=page, next_page_token=next_token)
