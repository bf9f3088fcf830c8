"""`python -m peerbridge_devstack run|seed|demo|provision`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peerbridge_devstack")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the whole platform in the foreground")
    commands.add_parser(
        "seed", help="create the first administrator and a demo program with synthetic people"
    )
    commands.add_parser("demo", help="send synthetic referrals through a running gateway")
    commands.add_parser(
        "provision", help="create each service's database and role (PEERBRIDGE_DATABASE_URL)"
    )
    args = parser.parse_args(argv)
    if args.command == "run":
        from .run import main as run_main

        return run_main()
    if args.command == "seed":
        from .seed import main as seed_main

        return seed_main()
    if args.command == "demo":
        from .demo import main as demo_main

        return demo_main()
    from .provision import main as provision_main

    return provision_main()


if __name__ == "__main__":
    sys.exit(main())
