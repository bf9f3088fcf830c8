"""What `make seed` needs from a running `make run`: identity's database and keys.

The first administrator is created against identity's own database (no token
exists yet), so `make run` leaves the connection details in its state
directory, readable by the operator who started it and nobody else.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FILE_NAME = "services.json"


def write_service_secrets(
    secrets_dir: Path, *, identity_database_url: str, encryption_keys: str
) -> Path:
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = secrets_dir / FILE_NAME
    document = {
        "identity": {
            "PEERBRIDGE_DATABASE_URL": identity_database_url,
            "PEERBRIDGE_ENCRYPTION_KEYS": encryption_keys,
        }
    }
    # Created 0600 before anything is written into it.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(document, file)
    return path


def read_service_secrets(secrets_dir: Path, service: str) -> dict[str, str]:
    path = secrets_dir / FILE_NAME
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is missing: start the platform with `make run` (same PEERBRIDGE_STATE_DIR) "
            "first, then run this command again."
        ) from None
    values: dict[str, str] = document[service]
    return values
