"""How often and how fast a failed message is tried again (pure logic).

Two kinds of failure are told apart. A handler failure counts towards
`max_attempts`: after that the message is dead-lettered and the consumer
moves on. An infrastructure failure (the database is unreachable, a
serialisation conflict) says nothing about the message, so it does not use up
attempts: dead-lettering every message during an outage would drop them all.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_delay_s: float = 0.2
    multiplier: float = 2.0
    max_delay_s: float = 10.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_delay_s < 0 or self.max_delay_s < self.initial_delay_s:
            raise ValueError("delays must satisfy 0 <= initial_delay_s <= max_delay_s")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based).

        No jitter: one consumer retries one message of its own partition at a
        time, so there is no crowd of retries to spread out.
        """
        if attempt < 1:
            raise ValueError("attempts are numbered from 1")
        # Cap the exponent first so a long outage cannot overflow the float.
        exponent = min(attempt - 1, 64)
        return float(min(self.max_delay_s, self.initial_delay_s * self.multiplier**exponent))

    def gives_up_after(self, attempt: int) -> bool:
        """True when failed attempt number `attempt` was the last one allowed."""
        return attempt >= self.max_attempts


# Failures of the environment rather than of the message: connection loss
# (OSError covers refused and timed-out sockets), the server shutting down or
# out of resources, a serialisation failure or deadlock.
_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.TransactionRollbackError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
)
# A cancelled statement (statement_timeout) is the message's own slow work,
# even though PostgreSQL files it under operator intervention.
_COUNTED: tuple[type[BaseException], ...] = (asyncpg.QueryCanceledError,)


def is_transient(error: BaseException) -> bool:
    """True when `error` should be retried without counting against the message."""
    return isinstance(error, _TRANSIENT) and not isinstance(error, _COUNTED)


def counts_against_message(error: BaseException, *, reached_handler: bool) -> bool:
    """Whether a failed attempt uses up one of the message's attempts.

    Failing before the handler ran (no pool connection, no inbox table) is
    never the message's fault. From the handler on, including the commit of
    its transaction (a deferred constraint), it is, unless the error is
    transient.
    """
    return reached_handler and not is_transient(error)
