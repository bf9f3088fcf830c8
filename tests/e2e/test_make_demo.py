"""`make demo` against the running platform, as a developer runs it: with authentication
on, it signs its partner clients in, sends referrals, shows who sees what and what an
EHR receives, and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from peerbridge_devstack.launch import RunningPlatform
from peerbridge_devstack.seed import Seed

pytestmark = pytest.mark.e2e

PATIENCE_S = 240


def test_make_demo_runs_through_with_real_tokens(platform: RunningPlatform, seed: Seed) -> None:
    settings = platform.stack_settings()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERBRIDGE_")} | {
        "PEERBRIDGE_STATE_DIR": str(settings.state_dir),
        "PEERBRIDGE_HTTP_PORT": str(settings.http_port),
        "PEERBRIDGE_IDENTITY_GRPC_PORT": str(settings.identity_grpc_port),
        "PEERBRIDGE_KAFKA_BOOTSTRAP": platform.kafka_bootstrap,
    }

    demo = subprocess.run(
        [sys.executable, "-m", "peerbridge_devstack", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=PATIENCE_S,
        check=False,
    )

    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    out = demo.stdout
    assert "signed in with private_key_jwt" in out
    assert "Ava consents" in out
    assert "Ben revokes it at once: status revoked" in out
    assert "partner-app tries to set completed: 403" in out
    assert "ehr sets completed: now version 4" in out
    assert "Ava asks for Ben's referral: 404" in out
    assert "the administrator lists referrals: 403" in out
    assert "replayed 400 invalid_grant" in out
    assert "Task status=completed" in out
    # Ava's referral under her consent in full; Ben revoked his: only that a referral exists.
    assert "under the member's consent" in out
    assert "minimal: no consent covers this recipient" in out
    # Crisis escalation: Ava's flag reaches her clinic under consent; Cleo's has no route,
    # waits for the coordinators and is acknowledged; every answer carries 988 guidance.
    assert "Riley flags an imminent risk for Ava: route clinical_contact" in out
    assert "guidance: call or text 988" in out
    assert "route coordinators, status unhandled" in out
    assert "Casey (coordinator) sees Cleo's flag among the unhandled: yes" in out
    assert (
        "Sam (supervisor) acknowledges it: status acknowledged; off the unhandled list: yes" in out
    )
    # Synthetic secrets stay in the state directory, never on the terminal.
    for person in seed.people.values():
        assert person.password not in out + demo.stderr
