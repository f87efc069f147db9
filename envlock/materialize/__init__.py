"""Materializers: turn a locked target's verified files into something runnable (here: a venv).

Building is two steps so that the slow parts overlap: `start(target, dest)` begins the empty
environment (for a venv: `uv venv`, which also finds the interpreter) while the caller verifies
artifacts; `ready()` waits for it and fails fast when the node cannot run the target, before
anything is downloaded; `finish(request)` installs the verified files and writes the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from envlock.lock.model import Artifact, LockedPackage, LockedTarget

if TYPE_CHECKING:
    from envlock.store.record import EnvRecord


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
    # where the environment built in scratch will be published (None: where it is built); a conda
    # prefix writes it into the files of its packages that name their prefix
    final: Path | None = None

    def record(
        self,
        *,
        interpreter: str,
        interpreter_version: str,
        interpreter_source: str = "system",
        warnings: tuple[str, ...] = (),
    ) -> EnvRecord:
        """The record of the environment this request builds, on the interpreter it was built on."""
        from envlock import __version__
        from envlock.store.record import EnvRecord, recorded_packages

        return EnvRecord(
            env_name=self.env_name,
            target=self.target.name,
            env_hash=self.target.env_hash,
            lock_content_hash=self.lock_content_hash,
            platform=self.target.platform,
            python=self.target.python,
            interpreter=interpreter,
            interpreter_version=interpreter_version,
            envlock_version=__version__,
            interpreter_source=interpreter_source,
            warnings=warnings,
            packages=recorded_packages(self.files),
        )


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
