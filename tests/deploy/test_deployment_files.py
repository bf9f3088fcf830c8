"""docker-compose.yml, the Dockerfile and deploy/k8s agree with the code and with each other.

No Docker engine or cluster is needed: files are parsed and cross-checked, and
the compose file is validated against the compose specification offline.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from peerbridge.referrals.v1 import referrals_service_pb2
from peerbridge_platform.settings import KafkaSettings, PlatformSettings, TokenSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_ENV_EXAMPLE = ROOT / "deploy" / "compose.env.example"
DOCKERFILE = ROOT / "deploy" / "docker" / "service.Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
K8S_DIR = ROOT / "deploy" / "k8s"
SECRETS_TEMPLATE = K8S_DIR / "secrets.template.yaml"

SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").is_file())
# The one-shot that creates each service's database and role.
PROVISION = "provision"
REFERRALS_HEALTH_NAME = referrals_service_pb2.DESCRIPTOR.services_by_name[
    "ReferralsService"
].full_name

REQUIRED_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z][A-Z0-9_]*):\?[^}]+\}")
# Names that hold credentials; which tokens count (issuer, audience) is public.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN(?!_ISSUER$|_AUDIENCE$)|DATABASE_URL")

Json = dict[str, Any]


# -- loading ------------------------------------------------------------------


@cache
def compose() -> Json:
    loaded: Json = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def compose_services() -> Json:
    services: Json = compose()["services"]
    return services


def compose_environment(name: str) -> dict[str, str]:
    environment = compose_services()[name].get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def is_one_shot(service: Json) -> bool:
    return bool(service.get("restart", "no") == "no")


def app_services() -> list[str]:
    """Compose services built from the Dockerfile that keep running."""
    return [
        name
        for name, service in compose_services().items()
        if "build" in service and not is_one_shot(service)
    ]


@cache
def k8s_documents() -> tuple[Json, ...]:
    documents: list[Json] = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return tuple(documents)


def k8s_objects(kind: str) -> dict[str, Json]:
    return {d["metadata"]["name"]: d for d in k8s_documents() if d.get("kind") == kind}


@cache
def secrets_template() -> dict[str, dict[str, str]]:
    return {
        doc["metadata"]["name"]: doc["stringData"]
        for doc in yaml.safe_load_all(SECRETS_TEMPLATE.read_text())
        if doc
    }


def pod_spec(workload: Json) -> Json:
    spec: Json = workload["spec"]["template"]["spec"]
    return spec


def only_container(workload: Json) -> Json:
    containers: list[Json] = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: one container expected"
    return containers[0]


def k8s_env_names(container: Json) -> set[str]:
    """Every variable the container sees: its env plus the ConfigMaps and Secrets it loads."""
    names = {item["name"] for item in container.get("env", [])}
    config_maps = k8s_objects("ConfigMap")
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            names |= set(config_maps[source["configMapRef"]["name"]]["data"])
        if "secretRef" in source:
            names |= set(secrets_template()[source["secretRef"]["name"]])
    return names


def k8s_env_value(container: Json, name: str) -> str:
    for item in container.get("env", []):
        if item["name"] == name:
            return str(item["value"])
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            data = k8s_objects("ConfigMap")[source["configMapRef"]["name"]]["data"]
            if name in data:
                return str(data[name])
    raise AssertionError(f"{container['name']} does not set {name}")


def port_of(address: str) -> int:
    return int(address.rpartition(":")[2])


def image_repository(image: str) -> str:
    return image.split(":", 1)[0]


# -- the Dockerfile -----------------------------------------------------------


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None


def dockerfile_instructions(text: str) -> Iterator[tuple[str, str]]:
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        keyword, _, args = logical.partition(" ")
        yield keyword.upper(), args.strip()
        logical = ""


@cache
def dockerfile_stages() -> dict[str, Stage]:
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for keyword, args in dockerfile_instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", args, re.IGNORECASE)
            assert match, f"unexpected FROM {args}"
            current = Stage(name=match[2] or f"#{len(stages)}", base=match[1])
            stages[current.name] = current
        else:
            assert current is not None, f"{keyword} before the first FROM"
            current.instructions.append((keyword, args))
    return stages


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"{args} is not the exec (JSON) form"
    return [str(item) for item in value]


def healthcheck_command(stage: Stage) -> list[str] | None:
    args = stage.last("HEALTHCHECK")
    if args is None or args.upper() == "NONE":
        return None
    _, _, command = args.partition("CMD ")
    return exec_form(command)


# -- settings -----------------------------------------------------------------


def settings_env_names(*classes: type[BaseSettings]) -> dict[str, bool]:
    """Environment variable name -> whether that field is required."""
    names: dict[str, bool] = {}
    for cls in classes:
        prefix = str(cls.model_config.get("env_prefix", ""))
        for field_name, info in cls.model_fields.items():
            alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
            names[(alias or f"{prefix}{field_name}").upper()] = info.is_required()
    return names


# -- docker compose -----------------------------------------------------------


def test_compose_file_validates_against_the_compose_spec() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    assert checker.exists(), f"{checker} is missing: run `make install`"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_spec_validation_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  app:\n    image: x:1\n    restart: 5\n    ports: 8000\n")
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0, "the validator accepted an invalid compose file"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_a_compose_service_and_a_k8s_deployment(service: str) -> None:
    assert service in compose_services(), f"docker-compose.yml has no `{service}` service"
    assert service in k8s_objects("Deployment"), f"deploy/k8s has no Deployment `{service}`"


def test_app_services_have_healthchecks_and_wait_for_healthy_dependencies() -> None:
    services = compose_services()
    assert set(SERVICES) <= set(app_services())
    for name in app_services():
        service = services[name]
        test = service.get("healthcheck", {}).get("test")
        assert test, f"{name} has no healthcheck"
        assert test[0] in {"CMD", "CMD-SHELL"}, f"{name}: healthcheck test {test}"
        depends_on = service.get("depends_on")
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        assert depends_on.get(PROVISION, {}).get("condition") == "service_completed_successfully"
        needs = {"postgres"}
        if "PEERBRIDGE_KAFKA_BOOTSTRAP" in compose_environment(name):
            needs.add("kafka")
        for infrastructure in needs:
            assert depends_on.get(infrastructure, {}).get("condition") == "service_healthy", (
                f"{name} must wait for a healthy {infrastructure}"
            )
        if "kafka" not in needs:
            assert "kafka" not in depends_on, f"{name} does not use Kafka"
    for name, service in services.items():
        for target, rule in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = rule.get("condition")
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no healthcheck"
            else:
                assert condition == "service_completed_successfully", f"{name} -> {target}"
                assert is_one_shot(services[target]), f"{target} is not a one-shot"


def test_gateway_waits_for_the_services_it_calls() -> None:
    target = compose_environment("gateway")["PEERBRIDGE_REFERRALS_TARGET"]
    host = target.rpartition(":")[0]
    assert host in compose_services()
    condition = compose_services()["gateway"]["depends_on"][host]["condition"]
    assert condition == "service_healthy"
    assert port_of(target) == port_of(compose_environment(host)["PEERBRIDGE_GRPC_LISTEN"])


def test_healthchecks_really_check_each_dependency() -> None:
    services = compose_services()
    assert services["postgres"]["healthcheck"]["test"][1] == "pg_isready"
    assert "kafka-broker-api-versions.sh" in " ".join(services["kafka"]["healthcheck"]["test"])
    referrals = services["referrals"]["healthcheck"]["test"]
    assert referrals[1:4] == ["python", "-m", "peerbridge_platform.grpc.probe"]
    assert port_of(referrals[4]) == port_of(
        compose_environment("referrals")["PEERBRIDGE_GRPC_LISTEN"]
    )
    assert referrals[5] == REFERRALS_HEALTH_NAME
    gateway = " ".join(services["gateway"]["healthcheck"]["test"])
    port = compose_environment("gateway")["PEERBRIDGE_HTTP_PORT"]
    assert "urllib.request" in gateway
    assert f"http://127.0.0.1:{port}/readyz" in gateway


def test_compose_healthchecks_match_the_image_healthchecks() -> None:
    stages = dockerfile_stages()
    for name in app_services():
        target = compose_services()[name]["build"]["target"]
        assert compose_services()[name]["healthcheck"]["test"][1:] == healthcheck_command(
            stages[target]
        ), f"{name}: the compose and Dockerfile healthchecks differ"


def test_kafka_is_one_kraft_node_without_topic_auto_creation() -> None:
    kafka = compose_services()["kafka"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    env = {key: str(value) for key, value in kafka["environment"].items()}
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@kafka:")
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for key, value in env.items():
        if key.endswith(("_REPLICATION_FACTOR", "_MIN_ISR")):
            assert value == "1", f"{key} must be 1 on a single broker"
    # The image rejects a cluster id that is not a base64 UUID.
    cluster_id = env["CLUSTER_ID"]
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    advertised = urlsplit(env["KAFKA_ADVERTISED_LISTENERS"].split(",")[0])
    users = [n for n in app_services() if "PEERBRIDGE_KAFKA_BOOTSTRAP" in compose_environment(n)]
    assert users
    for name in users:
        bootstrap = compose_environment(name)["PEERBRIDGE_KAFKA_BOOTSTRAP"]
        assert bootstrap == f"{advertised.hostname}:{advertised.port}"
    assert env["KAFKA_LOG_DIRS"] in {v.split(":")[1] for v in kafka["volumes"]}


def test_postgres_is_the_official_image_with_a_volume() -> None:
    postgres = compose_services()["postgres"]
    assert postgres["image"] == "postgres:17"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])


def test_images_are_pinned_and_volumes_are_named() -> None:
    declared = set(compose().get("volumes", {}))
    for name, service in compose_services().items():
        image = service.get("image", "")
        _, sep, tag = image.partition(":")
        assert sep, f"{name}: pin {image!r} by tag"
        assert tag not in {"", "latest"}, f"{name}: pin {image!r} by tag"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in declared, f"{name}: {source} is not a named volume"


def test_services_restart_and_have_resource_limits() -> None:
    for name, service in compose_services().items():
        assert "restart" in service, f"{name} has no restart policy"
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert {"cpus", "memory"} <= set(limits), f"{name} has no cpu and memory limits"


def test_ports_are_published_on_loopback_only() -> None:
    published = []
    for name, service in compose_services().items():
        assert service.get("network_mode") != "host", name
        for port in service.get("ports", []):
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"
                published.append((name, int(port["published"])))
            else:
                host_ip, host_port, _ = str(port).rsplit(":", 2)
                assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond loopback"
                published.append((name, int(host_port)))
    assert ("gateway", 8000) in published


def test_no_secret_is_written_into_the_compose_file() -> None:
    for name, service in compose_services().items():
        environment = service.get("environment", {})
        for key, value in environment.items():
            value = str(value)
            if SECRET_NAME.search(key) and "DATABASE_URL" not in key:
                assert REQUIRED_VARIABLE.fullmatch(value), (
                    f"{name}.{key} must come from ${{VAR:?message}}, not {value!r}"
                )
            if "://" in value and "@" in value:
                userinfo = value.split("://", 1)[1].rsplit("@", 1)[0]
                password = userinfo.partition(":")[2]
                assert REQUIRED_VARIABLE.fullmatch(password), (
                    f"{name}.{key}: the URL's password must be ${{VAR:?message}}"
                )


def test_the_env_example_lists_every_required_variable_without_values() -> None:
    required = set(m["name"] for m in REQUIRED_VARIABLE.finditer(COMPOSE_FILE.read_text()))
    example: dict[str, str] = {}
    for line in COMPOSE_ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            example[key.strip()] = value.strip()
    assert required <= set(example), f"missing from the example: {required - set(example)}"
    for key in required:
        if re.search(r"PASSWORD|SECRET|TOKEN", key):
            assert example[key] == "", f"{key} must be empty in the example"
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE_FILE.read_text()))
    assert set(example) <= used, f"unused in docker-compose.yml: {set(example) - used}"


# -- the same entry points and settings everywhere ----------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_compose_and_k8s_run_the_service_module(service: str) -> None:
    module = f"peerbridge_{service}"
    assert (ROOT / "services" / service / "src" / module / "__init__.py").is_file()
    build = compose_services()[service]["build"]
    assert build["dockerfile"] == str(DOCKERFILE.relative_to(ROOT))
    stage = dockerfile_stages()[build["target"]]
    entrypoint = stage.last("ENTRYPOINT")
    assert entrypoint is not None, f"stage {build['target']} has no ENTRYPOINT"
    assert exec_form(entrypoint) == ["python", "-m", module]
    assert "entrypoint" not in compose_services()[service]
    assert "command" not in compose_services()[service]
    container = only_container(k8s_objects("Deployment")[service])
    assert container.get("command", ["python", "-m", module]) == ["python", "-m", module]
    repository = image_repository(compose_services()[service]["image"])
    assert image_repository(container["image"]) == repository


@pytest.mark.parametrize("service", SERVICES)
def test_the_service_module_can_be_run(service: str) -> None:
    main = ROOT / "services" / service / "src" / f"peerbridge_{service}" / "__main__.py"
    if not main.is_file():
        pytest.skip(f"{main.relative_to(ROOT)} does not exist yet, so `python -m` cannot run it")
    assert main.read_text().strip()


def test_provision_runs_the_devstack_command() -> None:
    build = compose_services()[PROVISION]["build"]
    stage = dockerfile_stages()[build["target"]]
    entrypoint = exec_form(stage.last("ENTRYPOINT") or "[]")
    assert entrypoint == ["python", "-m", "peerbridge_devstack"]
    assert compose_services()[PROVISION]["command"] == ["provision"]
    job = only_container(k8s_objects("Job")["peerbridge-provision"])
    assert job["args"] == ["provision"]
    from peerbridge_devstack.provision import SERVICES_WITH_DATABASES

    expected = {"PEERBRIDGE_DATABASE_URL"} | {
        f"PEERBRIDGE_DB_PASSWORD_{s.upper()}" for s in SERVICES_WITH_DATABASES
    }
    assert set(compose_environment(PROVISION)) == expected
    assert k8s_env_names(job) == expected


@pytest.mark.parametrize("service", SERVICES)
def test_compose_and_k8s_set_the_same_variables(service: str) -> None:
    in_compose = {k for k in compose_environment(service) if k.startswith("PEERBRIDGE_")}
    in_k8s = k8s_env_names(only_container(k8s_objects("Deployment")[service]))
    assert in_compose == {k for k in in_k8s if k.startswith("PEERBRIDGE_")}


@pytest.mark.parametrize(
    ("anchor", "config_map", "settings"),
    [
        ("x-peerbridge-env", "peerbridge-shared", PlatformSettings),
        ("x-kafka-env", "peerbridge-kafka", KafkaSettings),
        ("x-token-env", "peerbridge-tokens", TokenSettings),
    ],
)
def test_shared_variables_are_valid_platform_settings(
    anchor: str, config_map: str, settings: type[BaseSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    in_compose: Json = compose()[anchor]
    in_k8s: Json = k8s_objects("ConfigMap")[config_map]["data"]
    assert set(in_compose) == set(in_k8s)
    known = settings_env_names(settings)
    assert set(in_compose) <= set(known), f"not {settings.__name__}: {set(in_compose) - set(known)}"
    for values in (in_compose, in_k8s):
        for key, value in values.items():
            monkeypatch.setenv(key, str(value))
        loaded = settings()
        for key, value in values.items():
            field_name = key.removeprefix("PEERBRIDGE_").lower()
            assert str(getattr(loaded, field_name)) == str(value), key


@pytest.mark.parametrize("service", SERVICES)
def test_variables_match_the_service_settings(service: str) -> None:
    config = ROOT / "services" / service / "src" / f"peerbridge_{service}" / "config.py"
    if not config.is_file():
        pytest.skip(
            f"{config.relative_to(ROOT)} does not exist yet: only the shared platform "
            "settings can be checked for this service"
        )
    module = importlib.import_module(f"peerbridge_{service}.config")
    classes = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, BaseSettings) and obj is not BaseSettings
    ]
    assert classes, f"{config.relative_to(ROOT)} defines no settings class"
    known = settings_env_names(*classes)
    required = {name for name, is_required in known.items() if is_required}
    in_compose = {k for k in compose_environment(service) if k.startswith("PEERBRIDGE_")}
    in_k8s = k8s_env_names(only_container(k8s_objects("Deployment")[service]))
    for where, names in (("docker-compose.yml", in_compose), ("deploy/k8s", in_k8s)):
        assert names <= set(known), (
            f"{where} sets variables {service} does not read: {names - set(known)}"
        )
        assert required <= names, f"{where} misses required {required - names}"


# -- the Dockerfile -----------------------------------------------------------


def test_base_images_are_pinned_by_tag() -> None:
    stages = dockerfile_stages()
    external = [s.base for s in stages.values() if s.base not in stages]
    assert external, "no base image found"
    for image in external:
        tag = image.partition("@")[0].rpartition(":")[2]
        assert ":" in image, f"pin {image} by tag"
        assert tag not in {"", "latest"}, f"pin {image} by tag"
    assert any(image.startswith("python:3.11-slim") for image in external)
    uv_version = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert uv_version
    assert f"ghcr.io/astral-sh/uv:{uv_version[1]}" in external, "use the Makefile's uv"


def test_dependencies_come_from_the_lock_file() -> None:
    syncs = [
        args for stage in dockerfile_stages().values() for args in stage.all("RUN") if "uv " in args
    ]
    assert syncs
    for command in syncs:
        assert "uv sync" in command
        assert "--frozen" in command, command
        assert "--no-dev" in command, command
        assert "pip install" not in command


@pytest.mark.parametrize("target", [*SERVICES, PROVISION])
def test_image_targets_run_as_non_root(target: str) -> None:
    stage = dockerfile_stages()[target]
    user = stage.last("USER")
    assert user is not None, f"{target} runs as root"
    uid = user.split(":")[0]
    assert uid.isdigit(), f"{target}: USER must be a numeric uid"
    assert int(uid) != 0, f"{target}: USER must not be root"
    pod = pod_spec(
        k8s_objects("Job")["peerbridge-provision"]
        if target == PROVISION
        else k8s_objects("Deployment")[target]
    )
    assert pod["securityContext"]["runAsUser"] == int(uid)


@pytest.mark.parametrize("service", SERVICES)
def test_service_images_expose_their_port_and_check_health(service: str) -> None:
    stage = dockerfile_stages()[service]
    container = only_container(k8s_objects("Deployment")[service])
    ports = {p["containerPort"] for p in container["ports"]}
    assert {int(p) for p in " ".join(stage.all("EXPOSE")).split()} == ports
    assert healthcheck_command(stage), f"{service} image has no HEALTHCHECK"


def _dockerignore_pattern(pattern: str) -> re.Pattern[str]:
    parts = []
    for piece in re.split(r"(\*\*/?|\*|\?|\[[^\]]+\])", pattern.strip("/")):
        if piece.startswith("[") and piece.endswith("]"):
            parts.append(piece)
        elif piece in {"**", "**/"}:
            parts.append(r"(?:.*/)?" if piece == "**/" else ".*")
        elif piece == "*":
            parts.append("[^/]*")
        elif piece == "?":
            parts.append("[^/]")
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts))


@cache
def repository_files() -> tuple[str, ...]:
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return tuple(listing.stdout.splitlines())


def build_context_files() -> set[str]:
    """Files `docker build .` would send, following .dockerignore's last-match-wins rules."""
    rules = [
        (line.startswith("!"), _dockerignore_pattern(line.lstrip("!")))
        for line in (s.strip() for s in DOCKERIGNORE.read_text().splitlines())
        if line and not line.startswith("#")
    ]
    included = set()
    for path in repository_files():
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        keep = True
        for negated, rule in rules:
            if any(rule.fullmatch(prefix) for prefix in prefixes):
                keep = negated
        if keep:
            included.add(path)
    return included


