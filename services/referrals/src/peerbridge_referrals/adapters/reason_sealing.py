"""Start-up upkeep of sealed texts: seal any reason left in plain text, reseal every sealed
text (reason, status reason, outcome) under the active key.

Both run before the service answers calls, in batches, and only ever
replace a value that is still the one they read (a compare-and-set), so two
replicas starting at once do no harm.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from peerbridge_platform.crypto import CryptoError, UnknownKey
from peerbridge_platform.logging import get_logger

from .reason_cipher import OUTCOME, REASON, STATUS_REASON, ReasonCipher
from .schema import all_migrations, before_plain_reason_drop, migrate

log = get_logger(__name__)

BATCH = 500
_FIRST_ID = UUID(int=0)

_HAS_PLAIN_COLUMN = """
SELECT EXISTS (
    SELECT 1 FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = 'referrals' AND column_name = 'reason'
)
"""

_PLAIN = """
SELECT referral_id, reason FROM referrals
WHERE reason IS NOT NULL AND referral_id > $1
ORDER BY referral_id LIMIT $2
"""

_SEAL = """
UPDATE referrals SET reason_ciphertext = $3, reason = NULL
WHERE referral_id = $1 AND reason = $2
"""

# Each sealed column and the field its texts are bound to. Column names are ours,
# never input, so they are safe to format into the statements below.
SEALED_COLUMNS: dict[str, str] = {
    "reason_ciphertext": REASON,
    "status_reason_ciphertext": STATUS_REASON,
    "outcome_ciphertext": OUTCOME,
}


def _not_under_active_key(column: str) -> str:
    # Tokens under the active key share its header; anything else is due for resealing.
    # NULL (no text) compares as unknown, so such rows are never picked.
    return f"""
SELECT referral_id, {column} AS sealed FROM referrals
WHERE referral_id > $1 AND substring({column} FROM 1 FOR $2) <> $3
ORDER BY referral_id LIMIT $4
"""


def _reseal(column: str) -> str:
    return f"UPDATE referrals SET {column} = $3 WHERE referral_id = $1 AND {column} = $2"


@dataclass
class ResealReport:
    resealed: int = 0
    # Rows left as they are, by the key id they need (or "unauthenticated").
    unreadable: Counter[str] = field(default_factory=Counter)


async def upgrade_database(database_url: str, pool: asyncpg.Pool, cipher: ReasonCipher) -> None:
    """Migrate, sealing plain reasons before the plain column is dropped; then reseal.

    Fails (and so does start-up) when plain reasons cannot be sealed: they are
    never dropped. Reasons under keys no longer in the keyring are reported
    and left untouched, so one missing key does not stop new referrals.
    """
    await migrate(database_url, before_plain_reason_drop())
    sealed = await seal_plain_reasons(pool, cipher)
    if sealed:
        log.info("plain-text reasons sealed", count=sealed)
    await migrate(database_url, all_migrations())
    log_reseal_report(await reseal_reasons(pool, cipher), "reasons")


async def seal_plain_reasons(pool: asyncpg.Pool, cipher: ReasonCipher, batch: int = BATCH) -> int:
    """Seal every reason still stored in plain text; how many were sealed."""
    if not await pool.fetchval(_HAS_PLAIN_COLUMN):
        return 0
    sealed, after = 0, _FIRST_ID
    while rows := await pool.fetch(_PLAIN, after, batch):
        updates = [
            (row["referral_id"], row["reason"], cipher.seal(row["referral_id"], row["reason"]))
            for row in rows
        ]
        await pool.executemany(_SEAL, updates)
        sealed += len(updates)
        after = rows[-1]["referral_id"]
    return sealed


async def reseal_reasons(
    pool: asyncpg.Pool, cipher: ReasonCipher, batch: int = BATCH
) -> ResealReport:
    """Reseal under the active key every sealed text (of every sealed column) sealed under
    another one."""
    report = ResealReport()
    for column, field_name in SEALED_COLUMNS.items():
        await _reseal_column(pool, cipher, column, field_name, batch, report)
    return report


async def _reseal_column(
    pool: asyncpg.Pool,
    cipher: ReasonCipher,
    column: str,
    field_name: str,
    batch: int,
    report: ResealReport,
) -> None:
    after, prefix = _FIRST_ID, cipher.active_prefix
    select, update = _not_under_active_key(column), _reseal(column)
    while rows := await pool.fetch(select, after, len(prefix), prefix, batch):
        updates = []
        for row in rows:
            referral_id, sealed = row["referral_id"], bytes(row["sealed"])
            resealed = try_reseal(report, cipher, referral_id, sealed, field_name)
            if resealed is not None:
                updates.append((referral_id, sealed, resealed))
        await pool.executemany(update, updates)
        report.resealed += len(updates)
        after = rows[-1]["referral_id"]


def try_reseal(
    report: ResealReport, cipher: ReasonCipher, referral_id: UUID, sealed: bytes, field_name: str
) -> bytes | None:
    """`sealed` under the active key, or None after counting in `report` why it could not
    be opened."""
    try:
        return cipher.reseal(referral_id, sealed, field_name)
    except UnknownKey as error:
        report.unreadable[error.key_id] += 1
    except CryptoError:
        report.unreadable["unauthenticated"] += 1
    return None


def log_reseal_report(report: ResealReport, what: str) -> None:
    """How many `what` (e.g. "reasons") were resealed, and which could not be: counts and
    key ids only."""
    if report.resealed:
        log.info(f"{what} resealed under the active key", count=report.resealed)
    if report.unreadable:
        log.error(
            f"{what} that cannot be opened with the configured keys were left as they are",
            by_key=dict(report.unreadable),
        )
