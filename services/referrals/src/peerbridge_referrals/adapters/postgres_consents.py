"""The consent repository on PostgreSQL (asyncpg), working on the unit of work's connection."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..domain.consent import (
    CaptureMethod,
    Consent,
    ConsentPurpose,
    ConsentStatus,
    ConsentTerms,
    InformationCategory,
    RecipientClass,
)
from ..domain.consent_access import ConsentVisibility
from ..domain.disclosure import (
    DisclosureChannel,
    DisclosureEntry,
    DisclosureVisibility,
    purpose_code,
    purpose_from_code,
)
from ..service_layer.repository import (
    ConsentRepository,
    Cursor,
    DisclosureCursor,
    DisclosureLog,
    DuplicateConsentRequest,
    StaleVersion,
)

_REQUEST_ID_INDEX = "consents_request_id_key"
COLUMNS = (
    "consent_id",
    "request_id",
    "recorded_by",
    "subject_member_id",
    "disclosing_organization_id",
    "categories",
    "recipient_organization_ids",
    "recipient_classes",
    "purposes",
    "revocation_instructions",
    "valid_from",
    "expires_at",
    "expiry_event",
    "capture_method",
    "witness_name",
    "signed_at",
    "status",
    "create_time",
    "version",
    "revoke_time",
    "revoked_by",
    "revocation_reason",
)
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM consents"
_INSERT = (
    f"INSERT INTO consents ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(COLUMNS) + 1))})"
)
# Only an active consent at the version read is revoked: a concurrent revocation wins once.
_REVOKE = """
UPDATE consents
SET status = 'revoked', revoke_time = $3, revoked_by = $4, revocation_reason = $5, version = $6
WHERE consent_id = $1 AND version = $2 AND status = 'active'
"""


class PostgresConsentRepository(ConsentRepository):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def add(self, consent: Consent) -> None:
        try:
            await self._connection.execute(_INSERT, *_row_values(consent))
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == _REQUEST_ID_INDEX:
                raise DuplicateConsentRequest(consent.request_id) from error
            raise

    async def get(self, consent_id: UUID) -> Consent | None:
        row = await self._connection.fetchrow(f"{_SELECT} WHERE consent_id = $1", consent_id)
        return _consent(row) if row is not None else None

    async def get_by_request_id(self, recorded_by: str, request_id: str) -> Consent | None:
        row = await self._connection.fetchrow(
            f"{_SELECT} WHERE recorded_by = $1 AND request_id = $2", recorded_by, request_id
        )
        return _consent(row) if row is not None else None

    async def list_for_member(
        self,
        member_id: str,
        visible_to: ConsentVisibility,
        *,
        after: Cursor | None,
        limit: int,
    ) -> list[Consent]:
        # The caller's visibility is part of the query, so a page is never cut short.
        arguments: list[Any] = [
            member_id,
            sorted(visible_to.member_ids),
            sorted(visible_to.program_ids),
            sorted(visible_to.recipient_ids),
            limit,
        ]
        keyset = ""
        if after is not None:
            arguments += [after.create_time, after.referral_id]
            keyset = "AND (create_time, consent_id) < ($6, $7)"
        rows = await self._connection.fetch(
            f"""{_SELECT}
            WHERE subject_member_id = $1
              AND (subject_member_id = ANY($2::text[])
                   OR disclosing_organization_id = ANY($3::text[])
                   OR recipient_organization_ids && $4::text[])
              {keyset}
            ORDER BY create_time DESC, consent_id DESC LIMIT $5""",
            *arguments,
        )
        return [_consent(row) for row in rows]

    async def active_for_member(self, member_id: str) -> list[Consent]:
        rows = await self._connection.fetch(
            f"{_SELECT} WHERE subject_member_id = $1 AND status = 'active'", member_id
        )
        return [_consent(row) for row in rows]

    async def revoke(self, revoked: Consent) -> None:
        result = await self._connection.execute(
            _REVOKE,
            revoked.consent_id,
            revoked.version - 1,
            revoked.revoke_time,
            revoked.revoked_by,
            revoked.revocation_reason,
            revoked.version,
        )
        if result != "UPDATE 1":
            raise StaleVersion(revoked.consent_id, revoked.version - 1)


def _row_values(consent: Consent) -> tuple[Any, ...]:
    terms = consent.terms
    return (
        consent.consent_id,
        consent.request_id,
        consent.recorded_by,
        terms.subject_member_id,
        terms.disclosing_organization_id,
        sorted(c.value for c in terms.categories),
        sorted(terms.recipient_organization_ids),
        sorted(c.value for c in terms.recipient_classes),
        sorted(p.value for p in terms.purposes),
        terms.revocation_instructions,
        terms.valid_from,
        terms.expires_at,
        terms.expiry_event,
        terms.capture_method.value,
        terms.witness_name,
        terms.signed_at,
        consent.status.value,
        consent.create_time,
        consent.version,
        consent.revoke_time,
        consent.revoked_by,
        consent.revocation_reason,
    )


def _consent(row: asyncpg.Record) -> Consent:
    terms = ConsentTerms(
        subject_member_id=row["subject_member_id"],
        disclosing_organization_id=row["disclosing_organization_id"],
        categories=frozenset(InformationCategory(c) for c in row["categories"]),
        recipient_organization_ids=frozenset(row["recipient_organization_ids"]),
        recipient_classes=frozenset(RecipientClass(c) for c in row["recipient_classes"]),
        purposes=frozenset(ConsentPurpose(p) for p in row["purposes"]),
        revocation_instructions=row["revocation_instructions"],
        valid_from=row["valid_from"],
        expires_at=row["expires_at"],
        expiry_event=row["expiry_event"],
        capture_method=CaptureMethod(row["capture_method"]),
        witness_name=row["witness_name"],
        signed_at=row["signed_at"],
    )
    return Consent(
        consent_id=row["consent_id"],
        request_id=row["request_id"],
        terms=terms,
        status=ConsentStatus(row["status"]),
        recorded_by=row["recorded_by"],
        create_time=row["create_time"],
        version=row["version"],
        revoke_time=row["revoke_time"],
        revoked_by=row["revoked_by"],
        revocation_reason=row["revocation_reason"],
    )


_INSERT_DISCLOSURE = """
INSERT INTO disclosure_log (
    referral_id, referral_version, subject_member_id, recipient_organization_id,
    consent_id, purpose, category, description, disclosed_at, channel
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""


class PostgresDisclosureLog(DisclosureLog):
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._connection = connection

    async def add(self, entry: DisclosureEntry) -> None:
        await self._connection.execute(
            _INSERT_DISCLOSURE,
            UUID(entry.referral_id),
            entry.referral_version,
            entry.subject_member_id,
            entry.recipient_organization_id,
            UUID(entry.consent_id) if entry.consent_id is not None else None,
            purpose_code(entry.purpose),
            entry.category.value,
            entry.description,
            entry.disclosed_at,
            entry.channel.value,
        )

    async def list_for_member(
        self,
        member_id: str,
        visible_to: DisclosureVisibility,
        *,
        after: DisclosureCursor | None,
        limit: int,
    ) -> list[DisclosureEntry]:
        # The disclosing program is the referral's requester; visibility is in the query,
        # so a page is never cut short.
        arguments: list[Any] = [
            member_id,
            sorted(visible_to.member_ids),
            sorted(visible_to.program_ids),
            limit,
        ]
        keyset = ""
        if after is not None:
            arguments += [after.disclosed_at, after.disclosure_id]
            keyset = "AND (d.disclosed_at, d.disclosure_id) < ($5, $6)"
        rows = await self._connection.fetch(
            f"""SELECT d.* FROM disclosure_log d
            JOIN referrals r ON r.referral_id = d.referral_id
            WHERE d.subject_member_id = $1
              AND d.withdrawn_at IS NULL
              AND (d.subject_member_id = ANY($2::text[])
                   OR r.requester_organization_id = ANY($3::text[]))
              {keyset}
            ORDER BY d.disclosed_at DESC, d.disclosure_id DESC LIMIT $4""",
            *arguments,
        )
        return [_disclosure(row) for row in rows]


def _disclosure(row: asyncpg.Record) -> DisclosureEntry:
    return DisclosureEntry(
        referral_id=str(row["referral_id"]),
        referral_version=row["referral_version"],
        subject_member_id=row["subject_member_id"],
        recipient_organization_id=row["recipient_organization_id"],
        consent_id=str(row["consent_id"]) if row["consent_id"] is not None else None,
        purpose=purpose_from_code(row["purpose"]),
        category=InformationCategory(row["category"]),
        description=row["description"],
        disclosed_at=row["disclosed_at"],
        disclosure_id=row["disclosure_id"],
        channel=DisclosureChannel(row["channel"]),
    )
