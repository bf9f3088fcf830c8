"""Container health probe: `python -m peerbridge_platform.grpc.probe <target> [service]`.

Exit 0 when the standard gRPC health Check says SERVING, else 1 with the
reason on stderr. Docker reserves exit code 2, so usage errors exit 1 too.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

DEFAULT_TIMEOUT_S = 2.0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def check(target: str, service: str = "", timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[bool, str]:
    """One health Check against `target`; return whether it is SERVING and what was seen."""
    name = service or "server"
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError as error:
            if isinstance(error, grpc.Call):
                return False, f"{name} at {target}: {error.code().name} ({error.details()})"
            return False, f"{name} at {target}: {error!r}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return (
        response.status == health_pb2.HealthCheckResponse.SERVING,
        f"{name} at {target}: {status}",
    )


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="python -m peerbridge_platform.grpc.probe",
        description="Exit 0 when the gRPC health service says SERVING, else 1.",
    )
    parser.add_argument("target", help="host:port of the gRPC server")
    parser.add_argument("service", nargs="?", default="", help="service name; empty = server")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds")
    args = parser.parse_args(argv)
    serving, seen = check(args.target, args.service, args.timeout)
    print(seen, file=sys.stdout if serving else sys.stderr)
    return 0 if serving else 1


if __name__ == "__main__":
    sys.exit(main())
