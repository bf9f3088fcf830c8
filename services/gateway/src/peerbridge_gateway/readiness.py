"""Runs the readiness probes at once, each with a time limit."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from .clients.errors import NotServing, ServiceError
from .resources import Probe

READY = "ok"


async def check_all(probes: Sequence[Probe], timeout_s: float) -> dict[str, str]:
    """Each probe's name and `ok`, or a short reason it is not ready."""
    outcomes = await asyncio.gather(*(_check(probe, timeout_s) for probe in probes))
    return {probe.name: outcome for probe, outcome in zip(probes, outcomes, strict=True)}


async def _check(probe: Probe, timeout_s: float) -> str:
    try:
        await asyncio.wait_for(probe.check(), timeout_s)
    except TimeoutError:
        return f"no answer within {timeout_s}s"
    except NotServing as error:
        return str(error)
    except ServiceError as error:
        return str(error.code.name)
    except Exception as error:
        # The kind of failure only: messages may carry addresses or credentials.
        return f"failed ({type(error).__name__})"
    return READY
