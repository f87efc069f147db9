"""`envlock-env.json`: the record inside every environment of what it is and where it came from."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envlock.materialize import LocalArtifact

from envlock.store.layout import ENV_RECORD
from envlock.store.safe_read import read_store_text

RECORD_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedPackage:
    name: str
    version: str
    filename: str
    sha256: str


def recorded_packages(files: Sequence[LocalArtifact]) -> tuple[RecordedPackage, ...]:
    """The record's entry for each file an environment was built from."""
    return tuple(
        RecordedPackage(name=f.package.name, version=f.package.version, filename=f.artifact.filename,
                        sha256=f.artifact.sha256)
        for f in files
    )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvRecord:
    """What an installed environment holds: enough to check it and to keep its artifacts in GC."""

    env_name: str
    target: str
    env_hash: str
    lock_content_hash: str
    platform: str
    python: str  # the locked X.Y
    interpreter: str  # the base interpreter the venv was made from
    interpreter_version: str
    envlock_version: str
    packages: tuple[RecordedPackage, ...]
    # where the interpreter came from: "locked" (the lock's build, from the store), "override"
    # (`--python PATH`), "system" (an interpreter of the locked X.Y found on the node)
    interpreter_source: str = "system"
    warnings: tuple[str, ...] = ()  # what the user was warned of when it was built
    # The tree hash of everything in the environment but this record and its manifest
    # (`envlock.store.tree`); None in environments built before envlock recorded it.
    tree_hash: str | None = None

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "record-version": RECORD_VERSION,
                    "env": self.env_name,
                    "target": self.target,
                    "env-hash": self.env_hash,
                    "lock-content-hash": self.lock_content_hash,
                    "platform": self.platform,
                    "python": self.python,
                    "interpreter": self.interpreter,
                    "interpreter-version": self.interpreter_version,
                    "envlock-version": self.envlock_version,
                    "packages": [
                        {"name": p.name, "version": p.version, "file": p.filename, "sha256": p.sha256}
                        for p in self.packages
                    ],
                    "interpreter-source": self.interpreter_source,
                    "warnings": list(self.warnings),
                    **({"tree-hash": self.tree_hash} if self.tree_hash is not None else {}),
                },
                indent=2,
            )
            + "\n"
        )

    def write(self, env_dir: Path) -> None:
        (env_dir / ENV_RECORD).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def read(cls, env_dir: Path) -> EnvRecord | None:
        """The record of the environment at `env_dir`, or None when it has none, it is unreadable or
        not a regular file (`envlock.store.safe_read`)."""
        try:
            # another user's environment may hold anything there (a FIFO): read it without hanging
            data = json.loads(read_store_text(env_dir / ENV_RECORD))
            return cls(
                env_name=data["env"],
                target=data["target"],
                env_hash=data["env-hash"],
                lock_content_hash=data["lock-content-hash"],
                platform=data["platform"],
                python=data["python"],
                interpreter=data["interpreter"],
                interpreter_version=data["interpreter-version"],
                envlock_version=data["envlock-version"],
                packages=tuple(
                    RecordedPackage(
                        name=p["name"], version=p["version"], filename=p["file"], sha256=p["sha256"]
                    )
                    for p in data["packages"]
                ),
                interpreter_source=str(data.get("interpreter-source", "system")),
                warnings=tuple(str(w) for w in data.get("warnings", [])),
                tree_hash=data.get("tree-hash"),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
