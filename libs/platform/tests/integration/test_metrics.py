"""The Prometheus endpoint over real HTTP, fed by a real gRPC server's calls."""

from __future__ import annotations

import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from peerbridge_platform.grpc import create_channel, start_server
from peerbridge_platform.metrics import observe_grpc_call, start_metrics_server

pytestmark = pytest.mark.integration

HEALTH_CHECK = ("grpc.health.v1.Health", "Check")


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def handled(text: str, code: str) -> float:
    service, method = HEALTH_CHECK
    key = (("grpc_code", code), ("grpc_method", method), ("grpc_service", service))
    return samples(text, "grpc_server_handled_total").get(key, 0.0)


async def test_each_grpc_call_is_counted_by_method_and_code_on_the_metrics_listener() -> None:
    metrics = start_metrics_server("127.0.0.1:0")
    server = await start_server("127.0.0.1:0", [])
    try:
        await server.set_serving()
        async with httpx.AsyncClient(base_url=f"http://{metrics.address}") as http:
            before = handled((await http.get("/metrics")).text, "OK")
            async with create_channel(server.address, default_timeout_s=5) as channel:
                health = health_pb2_grpc.HealthStub(channel)
                for _ in range(3):
                    await health.Check(health_pb2.HealthCheckRequest())
            response = await http.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert handled(response.text, "OK") == before + 3
        buckets = samples(response.text, "grpc_server_handling_seconds_count")
        assert any(("grpc_method", "Check") in key for key in buckets)
    finally:
        await server.stop(grace=0.5)
        metrics.stop()


def test_a_call_path_is_split_into_service_and_method_labels() -> None:
    observe_grpc_call("/peerbridge.test.v1.Probe/Ping", "NOT_FOUND", 0.002)

    value = REGISTRY.get_sample_value(
        "grpc_server_handled_total",
        {
            "grpc_service": "peerbridge.test.v1.Probe",
            "grpc_method": "Ping",
            "grpc_code": "NOT_FOUND",
        },
    )
    assert value is not None
    assert value >= 1
