"""Materializers: turn a locked target's verified files into something runnable (here: a venv)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from envlock.lock.model import Artifact, LockedPackage, LockedTarget
from envlock.materialize.uvinstall import Interpreter


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
    interpreter: Interpreter
    files: tuple[LocalArtifact, ...]


class Materializer(Protocol):
    """Builds one environment from verified local files into a directory that does not exist yet."""

    def materialize(self, request: MaterializeRequest, dest: Path) -> None: ...


__all__ = ["LocalArtifact", "MaterializeRequest", "Materializer"]
