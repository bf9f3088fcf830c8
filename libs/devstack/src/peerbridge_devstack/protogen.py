"""Regenerate the Python stubs for every contract under protos/ (or check they are fresh).

`python -m peerbridge_devstack.protogen` writes `*_pb2.py`, `*_pb2_grpc.py` and
their `.pyi` into libs/contracts/src/, where they are committed; `--check`
generates into a temporary directory and fails, naming the stale files, when
the committed stubs differ. Both paths generate the same way, so a check that
passes means `make protos` would change nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from peerbridge_platform.logging import configure_logging, get_logger

PROTO_DIR = "protos"
STUBS_DIR = Path("libs") / "contracts" / "src"
# Every generated module ends like this; anything else under the stubs
# directory (py.typed, hand-written files) is never touched.
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")
PLUGINS = ("protoc-gen-mypy", "protoc-gen-mypy_grpc")

_log = get_logger("peerbridge_devstack.protogen")


class ProtogenError(RuntimeError):
    """The repository or a tool is not where it should be, or protoc failed."""


@dataclass(frozen=True)
class Drift:
    """How the committed stubs differ from freshly generated ones (paths relative to the stubs)."""

    changed: tuple[str, ...]
    missing: tuple[str, ...]
    orphaned: tuple[str, ...]

    @property
    def stale(self) -> tuple[str, ...]:
        return tuple(sorted({*self.changed, *self.missing, *self.orphaned}))


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest directory holding buf.yaml and protos/, from `start`, cwd, then this file."""
    candidates = [start] if start is not None else [Path.cwd(), Path(__file__).resolve()]
    for candidate in candidates:
        for directory in (candidate.resolve(), *candidate.resolve().parents):
            if (directory / "buf.yaml").is_file() and (directory / PROTO_DIR).is_dir():
                return directory
    raise ProtogenError(
        "no directory with buf.yaml and protos/ above "
        + ", ".join(str(c) for c in candidates)
        + ": run from the PeerBridge checkout or pass --root"
    )


def proto_files(proto_root: Path) -> list[Path]:
    # Sorted so protoc sees the same argument order everywhere.
    return sorted(proto_root.rglob("*.proto"))


def generate(proto_root: Path, out_dir: Path) -> list[Path]:
    """Run protoc with the Python, gRPC and mypy plugins; return the files written (relative)."""
    sources = proto_files(proto_root)
    if not sources:
        raise ProtogenError(f"no .proto files under {proto_root}")
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"--proto_path={proto_root}",
        f"--proto_path={_well_known_protos()}",
        *(f"--plugin={name}={_plugin_path(name)}" for name in PLUGINS),
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *(str(source) for source in sources),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ProtogenError(f"protoc failed ({result.returncode}):\n{result.stderr.strip()}")
    _write_package_markers(out_dir)
    return sorted(p.relative_to(out_dir) for p in out_dir.rglob("*") if p.is_file())


def compare(fresh_dir: Path, stubs_dir: Path, generated: Sequence[Path]) -> Drift:
    """Compare freshly generated files with the committed ones."""
    changed: list[str] = []
    missing: list[str] = []
    for relative in generated:
        committed = stubs_dir / relative
        if not committed.is_file():
            missing.append(str(relative))
        elif committed.read_bytes() != (fresh_dir / relative).read_bytes():
            changed.append(str(relative))
    expected = {str(p) for p in generated}
    orphaned = [p for p in _committed_generated(stubs_dir) if p not in expected]
    return Drift(tuple(changed), tuple(missing), tuple(orphaned))


def sync(fresh_dir: Path, stubs_dir: Path, generated: Sequence[Path]) -> Drift:
    """Make the committed stubs equal the fresh ones, touching only files that differ."""
    drift = compare(fresh_dir, stubs_dir, generated)
    for relative in (*drift.changed, *drift.missing):
        target = stubs_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fresh_dir / relative, target)
    for relative in drift.orphaned:
        (stubs_dir / relative).unlink()
    return drift


def run(root: Path, *, check: bool) -> int:
    proto_root = root / PROTO_DIR
    stubs_dir = root / STUBS_DIR
    with tempfile.TemporaryDirectory(prefix="peerbridge-protogen-") as tmp:
        fresh_dir = Path(tmp)
        generated = generate(proto_root, fresh_dir)
        if check:
            drift = compare(fresh_dir, stubs_dir, generated)
            if drift.stale:
                _log.error(
                    "generated stubs are stale: run `make protos`",
                    stale=[str(STUBS_DIR / p) for p in drift.stale],
                )
                return 1
            _log.info("generated stubs are up to date", files=len(generated))
            return 0
        drift = sync(fresh_dir, stubs_dir, generated)
    _log.info(
        "generated stubs written",
        directory=str(STUBS_DIR),
        files=len(generated),
        updated=list(drift.stale),
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peerbridge_devstack.protogen")
    parser.add_argument(
        "--check",
        action="store_true",
        help="fail when the committed stubs differ from what protos/ generates",
    )
    parser.add_argument("--root", type=Path, help="repository root (found automatically)")
    args = parser.parse_args(argv)
    configure_logging("protogen", fmt="console")
    try:
        return run(find_repo_root(args.root), check=args.check)
    except ProtogenError as error:
        _log.error(str(error))
        return 2


def _well_known_protos() -> Path:
    # grpc_tools bundles google/protobuf/*.proto; protoc needs them on the include path.
    return Path(str(resources.files("grpc_tools") / "_proto"))


def _plugin_path(name: str) -> str:
    # The venv's bin is not on PATH when the venv is not activated.
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise ProtogenError(f"{name} not found: install mypy-protobuf (make install)")
    return found


def _write_package_markers(out_dir: Path) -> None:
    # Every directory protoc wrote into is a regular package.
    for directory in sorted({p.parent for p in out_dir.rglob("*.py")}):
        current = directory
        while current != out_dir:
            (current / "__init__.py").touch()
            current = current.parent


def _committed_generated(stubs_dir: Path) -> list[str]:
    if not stubs_dir.is_dir():
        return []
    return sorted(
        str(p.relative_to(stubs_dir))
        for p in stubs_dir.rglob("*")
        if p.is_file() and p.name.endswith(GENERATED_SUFFIXES)
    )


if __name__ == "__main__":
    raise SystemExit(main())
