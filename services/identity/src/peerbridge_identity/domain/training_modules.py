"""Training module codes: a standard module's name, or a program's own code."""

from __future__ import annotations

import re

from peerbridge_platform.errors import FieldViolation

from .checks import Violations, parse_choice
from .commands import ModuleInput
from .model import ModuleCode, is_standard_module
from .values import StandardModule

_PROGRAM_CODE = re.compile(r"[a-z][a-z0-9_]{2,63}")


def parse_module(
    field: str, given: ModuleInput | None, violations: Violations
) -> ModuleCode | None:
    if given is None:
        violations.append(FieldViolation(field, "is required"))
        return None
    if given.kind == "standard":
        standard = parse_choice(StandardModule, f"{field}.standard", given.code, violations)
        return standard.value if standard is not None else None
    subfield = f"{field}.program_defined"
    if not _PROGRAM_CODE.fullmatch(given.code):
        violations.append(
            FieldViolation(
                subfield, "must be 3 to 64 characters of a-z, 0-9 and '_', starting with a letter"
            )
        )
        return None
    if is_standard_module(given.code):
        violations.append(
            FieldViolation(subfield, f"{given.code} is a standard module: name it as one")
        )
        return None
    return given.code
