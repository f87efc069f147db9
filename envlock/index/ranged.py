"""Ranged reads of one remote file: the bytes `[start, end)` of a wheel without downloading all of it.

`RangedFile` answers `size` and `read(offset, length)` over HTTP `Range` requests (or a local file for
`file://` URLs), so that the zip central directory and a single member of a 1 GB torch wheel can be read
for a few MB. A server that ignores `Range` (answers 200 with the whole body) is detected on the first
request, the transfer is abandoned at once, and `RangeNotSupported` is raised: the caller falls back to
what it knew without the file. Credentials come from the index client's store, as for every request.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from envlock.display import redact_url
from envlock.errors import NetworkError
from envlock.index.fileurl import url2pathname

if TYPE_CHECKING:
    from envlock.index.client import HttpIndexClient

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class RangeNotSupported(NetworkError):
    """The server answered a ranged request with the whole file (or refused ranges)."""

    kind = "range-not-supported"


class RangedFile:
    """Random access to the file at `url`; counts the bytes it fetched (`fetched`) and its requests."""

    def __init__(self, client: HttpIndexClient, url: str) -> None:
        self._client = client
        self.url = url
        self._local = Path(url2pathname(urlsplit(url).path)) if urlsplit(url).scheme == "file" else None
        self._size: int | None = None
        self.fetched = 0
        self.requests = 0

    @property
    def size(self) -> int:
        """The file's size in bytes (learned from the first ranged answer)."""
        if self._size is None:
            if self._local is not None:
                self._size = self._local.stat().st_size
            else:
                self.tail(1)
        assert self._size is not None
        return self._size

    def tail(self, length: int) -> bytes:
        """The last `length` bytes (fewer when the file is shorter), in one request."""
        if self._local is not None:
            size = self.size
            return self.read(max(0, size - length), min(length, size))
        return self._get(f"bytes=-{length}", None)

    def read(self, offset: int, length: int) -> bytes:
        """Exactly `length` bytes from `offset`; NetworkError if the server gives fewer."""
        if length <= 0:
            return b""
        if self._local is not None:
            with self._local.open("rb") as f:
                f.seek(offset)
                data = f.read(length)
            self.fetched += len(data)
            self.requests += 1
        else:
            data = self._get(f"bytes={offset}-{offset + length - 1}", offset)
        if len(data) != length:
            raise NetworkError(
                f"{redact_url(self.url)}: a ranged read of {length} bytes at {offset} returned {len(data)}",
                hint="the file changed on the index or the transfer was cut short; retry",
                details={"url": redact_url(self.url)},
            )
        return data

    def _get(self, byte_range: str, offset: int | None) -> bytes:
        import httpx  # here, not at import: a solve that reads no wheel does not load it

        where = redact_url(self.url)
        headers = {"Range": byte_range, "Accept-Encoding": "identity"}
        self.requests += 1
        try:
            with self._client.stream_get(self.url, headers=headers) as response:
                if response.status_code == 200 or response.status_code == 416:
                    raise RangeNotSupported(
                        f"{where} does not answer HTTP range requests (HTTP {response.status_code})",
                        hint="envlock falls back to its knowledge base for this file",
                        details={"url": where},
                    )
                if response.status_code != 206:
                    raise NetworkError(
                        f"{where} answered HTTP {response.status_code} to a ranged read",
                        hint="retry later, or check the index URL",
                        details={"url": where, "status": response.status_code},
                    )
                match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
                if match is None or (offset is not None and int(match.group(1)) != offset):
                    raise RangeNotSupported(
                        f"{where} answered a ranged read without a matching Content-Range",
                        hint="envlock falls back to its knowledge base for this file",
                        details={"url": where},
                    )
                if match.group(3) != "*":
                    self._size = int(match.group(3))
                data = response.read()
        except httpx.HTTPError as exc:
            raise NetworkError(
                f"{where}: ranged read failed ({type(exc).__name__})",
                hint="retry later",
                details={"url": where},
            ) from exc
        self.fetched += len(data)
        return data
