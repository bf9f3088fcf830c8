"""A keyring setting kept in a file: how local runs (`make run`) get a key without inventing one."""

from __future__ import annotations

import os
from pathlib import Path

from .keyspec import new_key_entry, parse_keys


def load_or_create_key_file(path: Path) -> str:
    """The PEERBRIDGE_ENCRYPTION_KEYS value kept in `path`; one new key the first time.

    The file is created owner-only (0600, in a 0700 directory) in one step, so
    the key is never readable by others, not even briefly. Its content is
    checked like the setting; KeyringConfigError names what is wrong.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as file:
            file.write(new_key_entry() + "\n")
    value = path.read_text().strip()
    parse_keys(value)
    return value
