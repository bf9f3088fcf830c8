"""A real Apache Kafka broker (KRaft, single node) run with the machine's Java.

The broker's jars come from Maven Central at the version pinned in
`deploy/kafka/pom.xml`, resolved once by Maven into a cache outside the
repository; later starts reuse the cache and take seconds.
"""

from __future__ import annotations

import base64
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .errors import StackError
from .paths import repo_root
from .ports import ensure_port_free

MIN_JAVA = 17


@dataclass(frozen=True)
class KafkaConfig:
    data_dir: Path
    cache_dir: Path
    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093
    partitions: int = 6

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"


def pom_path() -> Path:
    return repo_root() / "deploy" / "kafka" / "pom.xml"


def pinned_version(pom: Path | None = None) -> str:
    text = (pom or pom_path()).read_text()
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", text)
    if not match:
        raise StackError(f"{pom or pom_path()} does not pin <kafka.version>")
    return match.group(1)


def check_java() -> str:
    """Return the `java` path, or say exactly what to install."""
    java = shutil.which("java")
    if java is None:
        raise StackError(
            f"Java is not installed, and the local Kafka broker needs Java {MIN_JAVA} or newer. "
            "Install an OpenJDK (e.g. `apt-get install openjdk-17-jre-headless`), or point "
            "PeerBridge at an existing broker with PEERBRIDGE_KAFKA_BOOTSTRAP=host:port."
        )
    result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if not match:
        raise StackError(f"Could not read the Java version from `java -version`: {result.stderr}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8" style
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise StackError(
            f"Java {major} is too old for Kafka 4 (needs {MIN_JAVA}+). Install OpenJDK "
            f"{MIN_JAVA} or newer, or set PEERBRIDGE_KAFKA_BOOTSTRAP to an existing broker."
        )
    return java


def ensure_jars(cache_dir: Path, log: Callable[[str], None] = print) -> Path:
    """Resolve the pinned broker jars once; return the directory that holds them."""
    version = pinned_version()
    libs = cache_dir / "kafka" / version / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "Maven (`mvn`) is needed once to fetch the Kafka broker jars from Maven Central. "
            "Install it (e.g. `apt-get install maven`), or set PEERBRIDGE_KAFKA_BOOTSTRAP "
            "to an existing broker."
        )
    staging = libs.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    log(f"fetching Apache Kafka {version} jars from Maven Central (first run only)...")
    command = [
        mvn,
        "-B",
        "-f",
        str(pom_path()),
        f"-Dmaven.repo.local={cache_dir / 'm2'}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    fetched = 0
    tail: list[str] = []
    for line in process.stdout:
        tail = [*tail[-20:], line.rstrip()]
        if line.startswith("Downloaded from"):
            fetched += 1
            if fetched % 10 == 0:
                log(f"  ... {fetched} artifacts downloaded")
    if process.wait() != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise StackError(
            "Maven could not fetch the Kafka jars (is Maven Central reachable?). "
            "Last lines:\n" + "\n".join(tail)
        )
    jars = sorted(staging.glob("*.jar"))
    log(f"  {len(jars)} jars ready in {libs}")
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    marker.write_text(version)
    return libs


def _server_properties(config: KafkaConfig) -> str:
    c = config
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{c.host}:{c.controller_port}",
            f"listeners=PLAINTEXT://{c.host}:{c.port},CONTROLLER://{c.host}:{c.controller_port}",
            f"advertised.listeners=PLAINTEXT://{c.host}:{c.port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={c.data_dir / 'logs'}",
            f"num.partitions={c.partitions}",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=10",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            # Topics are created explicitly at start-up, never by a stray produce.
            "auto.create.topics.enable=false",
            "group.initial.rebalance.delay.ms=0",
            "",
        ]
    )


def probe_ready(bootstrap: str, timeout_s: float = 3.0) -> tuple[bool, str]:
    """One bounded readiness round: metadata answers and the group coordinator is loaded."""
    import asyncio

    from peerbridge_platform.kafka import KafkaUnavailable, wait_for_kafka

    try:
        asyncio.run(wait_for_kafka(bootstrap, timeout_s=timeout_s))
    except KafkaUnavailable as exc:
        return False, str(exc)
    return True, "ready"


