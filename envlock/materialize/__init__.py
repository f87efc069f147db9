"""Materializers: turn a locked target's verified files into something runnable (here: a venv).

Building is two steps so that the slow parts overlap: `start(target, dest)` begins the empty
environment (for a venv: `uv venv`, which also finds the interpreter) while the caller verifies
artifacts; `ready()` waits for it and fails fast when the node cannot run the target, before
anything is downloaded; `finish(request)` installs the verified files and writes the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from envlock.lock.model import Artifact, LockedPackage, LockedTarget


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalArtifact:
    """A locked artifact and the verified local file that holds its bytes."""

    package: LockedPackage
    artifact: Artifact
    path: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class MaterializeRequest:
    env_name: str
    target: LockedTarget
    lock_content_hash: str
    files: tuple[LocalArtifact, ...]


class Build(Protocol):
    """One environment being built into a directory that did not exist before `start`."""

    def ready(self) -> None:
        """Wait for the empty environment; raises IncompatibleNodeError when the node lacks what it needs."""

    def finish(self, request: MaterializeRequest) -> None:
        """Install `request.files` (all verified) and write the environment's record."""

    def cancel(self) -> None:
        """Stop whatever still runs; the caller removes the directory."""


class Materializer(Protocol):
    """Builds environments from verified local files."""

    def start(self, target: LockedTarget, dest: Path) -> Build: ...


__all__ = ["Build", "LocalArtifact", "MaterializeRequest", "Materializer"]
