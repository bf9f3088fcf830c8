"""Start-up upkeep of sealed reasons: seal any left in plain text, reseal under the active key.

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

from .reason_cipher import ReasonCipher
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

# Tokens under the active key share its header; anything else is due for resealing.
_NOT_UNDER_ACTIVE_KEY = """
SELECT referral_id, reason_ciphertext FROM referrals
WHERE referral_id > $1 AND substring(reason_ciphertext FROM 1 FOR $2) <> $3
ORDER BY referral_id LIMIT $4
"""

_RESEAL = """
UPDATE referrals SET reason_ciphertext = $3
WHERE referral_id = $1 AND reason_ciphertext = $2
"""


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
    report = await reseal_reasons(pool, cipher)
    if report.resealed:
        log.info("reasons resealed under the active key", count=report.resealed)
    if report.unreadable:
        log.error(
            "reasons that cannot be opened with the configured keys were left as they are",
            by_key=dict(report.unreadable),
        )


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
    """Reseal under the active key every reason sealed under another one."""
    report, after, prefix = ResealReport(), _FIRST_ID, cipher.active_prefix
    while rows := await pool.fetch(_NOT_UNDER_ACTIVE_KEY, after, len(prefix), prefix, batch):
        updates = []
        for row in rows:
            referral_id, sealed = row["referral_id"], bytes(row["reason_ciphertext"])
            try:
                updates.append((referral_id, sealed, cipher.reseal(referral_id, sealed)))
            except UnknownKey as error:
                report.unreadable[error.key_id] += 1
            except CryptoError:
                report.unreadable["unauthenticated"] += 1
        await pool.executemany(_RESEAL, updates)
        report.resealed += len(updates)
        after = rows[-1]["referral_id"]
    return report
