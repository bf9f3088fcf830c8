"""The interceptors of the referrals server, in their order: the platform defaults, a
verified access token on every call but health and reflection, and the audit of calls
refused as invalid input (after authentication, so the caller is on record)."""

from __future__ import annotations

import grpc

from peerbridge_platform.audit import Auditor
from peerbridge_platform.auth import BearerVerifier
from peerbridge_platform.grpc.auth_interceptor import authenticated_server_interceptors
from peerbridge_platform.grpc.invalid_input_audit import InvalidInputAuditInterceptor


def referrals_interceptors(
    verifier: BearerVerifier, auditor: Auditor
) -> list[grpc.aio.ServerInterceptor]:
    return [*authenticated_server_interceptors(verifier), InvalidInputAuditInterceptor(auditor)]
