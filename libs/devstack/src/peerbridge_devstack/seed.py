"""`make seed`: the first administrator, then a demo program and clinic with synthetic people.

Run it with the platform going (`make run`). It creates, once per state
directory:
- an administrator, directly in identity's database (no token exists yet),
  with `python -m peerbridge_identity create-admin`;
- signed in as that administrator through the gateway's token endpoint, over
  identity's gRPC API: a peer support program and a clinic, a coordinator, a
  supervisor, an eligible peer supporter (training, verified certification,
  supervisor), a clinician, three members, each with a password; a partner app
  of the program and an EHR integration of the clinic, each with its own
  ES384 key for `private_key_jwt`.

Every person is synthetic. Passwords and private keys are written to
`<state>/secrets/demo-seed.json` and `<state>/secrets/*.pem` (0600) and never
printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx

from peerbridge.identity.v1 import (
    identity_resources_pb2 as resources,
)
from peerbridge.identity.v1 import (
    identity_service_pb2 as service,
)
from peerbridge.identity.v1 import (
    identity_service_pb2_grpc as service_grpc,
)
from peerbridge_platform.auth import SigningKey

from .errors import StackError
from .service_secrets import read_service_secrets
from .stack_settings import StackSettings

SEED_FILE = "demo-seed.json"
ADMIN_USERNAME = "demo-admin"
PROGRAM_NAME = "Harbour Peer Recovery (demo)"
CLINIC_NAME = "Northside Health Clinic (demo)"
STANDARD_MODULES = (
    resources.TRAINING_MODULE_ETHICS,
    resources.TRAINING_MODULE_CONFIDENTIALITY,
    resources.TRAINING_MODULE_COMMUNICATION_SKILLS,
    resources.TRAINING_MODULE_CRISIS_MANAGEMENT,
    resources.TRAINING_MODULE_BOUNDARIES,
)


@dataclass
class SeededPerson:
    person_id: str
    username: str
    password: str
    roles: list[str]
    organization_id: str


@dataclass
class SeededClient:
    client_id: str
    organization_id: str
    key_file: str
    scopes: list[str]


@dataclass
class Seed:
    gateway_url: str
    program_id: str = ""
    clinic_id: str = ""
    people: dict[str, SeededPerson] = field(default_factory=dict)
    clients: dict[str, SeededClient] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        _write_private(path, json.dumps(asdict(self), indent=2).encode())

    @classmethod
    def load(cls, path: Path) -> Seed:
        document: dict[str, Any] = json.loads(path.read_text())
        return cls(
            gateway_url=document["gateway_url"],
            program_id=document["program_id"],
            clinic_id=document["clinic_id"],
            people={k: SeededPerson(**v) for k, v in document["people"].items()},
            clients={k: SeededClient(**v) for k, v in document["clients"].items()},
        )

    def client_key(self, name: str) -> SigningKey:
        return SigningKey.from_pem(Path(self.clients[name].key_file).read_bytes())


def seed_path(settings: StackSettings) -> Path:
    return settings.state_dir / "secrets" / SEED_FILE


def password_token(gateway_url: str, username: str, password: str) -> dict[str, Any]:
    """Sign in through the gateway as a person would (RFC 6749 §4.3)."""
    response = httpx.post(
        f"{gateway_url}/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
        timeout=10,
    )
    if response.status_code != 200:
        raise StackError(
            f"signing in as {username} answered {response.status_code}: {response.text[:300]}"
        )
    tokens: dict[str, Any] = response.json()
    return tokens


def ensure_seeded(settings: StackSettings, *, say: Any = print) -> Seed:
    """The seed of this state directory, created first if it is not there yet."""
    path = seed_path(settings)
    if path.exists():
        return Seed.load(path)
    gateway_url = os.environ.get("PEERBRIDGE_GATEWAY_URL", settings.gateway_url)
    seed = Seed(gateway_url=gateway_url)
    admin_password = secrets.token_urlsafe(18)
    admin_id = create_admin(settings.state_dir / "secrets", ADMIN_USERNAME, admin_password)
    seed.people["admin"] = SeededPerson(admin_id, ADMIN_USERNAME, admin_password, ["admin"], "")
    say(f"created the first administrator {ADMIN_USERNAME} ({admin_id})")
    admin_token = password_token(gateway_url, ADMIN_USERNAME, admin_password)["access_token"]
    identity_target = os.environ.get(
        "PEERBRIDGE_IDENTITY_TARGET", f"{settings.host}:{settings.identity_grpc_port}"
    )
    asyncio.run(_seed_identity(seed, identity_target, admin_token, path.parent, say))
    seed.save(path)
    say(f"demo credentials and keys are in {path} (readable by you only)")
    return seed


def create_admin(secrets_dir: Path, username: str, password: str) -> str:
    env = os.environ | read_service_secrets(secrets_dir, "identity")
    env["PEERBRIDGE_ADMIN_PASSWORD"] = password
    completed = subprocess.run(
        [sys.executable, "-m", "peerbridge_identity", "create-admin", "--username", username],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise StackError(
            f"create-admin failed (exit {completed.returncode}): "
            f"{(completed.stderr or completed.stdout).strip()[-500:]}\n"
            f"If the administrator exists already but {secrets_dir / SEED_FILE} was removed, "
            "start from a fresh state directory (PEERBRIDGE_STATE_DIR) or sign in as them."
        )
    person_id = _last_uuid(completed.stdout)
    if person_id is None:
        raise StackError(f"create-admin printed no person id: {completed.stdout[-300:]!r}")
    return person_id


async def _seed_identity(
    seed: Seed, target: str, admin_token: str, secrets_dir: Path, say: Any
) -> None:
    metadata = (("authorization", f"Bearer {admin_token}"),)
    async with grpc.aio.insecure_channel(target) as channel:
        stub = service_grpc.IdentityServiceStub(channel)

        async def call(method: str, request: Any) -> Any:
            try:
                return await getattr(stub, method)(request, metadata=metadata, timeout=10)
            except grpc.aio.AioRpcError as error:
                raise StackError(
                    f"identity {method} answered {error.code().name}: {error.details()}"
                ) from None

        program = await call(
            "RegisterOrganization",
            service.RegisterOrganizationRequest(
                request_id=str(uuid.uuid4()),
                kind=resources.ORGANIZATION_KIND_PEER_SUPPORT_PROGRAM,
                name=PROGRAM_NAME,
                program_settings=resources.ProgramSettings(
                    required_training=[
                        resources.TrainingRequirement(
                            module=resources.TrainingModuleRef(standard=module), validity_days=730
                        )
                        for module in STANDARD_MODULES
                    ],
                    certification_renewal_days=730,
                ),
            ),
        )
        clinic = await call(
            "RegisterOrganization",
            service.RegisterOrganizationRequest(
                request_id=str(uuid.uuid4()),
                kind=resources.ORGANIZATION_KIND_CLINIC,
                name=CLINIC_NAME,
            ),
        )
        seed.program_id = program.organization.organization_id
        seed.clinic_id = clinic.organization.organization_id
        say(f"registered {PROGRAM_NAME} and {CLINIC_NAME}")

        people = [
            (
                "coordinator",
                "Casey (demo coordinator)",
                resources.ROLE_COORDINATOR,
                seed.program_id,
            ),
            ("supervisor", "Sam (demo supervisor)", resources.ROLE_SUPERVISOR, seed.program_id),
            (
                "supporter",
                "Riley (demo peer supporter)",
                resources.ROLE_PEER_SUPPORTER,
                seed.program_id,
            ),
            ("clinician", "Dr Jordan (demo clinician)", resources.ROLE_CLINICIAN, seed.clinic_id),
            ("member-ava", "Ava (demo member)", resources.ROLE_MEMBER, seed.program_id),
            ("member-ben", "Ben (demo member)", resources.ROLE_MEMBER, seed.program_id),
            ("member-cleo", "Cleo (demo member)", resources.ROLE_MEMBER, seed.program_id),
        ]
        for key, display_name, role, organization_id in people:
            person = (
                await call(
                    "RegisterPerson",
                    service.RegisterPersonRequest(
                        request_id=str(uuid.uuid4()),
                        roles=[role],
                        organization_id=organization_id,
                        profile=resources.Profile(
                            display_name=display_name,
                            contact_preference=resources.CONTACT_PREFERENCE_IN_APP,
                            language="en",
                            time_zone="America/Chicago",
                            # Collected for members only.
                            age_band=resources.AGE_BAND_25_TO_34
                            if role == resources.ROLE_MEMBER
                            else resources.AGE_BAND_UNSPECIFIED,
                        ),
                    ),
                )
            ).person
            username, password = f"demo-{key}", secrets.token_urlsafe(18)
            await call(
                "SetPassword",
                service.SetPasswordRequest(
                    person_id=person.person_id, username=username, new_password=password
                ),
            )
            role_name = resources.Role.Name(role).removeprefix("ROLE_").lower()
            seed.people[key] = SeededPerson(
                person.person_id, username, password, [role_name], organization_id
            )
        say(f"registered {len(people)} synthetic people, each with a password")

        await _qualify_supporter(call, seed)
        say("the peer supporter is trained, certified (verified) and supervised: eligible")

        for name, kind, organization_id, display_name in (
            ("partner-app", resources.CLIENT_KIND_APP, seed.program_id, "Harbour recovery app"),
            (
                "ehr",
                resources.CLIENT_KIND_EHR_INTEGRATION,
                seed.clinic_id,
                "Northside EHR integration",
            ),
        ):
            scopes = ["referrals.read", "referrals.write"]
            client = (
                await call(
                    "RegisterClient",
                    service.RegisterClientRequest(
                        request_id=str(uuid.uuid4()),
                        organization_id=organization_id,
                        kind=kind,
                        display_name=display_name,
                        scopes=scopes,
                    ),
                )
            ).client
            signing_key = SigningKey.generate("ES384")
            key_file = secrets_dir / f"demo-{name}.pem"
            _write_private(key_file, signing_key.to_pem())
            await call(
                "AddClientKey",
                service.AddClientKeyRequest(
                    client_id=client.client_id, public_jwk_json=json.dumps(signing_key.public_jwk())
                ),
            )
            seed.clients[name] = SeededClient(
                client.client_id, organization_id, str(key_file), scopes
            )
        say("registered a partner app and an EHR integration, each with an ES384 key")


async def _qualify_supporter(call: Any, seed: Seed) -> None:
    supporter = seed.people["supporter"].person_id
    today = datetime.now(UTC).date()
    for module in STANDARD_MODULES:
        await call(
            "RecordTraining",
            service.RecordTrainingRequest(
                request_id=str(uuid.uuid4()),
                person_id=supporter,
                module=resources.TrainingModuleRef(standard=module),
                completed_on=_date(today - timedelta(days=30)),
            ),
        )
    certification = (
        await call(
            "RecordCertification",
            service.RecordCertificationRequest(
                request_id=str(uuid.uuid4()),
                person_id=supporter,
                credential_type="Certified Peer Recovery Specialist (demo)",
                issuing_body="Synthetic Certification Board",
                credential_number="DEMO-0001",
                valid_from=_date(today - timedelta(days=60)),
                valid_until=_date(today + timedelta(days=600)),
            ),
        )
    ).certification
    await call(
        "VerifyCertification",
        service.VerifyCertificationRequest(
            certification_id=certification.certification_id,
            decision=service.VERIFICATION_DECISION_VERIFIED,
            verified_by=seed.people["supervisor"].person_id,
        ),
    )
    await call(
        "AssignSupervisor",
        service.AssignSupervisorRequest(
            supporter_id=supporter, supervisor_id=seed.people["supervisor"].person_id
        ),
    )


def _date(day: date) -> resources.Date:
    return resources.Date(year=day.year, month=day.month, day=day.day)


def _last_uuid(text: str) -> str | None:
    for word in reversed(text.split()):
        try:
            return str(uuid.UUID(word.strip(".,:;()")))
        except ValueError:
            continue
    return None


def _write_private(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)


def main() -> int:
    settings = StackSettings()
    path = seed_path(settings)
    if path.exists():
        print(f"Already seeded: the demo credentials are in {path}.")
        return 0
    try:
        ensure_seeded(settings)
    except (StackError, FileNotFoundError, httpx.HTTPError) as error:
        print(f"Seeding failed: {error}", file=sys.stderr)
        return 1
    return 0
