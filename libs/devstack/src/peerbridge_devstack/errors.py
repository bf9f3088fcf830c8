"""Start-up failures that tell the operator what to do next."""

from __future__ import annotations


class StackError(RuntimeError):
    """Local infrastructure could not start; the message says why and what to do."""
