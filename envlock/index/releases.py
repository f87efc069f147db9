"""The files of one release, kept beside a cached page, so that an unchanged page is not parsed again.

A project page of a popular package is megabytes of JSON; a solve needs the few entries of the
version it locks. Those entries are stored under `<cache>/releases-v1/`, each with a stamp of
the stored page they came from (when it was fetched, its validators and its size): an extract
is used only while the page entry it came from is still the one in the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from envlock.display import redact_url
from envlock.index.cache import CachedResponse
from envlock.index.model import IndexFile
from envlock.userfiles import write_atomic

RELEASES_LAYOUT = "releases-v1"


@dataclass(frozen=True, slots=True, kw_only=True)
class Release:
    """The files of one version on one page, and the serial the page declared."""

    files: tuple[IndexFile, ...]
    serial: int | None


def _stamp(entry: CachedResponse, size: int) -> list[object]:
    return [entry.fetched_at, entry.etag, entry.last_modified, size]


def _file_json(f: IndexFile) -> dict[str, object]:
    return {
        "filename": f.filename,
        "url": f.url,
        "hashes": [list(pair) for pair in f.hashes],
        "requires-python": f.requires_python,
        "yanked": f.yanked,
        "yanked-reason": f.yanked_reason,
        "size": f.size,
        "upload-time": f.upload_time,
        "core-metadata": f.core_metadata,
    }


def _file_of(raw: dict[str, object]) -> IndexFile:
    hashes = raw["hashes"]
    size = raw["size"]
    return IndexFile(
        filename=str(raw["filename"]),
        url=str(raw["url"]),
        hashes=tuple((str(a), str(d)) for a, d in hashes) if isinstance(hashes, list) else (),
        requires_python=_text(raw["requires-python"]),
        yanked=bool(raw["yanked"]),
        yanked_reason=_text(raw["yanked-reason"]),
        size=size if isinstance(size, int) else None,
        upload_time=_text(raw["upload-time"]),
        core_metadata=bool(raw["core-metadata"]),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


class ReleaseCache:
    """Stores and finds `Release`s under `<root>/releases-v1/`, keyed by page URL and version."""

    def __init__(self, root: Path) -> None:
        self.directory = root / RELEASES_LAYOUT

    def _path(self, url: str, version: Version) -> Path:
        key = hashlib.sha256(f"{redact_url(url)}\n{version}".encode()).hexdigest()
        return self.directory / key[:2] / key

    def get(self, url: str, version: Version, page: CachedResponse, size: int) -> Release | None:
        """The release extracted from exactly the stored page `page` (of `size` bytes), or None."""
        try:
            document = json.loads(self._path(url, version).read_bytes())
            if document["stamp"] != _stamp(page, size) or document["url"] != redact_url(url):
                return None
            serial = document["serial"]
            return Release(
                files=tuple(_file_of(raw) for raw in document["files"]),
                serial=serial if isinstance(serial, int) else None,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, url: str, version: Version, page: CachedResponse, size: int, release: Release) -> None:
        """Store `release` as extracted from `page`; a cache that cannot be written is skipped."""
        path = self._path(url, version)
        document = {
            "url": redact_url(url),
            "version": str(version),
            "stamp": _stamp(page, size),
            "serial": release.serial,
            "files": [_file_json(f) for f in release.files],
        }
        with contextlib.suppress(OSError):
            write_atomic(path, json.dumps(document, sort_keys=True).encode(), private=True)
