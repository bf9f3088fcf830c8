"""The EHR integration guide's example consumer, run against the whole platform.

A partner app creates a referral through the gateway; the example, filtered
on the receiving clinic, prints it with a Bundle that validated as FHIR R4;
filtered on another organization it reads the same records and keeps none.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle

from peerbridge_devstack.demo import client_token, referral_body
from peerbridge_devstack.launch import RunningPlatform
from peerbridge_devstack.seed import Seed

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "integration" / "ehr_consumer_example.py"
DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def example() -> ModuleType:
    """The example as an integrator runs it: a file beside the guide, not a package of ours."""
    spec = importlib.util.spec_from_file_location("ehr_consumer_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def create_referral(platform: RunningPlatform, seed: Seed, partner_token: str) -> str:
    """A referral from the seeded program to the seeded clinic, made by the partner app."""
    body = referral_body(
        seed,
        {
            "member": "member-ava",
            "direction": "peer_support_to_clinic",
            "category": "mental_health_counselling",
            "priority": "asap",
            "reason": "Synthetic: wants counselling alongside group.",
        },
    )
    response = httpx.post(
        f"{platform.gateway_url}/v1/referrals",
        json=body,
        headers={"Authorization": f"Bearer {partner_token}", "Idempotency-Key": uuid.uuid4().hex},
        timeout=15,
    )
    assert response.status_code == 201, response.text
    created: str = response.json()["referral_id"]
    return created


@pytest.fixture(scope="module")
def referral_id(platform: RunningPlatform, seed: Seed, partner_token: str) -> str:
    return create_referral(platform, seed, partner_token)


def fresh_group(name: str) -> str:
    return f"ehr.e2e.{name}.{uuid.uuid4().hex[:8]}"


def clinic_reads(
    example: ModuleType, platform: RunningPlatform, seed: Seed, referral_id: str
) -> Any:
    """The example, filtered on the receiving clinic, until it has handled the referral."""
    return example.consume(
        platform.kafka_bootstrap,
        seed.clinic_id,
        group_id=fresh_group("clinic"),
        timeout_s=DEADLINE_S,
        stop_when=lambda update: update.referral_id == referral_id,
        on_update=lambda update: None,
    )


def test_the_clinic_receives_the_referral_as_valid_fhir(
    example: ModuleType, platform: RunningPlatform, seed: Seed, referral_id: str
) -> None:
    result = clinic_reads(example, platform, seed, referral_id)

    (update,) = [u for u in result.handled if u.referral_id == referral_id]
    assert isinstance(update.bundle, Bundle)
    assert update.status == "requested"
    assert update.priority == "asap"
    assert update.version == 1
    assert {"R", "42CFRPart2", "ETH", "NORDSCLCD"} <= set(update.security_labels)
    assert result.invalid == 0
    assert all(u.bundle is not None for u in result.handled)


def test_the_command_line_prints_the_task_for_the_clinic(
    example: ModuleType,
    platform: RunningPlatform,
    seed: Seed,
    referral_id: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--organization", seed.clinic_id, "--bootstrap", platform.kafka_bootstrap]
    code = example.main([*argv, "--fresh", "--to-end", "--timeout", str(DEADLINE_S)])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"referral {referral_id} v1: Task status=requested priority=asap" in out
    assert "0 invalid" in err


def test_another_organization_receives_nothing_of_it(
    example: ModuleType, platform: RunningPlatform, seed: Seed, referral_id: str
) -> None:
    # Once the clinic has seen it the record is on the topic: then read all there is.
    assert clinic_reads(example, platform, seed, referral_id).handled
    result = example.consume(
        platform.kafka_bootstrap,
        f"clinic-elsewhere-{uuid.uuid4().hex[:8]}",
        group_id=fresh_group("elsewhere"),
        timeout_s=DEADLINE_S,
        stop_at_end=True,
        on_update=lambda update: None,
    )

    assert result.handled == []
    assert result.skipped_other_organizations >= 1


def test_the_clinics_answer_through_the_gateway_reaches_the_example(
    example: ModuleType, platform: RunningPlatform, seed: Seed, partner_token: str
) -> None:
    """The round trip of the guide: the EHR accepts with its own client credentials, then
    reads the accepted Task (version 2) after the requested one."""
    referral = create_referral(platform, seed, partner_token)
    with httpx.Client(base_url=platform.gateway_url, timeout=15) as gateway:
        ehr_token = client_token(gateway, seed, "ehr")
        answer = gateway.post(
            f"/v1/referrals/{referral}/status",
            json={"status": "accepted", "expected_version": 1},
            headers={"Authorization": f"Bearer {ehr_token}", "Idempotency-Key": uuid.uuid4().hex},
        )
    assert answer.status_code == 200, answer.text

    result = example.consume(
        platform.kafka_bootstrap,
        seed.clinic_id,
        group_id=fresh_group("answer"),
        timeout_s=DEADLINE_S,
        stop_when=lambda update: update.referral_id == referral and update.version == 2,
        on_update=lambda update: None,
    )

    mine = [(u.version, u.status) for u in result.handled if u.referral_id == referral]
    assert mine == [(1, "requested"), (2, "accepted")]
