"""Port checks done before a server starts, so a clash is reported by name."""

from __future__ import annotations

import socket

from .errors import StackError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_port_free(host: str, port: int, what: str, variable: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise StackError(
                f"{what} cannot listen on {host}:{port}: the port is taken ({exc.strerror}). "
                f"Stop what holds it (`ss -ltnp | grep :{port}`) or choose another port "
                f"with {variable}."
            ) from exc
