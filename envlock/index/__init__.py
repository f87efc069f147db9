"""The index client: what package indexes list, and the files they serve.

`IndexClient` is the seam the solver and the store use; `HttpIndexClient` is the implementation
that talks to real indexes (HTTP(S) and `file://` PEP 503 trees).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from envlock.display import redact_url
from envlock.index.errors import ArtifactNotFound, ProjectNotFound

if TYPE_CHECKING:
    from packaging.version import Version

    from envlock.index.client import HttpIndexClient, project_url
    from envlock.index.model import DownloadProgress, IndexFile, ProjectPage


def __getattr__(name: str) -> Any:
    # The HTTP implementation (and httpx) loads only when used: `check`, `show` and `diff` never
    # touch the network and start faster without it. The model (and packaging's wheel tags) loads
    # when first used too: `solve` starts uv before it needs them (envlock.index.auth is imported then).
    if name in ("HttpIndexClient", "project_url"):
        from envlock.index import client

        return getattr(client, name)
    if name in ("DownloadProgress", "IndexFile", "ProjectPage"):
        from envlock.index import model

        return getattr(model, name)
    raise AttributeError(name)


class IndexClient(Protocol):
    """Reads project pages and files from package indexes."""

    def project(self, index_url: str, name: str) -> ProjectPage:
        """The files `index_url` lists for project `name`; ProjectNotFound if it has none."""
        ...

    def release(self, index_url: str, name: str, version: Version) -> ProjectPage:
        """Like `project`, with only the files of `version` (whose `IndexFile.version` equals it)."""
        ...

    def file_info(self, url: str) -> tuple[int, str | None]:
        """`(size, sha256 declared by the server or None)` without downloading the file."""
        ...

    def document(self, url: str) -> bytes:
        """The body of a document such as a JSON manifest or a directory listing."""
        ...

    def download(
        self,
        url: str,
        dest: Path,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        progress: DownloadProgress | None = None,
    ) -> tuple[str, int]:
        """Download `url` to `dest` atomically; return `(sha256 hex, size)`. With `expected_size`
        the transfer stops once it passes that size (IntegrityError)."""
        ...


__all__ = [
    "ArtifactNotFound",
    "DownloadProgress",
    "HttpIndexClient",
    "IndexClient",
    "IndexFile",
    "ProjectNotFound",
    "ProjectPage",
    "project_url",
    "redact_url",
]