def test_build_context_holds_the_workspace_and_nothing_else() -> None:
    context = build_context_files()
    # Package sources include data files such as migrations, which would
    # otherwise only be missed at start-up.
    needed = {"pyproject.toml", "uv.lock"} | {
        path
        for path in repository_files()
        if re.match(r"(libs|services)/[^/]+/(pyproject\.toml$|src/)", path)
        and "__pycache__" not in path
    }
    assert needed - context == set()
    for path in context:
        assert not re.search(r"(^|/)(tests?|node_modules|\.venv|\.git|__pycache__)/", path), path


# -- Kubernetes ---------------------------------------------------------------


def test_k8s_files_parse_and_the_kustomization_lists_them() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert SECRETS_TEMPLATE.name not in listed, "apply -k must never write placeholder secrets"
    assert listed == on_disk - {SECRETS_TEMPLATE.name}
    for document in k8s_documents():
        assert {"apiVersion", "kind", "metadata"} <= set(document)


def test_kustomize_renders_the_base() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed, so `kubectl kustomize` cannot render the base")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S_DIR)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(result.stdout) if d]
    assert kinds.count("Deployment") == len(SERVICES)
    assert "Secret" not in kinds


def workloads() -> list[Json]:
    return [*k8s_objects("Deployment").values(), *k8s_objects("Job").values()]


