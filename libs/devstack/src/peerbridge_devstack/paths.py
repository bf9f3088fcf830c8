"""Where local state and download caches live (outside the repository)."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """`PEERBRIDGE_STATE_DIR`, else `$XDG_DATA_HOME/peerbridge`, else ~/.local/share/peerbridge."""
    explicit = os.environ.get("PEERBRIDGE_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "peerbridge"


def cache_dir() -> Path:
    """`PEERBRIDGE_CACHE_DIR`, else `$XDG_CACHE_HOME/peerbridge`, else ~/.cache/peerbridge."""
    explicit = os.environ.get("PEERBRIDGE_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "peerbridge"


def repo_root() -> Path:
    """The checkout this package runs from (deploy/ holds the pinned Kafka POM)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "deploy" / "kafka" / "pom.xml").is_file():
            return parent
    raise FileNotFoundError(
        "deploy/kafka/pom.xml not found above "
        f"{here}: run PeerBridge from its source checkout (make run)"
    )
