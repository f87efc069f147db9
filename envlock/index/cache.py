"""An on-disk HTTP cache of index pages, revalidated with ETag / Last-Modified on every use.

One file per URL, named by the sha256 of the redacted URL: a JSON header line, then the body.
Writes go to a temporary file in the same directory and are renamed into place, so a reader never
sees half an entry, even with many processes sharing the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from envlock.display import redact_url

CACHE_LAYOUT = "http-v1"


def default_cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """`$ENVLOCK_CACHE_DIR`, else `$XDG_CACHE_HOME/envlock`, else `~/.cache/envlock`."""
    env = os.environ if environ is None else environ
    explicit = env.get("ENVLOCK_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = env.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "envlock"
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".cache" / "envlock"


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedResponse:
    """A stored page with what is needed to revalidate it."""

    url: str  # redacted
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    serial: int | None
    fetched_at: float  # seconds since the epoch, for diagnostics only


class HttpCache:
    """Stores and finds `CachedResponse`s under `<root>/http-v1/`."""

    def __init__(self, root: Path) -> None:
        self.directory = root / CACHE_LAYOUT

    def _path(self, url: str) -> Path:
        key = hashlib.sha256(redact_url(url).encode()).hexdigest()
        return self.directory / key[:2] / key

    def get(self, url: str) -> CachedResponse | None:
        """The stored response for `url`, or None (also when the entry is unreadable)."""
        path = self._path(url)
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        header, sep, body = raw.partition(b"\n")
        if not sep:
            return None
        try:
            meta = json.loads(header)
        except ValueError:
            return None
        if not isinstance(meta, dict) or meta.get("url") != redact_url(url):
            return None
        serial = meta.get("serial")
        return CachedResponse(
            url=meta["url"],
            body=body,
            content_type=meta.get("content-type"),
            etag=meta.get("etag"),
            last_modified=meta.get("last-modified"),
            serial=serial if isinstance(serial, int) else None,
            fetched_at=float(meta.get("fetched-at", 0.0)),
        )

    def put(self, entry: CachedResponse) -> None:
        """Store `entry` atomically; a cache that cannot be written is skipped, not fatal."""
        path = self._path(entry.url)
        header = json.dumps(
            {
                "url": redact_url(entry.url),
                "content-type": entry.content_type,
                "etag": entry.etag,
                "last-modified": entry.last_modified,
                "serial": entry.serial,
                "fetched-at": entry.fetched_at,
            },
            sort_keys=True,
        ).encode()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(header + b"\n" + entry.body)
            Path(temp).replace(path)
        except OSError:
            with contextlib.suppress(OSError):
                Path(temp).unlink()
