"""An on-disk HTTP cache of index pages: fresh for a while, then revalidated or fetched again.

How long a stored page is used without asking the index (`fresh`): as long as the index's
`Cache-Control: max-age` said; without one, a page that came with an ETag or Last-Modified is
revalidated on every use (a 304 sends no body again), and a page without any validator (the real
default index sends none) is used for `DEFAULT_FRESHNESS` seconds, then downloaded again.
`envlock solve --refresh` asks again for every page.

One file per URL, named by the sha256 of the redacted URL: a JSON header line, then the body.
Writes go to a temporary file in the same directory and are renamed into place, so a reader never
sees half an entry, even with many processes sharing the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from envlock.display import redact_url
from envlock.userfiles import write_atomic

CACHE_LAYOUT = "http-v1"

# Ten minutes: what the large public indexes announce for their project pages where they send
# Cache-Control at all, and what uv then honours; a release published since is seen after that.
DEFAULT_FRESHNESS = 600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedResponse:
    """A stored page with what is needed to revalidate it."""

    url: str  # redacted
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    serial: int | None
    fetched_at: float  # seconds since the epoch: when the body was last known to be current
    max_age: float | None = None  # Cache-Control max-age the index sent (0 for no-cache/no-store)

    def fresh(self, now: float) -> bool:
        """Whether this page may be used at `now` without asking the index (see the module doc)."""
        if self.max_age is not None:
            lifetime = self.max_age
        elif self.etag or self.last_modified:
            return False
        else:
            lifetime = DEFAULT_FRESHNESS
        return 0.0 <= now - self.fetched_at < lifetime


def max_age_of(cache_control: str | None) -> float | None:
    """The freshness lifetime a Cache-Control header value gives, or None when it gives none."""
    if not cache_control:
        return None
    max_age: float | None = None
    for directive in cache_control.lower().split(","):
        name, _, value = directive.strip().partition("=")
        value = value.strip().strip('"')
        if name in ("no-cache", "no-store"):
            return 0.0
        if name == "max-age" and value.isdigit():
            max_age = float(value)
    return max_age


class HttpCache:
    """Stores and finds `CachedResponse`s under `<root>/http-v1/`."""

    def __init__(self, root: Path) -> None:
        self.directory = root / CACHE_LAYOUT

    def _path(self, url: str) -> Path:
        key = hashlib.sha256(redact_url(url).encode()).hexdigest()
        return self.directory / key[:2] / key

    def peek(self, url: str) -> tuple[CachedResponse, int] | None:
        """The stored response for `url` without its body (`body` is empty), and the entry's size
        in bytes, which with `fetched_at` tells one stored body from another; None if unreadable."""
        path = self._path(url)
        try:
            with path.open("rb") as handle:
                header = handle.readline()
                size = os.fstat(handle.fileno()).st_size
        except OSError:
            return None
        if not header.endswith(b"\n"):
            return None
        entry = self._entry(url, header, b"")
        return None if entry is None else (entry, size)

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
        return self._entry(url, header, body)

    @staticmethod
    def _entry(url: str, header: bytes, body: bytes) -> CachedResponse | None:
        try:
            meta = json.loads(header)
        except ValueError:
            return None
        if not isinstance(meta, dict) or meta.get("url") != redact_url(url):
            return None
        serial = meta.get("serial")
        max_age = meta.get("max-age")
        return CachedResponse(
            url=meta["url"],
            body=body,
            content_type=meta.get("content-type"),
            etag=meta.get("etag"),
            last_modified=meta.get("last-modified"),
            serial=serial if isinstance(serial, int) else None,
            fetched_at=float(meta.get("fetched-at", 0.0)),
            max_age=float(max_age) if isinstance(max_age, (int, float)) else None,
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
                "max-age": entry.max_age,
            },
            sort_keys=True,
        ).encode()
        with contextlib.suppress(OSError):
            write_atomic(path, header + b"\n" + entry.body, private=True)
