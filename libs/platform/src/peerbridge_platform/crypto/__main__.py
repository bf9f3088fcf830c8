"""`python -m peerbridge_platform.crypto new-key [--id KID]`: print a fresh `kid:base64key`.

Put the output first in PEERBRIDGE_ENCRYPTION_KEYS (comma-separated, active
key first). The key goes to stdout only; keep it in a secret store.
"""

from __future__ import annotations

import argparse
import sys

from .errors import KeyringConfigError
from .keyspec import new_key_entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m peerbridge_platform.crypto",
        description="Field-encryption key tools.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    new_key = commands.add_parser("new-key", help="print a new AES-256 key as kid:base64key")
    new_key.add_argument("--id", dest="key_id", help="key id (default: k<date><random>)")
    args = parser.parse_args(argv)
    try:
        entry = new_key_entry(args.key_id)
    except KeyringConfigError as error:
        parser.error(str(error))
    sys.stdout.write(entry + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
