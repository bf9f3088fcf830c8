"""gRPC bootstrap shared by every service: server, client channels, interceptors, status mapping."""

from .client import create_channel, wait_for_serving
from .metadata import (
    Caller,
    call_context,
    current_caller,
    current_request_id,
    new_request_id,
)
from .rich_status import field_violations
from .server import GrpcServer, ServiceRegistration, start_server
from .server_interceptors import default_server_interceptors
from .status import http_status_for, status_code_for

__all__ = [
    "Caller",
    "GrpcServer",
    "ServiceRegistration",
    "call_context",
    "create_channel",
    "current_caller",
    "current_request_id",
    "default_server_interceptors",
    "field_violations",
    "http_status_for",
    "new_request_id",
    "start_server",
    "status_code_for",
    "wait_for_serving",
]