def wait_for_producer_ids(bootstrap: str, timeout_s: float) -> None:
    """A fresh broker also says "coordinator load in progress" to idempotent producers.

    Initialising a transactional producer succeeds only once the coordinator
    that hands out producer ids has loaded, so nothing after start-up sees it.
    """
    from confluent_kafka import KafkaException, Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": "peerbridge.devstack.readiness",
            "log_level": 0,
        }
    )
    try:
        producer.init_transactions(max(timeout_s, 1.0))
    except KafkaException as exc:
        raise StackError(
            f"Kafka on {bootstrap} did not hand out producer ids within {timeout_s:.0f}s: {exc}"
        ) from exc


def new_cluster_id() -> str:
    """A KRaft cluster id: a base64url UUID without padding that does not start with "-"
    (the storage tool would read it as an option; Kafka's Uuid.randomUuid skips those too)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class LocalKafka:
    """One KRaft broker+controller whose data lives in `config.data_dir`."""

    def __init__(self, config: KafkaConfig, log: Callable[[str], None] = print) -> None:
        self.config = config
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _java_command(self, java: str, libs: Path, main: str, *args: str) -> list[str]:
        log4j = repo_root() / "deploy" / "kafka" / "log4j2.yaml"
        return [
            java,
            "-Xms256m",
            "-Xmx1g",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{libs}/*",
            main,
            *args,
        ]

    def prepare(self) -> tuple[str, Path, Path]:
        java = check_java()
        libs = ensure_jars(self.config.cache_dir, self._log)
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        properties = self.config.data_dir / "server.properties"
        properties.write_text(_server_properties(self.config))
        if not (self.config.data_dir / "logs" / "meta.properties").exists():
            cluster_id = self._cluster_id()
            result = subprocess.run(
                self._java_command(
                    java,
                    libs,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(properties),
                ),
                capture_output=True,
                text=True,
                timeout=120,
            )
            if result.returncode != 0:
                raise StackError(
                    f"Formatting Kafka storage in {self.config.data_dir} failed: "
                    f"{(result.stdout + result.stderr)[-800:]}"
                )
        return java, libs, properties

    def _cluster_id(self) -> str:
        return new_cluster_id()

    def start(self, output: IO[bytes] | int | None = None, timeout: float = 90.0) -> str:
        for port, variable in (
            (self.config.port, "PEERBRIDGE_KAFKA_PORT"),
            (self.config.controller_port, "PEERBRIDGE_KAFKA_CONTROLLER_PORT"),
        ):
            ensure_port_free(self.config.host, port, "Kafka", variable)
        java, libs, properties = self.prepare()
        self._log(f"starting Kafka broker on {self.config.bootstrap}...")
        self._process = subprocess.Popen(
            self._java_command(java, libs, "kafka.Kafka", str(properties)),
            stdout=output if output is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready(timeout)
        return self.config.bootstrap

    def _wait_ready(self, timeout: float) -> None:
        started = time.monotonic()
        deadline = started + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            self._alive()
            ready, last = probe_ready(self.config.bootstrap, timeout_s=2.0)
            if ready:
                wait_for_producer_ids(self.config.bootstrap, deadline - time.monotonic())
                self._log(
                    f"Kafka ready on {self.config.bootstrap} in {time.monotonic() - started:.1f}s"
                )
                return
            time.sleep(0.2)
        self.stop()
        raise StackError(
            f"Kafka did not become ready on {self.config.bootstrap} within {timeout:.0f}s "
            f"({last}). See the broker log above."
        )

    def _alive(self) -> bool:
        if self._process is None or self._process.poll() is not None:
            code = self._process.returncode if self._process else None
            raise StackError(
                f"the Kafka broker exited with code {code} during start-up; see its log "
                f"above (data directory {self.config.data_dir})."
            )
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Controlled shutdown by SIGTERM to our own broker pid; kill if it hangs."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
