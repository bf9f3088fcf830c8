"""Consumer group names: `peerbridge.<service>.<purpose>` (see ARCHITECTURE, Topics)."""

from __future__ import annotations

import re

# Dots separate the parts, so a part may not contain one.
_PART = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def consumer_group(service: str, purpose: str) -> str:
    for label, part in (("service", service), ("purpose", purpose)):
        if not _PART.match(part):
            raise ValueError(
                f"consumer group {label} {part!r} must be lower-case letters, digits, '_' or '-'"
            )
    return f"peerbridge.{service}.{purpose}"
