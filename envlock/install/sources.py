"""Where an artifact's bytes come from when the store lacks them: a bundle, or the artifact's URL."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from envlock.errors import IntegrityError
from envlock.lock.model import Artifact

if TYPE_CHECKING:
    from envlock.index.client import HttpIndexClient


class ArtifactSource(Protocol):
    """Writes an artifact's bytes to a file; the caller verifies them against the lock.

    `provide` returns the sha256 of the bytes it wrote when it computed one while writing (so the
    caller need not read the file again), else None. Sources are used from several threads.
    """

    description: str

    def provide(self, artifact: Artifact, dest: Path) -> str | None: ...


class BundleSource:
    """Files of a bundle written by `envlock fetch` (`<bundle>/artifacts/<sha256>/<filename>`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = f"bundle {root}"

    def path_of(self, artifact: Artifact) -> Path:
        from envlock.lock.validate import is_file_name, is_sha256

        if not (is_sha256(artifact.sha256) and is_file_name(artifact.filename)):  # the reader refused these
            raise ValueError(f"not a bundle artifact: sha256 {artifact.sha256!r}, file {artifact.filename!r}")
        return self.root / "artifacts" / artifact.sha256 / artifact.filename

    def provide(self, artifact: Artifact, dest: Path) -> str | None:
        src = self.path_of(artifact)
        if not src.is_file():
            raise IntegrityError(
                f"bundle {self.root} misses {artifact.filename} (expected at {src})",
                hint="fetch the bundle again with `envlock fetch` for this lock and target",
                details={"file": artifact.filename, "bundle": str(self.root)},
            )
        shutil.copyfile(src, dest)
        return None


class UrlSource:
    """The artifact's own URL, through the index client (the only code that touches the network)."""

    def __init__(self, client: HttpIndexClient) -> None:
        self.client = client
        self.description = "the index"

    def provide(self, artifact: Artifact, dest: Path) -> str | None:
        sha, _size = self.client.download(
            artifact.url, dest, expected_sha256=artifact.sha256, expected_size=artifact.size
        )
        return sha
