"""Idempotent consumers: `record_once` inside your transaction, `InboxConsumer` runs one."""

from ..migrations import load_migrations
from .consumer import Handler, InboxConsumer, InboxStats
from .naming import consumer_group
from .retry import RetryPolicy
from .store import record_once

INBOX_MIGRATIONS = load_migrations("platform.inbox", "peerbridge_platform.inbox")

__all__ = [
    "INBOX_MIGRATIONS",
    "Handler",
    "InboxConsumer",
    "InboxStats",
    "RetryPolicy",
    "consumer_group",
    "record_once",
]