def test_k8s_workloads_are_non_root_read_only_and_limited() -> None:
    for workload in workloads():
        name = workload["metadata"]["name"]
        pod = pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), f"{name} {bound}"


def test_referrals_probes_use_grpc_health_on_its_port() -> None:
    container = only_container(k8s_objects("Deployment")["referrals"])
    port = port_of(k8s_env_value(container, "PEERBRIDGE_GRPC_LISTEN"))
    assert {p["containerPort"] for p in container["ports"]} == {port, METRICS_PORT}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == port, probe
    assert container["readinessProbe"]["grpc"]["service"] == REFERRALS_HEALTH_NAME


def test_gateway_probes_use_readyz_and_healthz() -> None:
    container = only_container(k8s_objects("Deployment")["gateway"])
    port = int(k8s_env_value(container, "PEERBRIDGE_HTTP_PORT"))
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert named == {"http": port, "metrics": METRICS_PORT}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}


def test_services_select_their_pods_and_ports() -> None:
    deployments = k8s_objects("Deployment")
    for name, service in k8s_objects("Service").items():
        deployment = deployments[name]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), name
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        ports = {p["name"] for p in only_container(deployment)["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, f"{name}: {port}"
    target = k8s_env_value(
        only_container(deployments["gateway"]), "PEERBRIDGE_REFERRALS_TARGET"
    ).rpartition(":")
    referrals = k8s_objects("Service")[target[0]]
    assert int(target[2]) in {p["port"] for p in referrals["spec"]["ports"]}


def test_k8s_credentials_come_from_secrets_only() -> None:
    template = secrets_template()
    for workload in workloads():
        for container in pod_spec(workload)["containers"]:
            for item in container.get("env", []):
                if SECRET_NAME.search(item["name"]):
                    ref = item.get("valueFrom", {}).get("secretKeyRef")
                    assert ref, f"{item['name']} must come from a Secret"
                    assert ref["key"] in template[ref["name"]], ref
    for name, data in k8s_objects("ConfigMap").items():
        for key, value in data["data"].items():
            assert not SECRET_NAME.search(key), f"{name}.{key} belongs in a Secret"
            assert "@" not in str(value), f"{name}.{key} looks like a credential"
    for name, data in template.items():
        for key, value in data.items():
            assert "REPLACE_ME" in value, f"{name}.{key} must be a placeholder"


METRICS_PORT = 9464


@pytest.mark.parametrize("service", SERVICES)
def test_prometheus_scrapes_each_pod_where_it_serves_its_metrics(service: str) -> None:
    """The pods' scrape annotations, their named port and the shared setting agree."""
    listen = k8s_objects("ConfigMap")["peerbridge-shared"]["data"]["PEERBRIDGE_METRICS_LISTEN"]
    assert port_of(listen) == METRICS_PORT
    deployment = k8s_objects("Deployment")[service]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == METRICS_PORT
    named = {p["name"]: p["containerPort"] for p in only_container(deployment)["ports"]}
    assert named["metrics"] == METRICS_PORT
    compose = compose_services()[service]
    assert str(METRICS_PORT) in compose.get("expose", [])
