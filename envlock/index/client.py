"""The HTTP index client: simple-API pages (JSON first, HTML fallback), file sizes and downloads.

This is the one place in envlock that touches the network. It retries what a retry may cure
(5xx, 429, connection errors, timeouts) with exponential backoff, keeps an on-disk cache of pages
(used while fresh, then revalidated: `envlock.index.cache`), answers from that cache alone when
offline, and sends
credentials from URL userinfo or netrc without ever letting them into a URL it returns, a message
or a log line. One instance may be shared by the threads of a `ThreadPoolExecutor`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import html
import logging
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx
from packaging.utils import canonicalize_name
from packaging.version import Version

from envlock import __version__
from envlock.display import redact_url
from envlock.errors import IndexCredentialsError, IndexFormatError, IntegrityError, NetworkError
from envlock.index.auth import CredentialStore
from envlock.index.cache import CachedResponse, HttpCache, max_age_of
from envlock.index.errors import ArtifactNotFound, ProjectNotFound
from envlock.index.model import DownloadProgress, ProjectPage
from envlock.index.parse import ACCEPT, ParsedPage, parse_html_page, parse_page
from envlock.index.releases import Release, ReleaseCache
from envlock.userfiles import default_cache_root

if TYPE_CHECKING:
    from envlock.index.ranged import RangedFile

log = logging.getLogger("envlock.index")

"""Called with (bytes received so far, total bytes or None) while a download runs."""

_CHUNK = 1 << 20
_SERIAL_HEADER = "X-PyPI-Last-Serial"
_CHECKSUM_HEADER = "X-Checksum-Sha256"  # Artifactory and Nexus declare the sha256 of a file this way


def index_base(index_url: str) -> str:
    """The index URL with exactly one trailing slash."""
    return index_url.rstrip("/") + "/"


def project_url(index_url: str, name: str) -> str:
    """`<index>/<normalized-name>/` (PEP 503)."""
    return f"{index_base(index_url)}{canonicalize_name(name)}/"


_NOT_FOUND_TYPE = "x-envlock/not-found"  # a cached 404


class _Retry(Exception):
    """A failed try that a later try may cure; `reason` says what happened."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class HttpIndexClient:
    """An `IndexClient` over HTTP(S) and `file://` directories laid out as PEP 503 trees."""

    def __init__(
        self,
        cache_dir: Path | None = None,
        offline: bool = False,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 30.0,
        *,
        netrc_file: Path | None = None,
        refresh: bool = False,
        lazy_connect: bool = False,
    ) -> None:
        """`retries` counts the tries after the first; the n-th retry waits `backoff * 2**(n-1)` s.

        `refresh` asks the index again for every page, however fresh the cached copy is.
        `lazy_connect` makes the HTTP client on the first request instead of here.
        """
        self._cache = HttpCache(cache_dir if cache_dir is not None else default_cache_root())
        self._releases = ReleaseCache(cache_dir if cache_dir is not None else default_cache_root())
        self._offline = offline
        self._refresh = refresh
        self._retries = max(0, retries)
        self._backoff = backoff
        self._timeout = timeout
        self._credentials = CredentialStore(netrc_file)
        self._file_deadline = _seconds_from_env(ENV_FILE_DEADLINE)
        self._total_deadline = _seconds_from_env(ENV_TOTAL_DEADLINE) or _TOTAL_DEADLINE
        self._started: float | None = None  # when the first download began (the total deadline's start)
        # With lazy_connect, made on the first request: a solve whose pages are all fresh in the
        # cache sends none, and creating the client (TLS context, httpcore's imports) costs ~0.25 s.
        # Installs make it up front, before their downloads start.
        self._http_client: httpx.Client | None = None
        self._http_lock = threading.Lock()
        if not lazy_connect:
            self._http_client = self._new_http()

    @property
    def _http(self) -> httpx.Client:
        with self._http_lock:
            if self._http_client is None:
                self._http_client = self._new_http()
            return self._http_client

    def _new_http(self) -> httpx.Client:
        return httpx.Client(
            timeout=self._timeout, follow_redirects=True, headers={"User-Agent": f"envlock/{__version__}"}
        )

    def close(self) -> None:
        with self._http_lock:
            if self._http_client is not None:
                self._http_client.close()

    def __enter__(self) -> HttpIndexClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------ project pages

    def project(self, index_url: str, name: str) -> ProjectPage:
        """The files `index_url` lists for `name`; raises ProjectNotFound on 404."""
        base, normalized, url = self._project_url(index_url, name)
        if urlsplit(url).scheme == "file":
            return self._local_project(base, normalized, url)
        entry, parsed = self._page(url, index=base, name=normalized)
        serial = parsed.serial if parsed.serial is not None else entry.serial
        log.debug("%s: %d files", url, len(parsed.files))
        return ProjectPage(index=base, name=normalized, files=parsed.files, serial=serial)

    def release(self, index_url: str, name: str, version: Version) -> ProjectPage:
        """The files of `name` `version` on `index_url` (the rest of the page is not read)."""
        base, normalized, url = self._project_url(index_url, name)
        if urlsplit(url).scheme == "file":
            return self._local_project(base, normalized, url, version=version)
        known = self._known_release(url, version)
        if known is not None:
            return ProjectPage(index=base, name=normalized, files=known.files, serial=known.serial)
        entry, parsed = self._page(
            url,
            index=base,
            name=normalized,
            version=version,
            reuse_parsed=lambda page: self._stored_release(url, version, page),
        )
        if not parsed.files and not self._offline and not self._refresh:
            # The resolver (with its own cache) may have seen a release published since this page
            # was cached: a release missing from a page still fresh asks the index again.
            entry, parsed = self._page(url, index=base, name=normalized, version=version, use_fresh=False)
        serial = parsed.serial if parsed.serial is not None else entry.serial
        self._remember_release(url, version, entry, Release(files=parsed.files, serial=serial))
        return ProjectPage(index=base, name=normalized, files=parsed.files, serial=serial)

    def _project_url(self, index_url: str, name: str) -> tuple[str, str, str]:
        """The index's base URL (its credentials remembered for later requests), the normalized
        project name, and the URL of the project's page."""
        base = index_base(self._credentials.remember(index_url))
        normalized = canonicalize_name(name)
        return base, normalized, project_url(base, normalized)

    def _known_release(self, url: str, version: Version) -> Release | None:
        """The release as extracted earlier from the stored page, if that page may be used as is."""
        if self._refresh:
            return None
        peeked = self._cache.peek(url)
        if peeked is None:
            return None
        page, size = peeked
        if page.content_type == _NOT_FOUND_TYPE:
            return None
        if not self._offline and not page.fresh(time.time()):
            return None
        release = self._releases.get(url, version, page, size)
        return release if release is not None and release.files else None

    def _stored_release(self, url: str, version: Version, page: CachedResponse) -> ParsedPage | None:
        """The release as extracted earlier from `page`, the stored page (revalidated: not modified)."""
        peeked = self._cache.peek(url)
        if peeked is None or (peeked[0].fetched_at, peeked[0].etag) != (page.fetched_at, page.etag):
            return None
        release = self._releases.get(url, version, peeked[0], peeked[1])
        if release is None or not release.files:
            return None
        return ParsedPage(files=release.files, serial=release.serial)

    def _remember_release(
        self, url: str, version: Version, parsed_from: CachedResponse, release: Release
    ) -> None:
        peeked = self._cache.peek(url)
        if peeked is None:
            return
        page, size = peeked
        # Only when the stored page is the one just read (another process may have replaced it).
        if (page.fetched_at, page.etag) == (parsed_from.fetched_at, parsed_from.etag):
            self._releases.put(url, version, page, size, release)

    def _local_project(
        self, base: str, name: str, url: str, *, version: Version | None = None
    ) -> ProjectPage:
        page = _file_path(url) / "index.html"
        try:
            body = page.read_bytes()
        except FileNotFoundError:
            raise _not_found(name, base) from None
        except OSError as exc:
            raise NetworkError(
                f"cannot read {page.name} of {url}: {exc.strerror}",
                hint="check the permissions of the local index directory",
                details={"url": url},
            ) from exc
        parsed = parse_html_page(body, url=url, version=version)
        return ProjectPage(index=base, name=name, files=parsed.files, serial=parsed.serial)

    def _page(
        self,
        url: str,
        *,
        index: str,
        name: str,
        version: Version | None = None,
        use_fresh: bool = True,
        reuse_parsed: Callable[[CachedResponse], ParsedPage | None] | None = None,
    ) -> tuple[CachedResponse, ParsedPage]:
        """The page at `url` and its files (of `version` only, when given).

        `reuse_parsed` may answer for a stored page that is used as it is (fresh, offline, or
        not modified), instead of parsing it again.
        """

        def reuse(entry: CachedResponse) -> ParsedPage:
            known = reuse_parsed(entry) if reuse_parsed is not None else None
            return known if known is not None else _parse_entry(entry, version)

        cached = self._cache.get(url)
        if self._offline:
            if cached is None:
                raise _offline_miss(url)
            if cached.content_type == _NOT_FOUND_TYPE:
                raise _not_found(name, index)
            return cached, reuse(cached)
        if cached is not None and cached.content_type == _NOT_FOUND_TYPE:
            cached = None
        if cached is not None and use_fresh and not self._refresh and cached.fresh(time.time()):
            log.debug("%s: fresh in the cache", redact_url(url))
            return cached, reuse(cached)
        headers = {"Accept": ACCEPT, **_revalidation(cached)}
        response = self._send("GET", url, headers=headers)
        if response.status_code == 304 and cached is not None:
            log.debug("%s: not modified", redact_url(url))
            max_age = max_age_of(response.headers.get("Cache-Control"))
            if max_age is not None:
                # Fresh again for max-age from now: stored so that the next solve need not ask.
                cached = dataclasses.replace(cached, fetched_at=time.time(), max_age=max_age)
                self._cache.put(cached)
            return cached, reuse(cached)
        if response.status_code == 404:
            # Remembered so that --offline can answer "no such project" too (variant indexes
            # without a project are common); online, a 404 is always asked again.
            self._cache.put(
                CachedResponse(
                    url=redact_url(url),
                    body=b"",
                    content_type=_NOT_FOUND_TYPE,
                    etag=None,
                    last_modified=None,
                    serial=None,
                    fetched_at=time.time(),
                )
            )
            raise _not_found(name, index)
        _raise_for_client_error(response, url)
        if response.status_code != 200:
            raise IndexFormatError(
                f"{redact_url(url)} answered HTTP {response.status_code} instead of a page",
                hint="the index or a proxy in between is misbehaving; retry later or use another mirror",
                details={"url": redact_url(url), "status": response.status_code},
            )
        serial_text = response.headers.get(_SERIAL_HEADER, "")
        entry = CachedResponse(
            url=redact_url(str(response.url)),
            body=response.content,
            content_type=response.headers.get("Content-Type"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            serial=int(serial_text) if serial_text.isdigit() else None,
            fetched_at=time.time(),
            max_age=max_age_of(response.headers.get("Cache-Control")),
        )
        # Parse before caching: a garbage answer must not replace a good cached page.
        parsed = _parse_entry(entry, version)
        self._cache.put(_keyed(entry, url))
        return entry, parsed

    # --------------------------------------------------------------------------------- documents

    def document(self, url: str) -> bytes:
        """The body of `url` (a JSON manifest, a directory listing), through the page cache.

        A `file://` directory URL gives a small HTML listing of the directory's files, so that a
        local mirror reads like a web server's listing. Raises ArtifactNotFound on 404.
        """
        if urlsplit(url).scheme == "file":
            return _local_document(url)
        cached = self._cache.get(url)
        if self._offline:
            if cached is None or cached.content_type == _NOT_FOUND_TYPE:
                raise _offline_miss(url)
            return cached.body
        stored = cached if cached is not None and cached.content_type != _NOT_FOUND_TYPE else None
        headers = {"Accept": "*/*", "Accept-Encoding": "identity", **_revalidation(stored)}
        response = self._send("GET", url, headers=headers)
        if response.status_code == 304 and cached is not None:
            return cached.body
        if response.status_code == 404:
            raise _artifact_not_found(url)
        _raise_for_client_error(response, url)
        if response.status_code != 200:
            raise IndexFormatError(
                f"{redact_url(url)} answered HTTP {response.status_code}",
                hint="the server or a proxy in between is misbehaving; retry later or use a mirror",
                details={"url": redact_url(url), "status": response.status_code},
            )
        self._cache.put(
            CachedResponse(
                url=redact_url(url),
                body=response.content,
                content_type=response.headers.get("Content-Type"),
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                serial=None,
                fetched_at=time.time(),
            )
        )
        return response.content

    # ------------------------------------------------------------------------------------- files

    def file_info(self, url: str) -> tuple[int, str | None]:
        """`(size in bytes, sha256 the server declares in X-Checksum-Sha256 or None)` from a HEAD request."""
        if urlsplit(url).scheme == "file":
            path = _file_path(url)
            try:
                return path.stat().st_size, None
            except FileNotFoundError:
                raise _artifact_not_found(url) from None
        if self._offline:
            raise _offline_miss(url)
        response = self._send("HEAD", url, headers={"Accept-Encoding": "identity"})
        if response.status_code == 404:
            raise _artifact_not_found(url)
        _raise_for_client_error(response, url)
        length = response.headers.get("Content-Length", "")
        if not length.isdigit():
            raise IndexFormatError(
                f"{redact_url(url)} gave no Content-Length for a HEAD request",
                hint="envlock will have to download the file to learn its size",
                details={"url": redact_url(url)},
            )
        declared = response.headers.get(_CHECKSUM_HEADER)
        return int(length), (declared.lower() if declared else None)

    def download(
        self,
        url: str,
        dest: Path,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        progress: DownloadProgress | None = None,
    ) -> tuple[str, int]:
        """Stream `url` into `dest` and return `(sha256 hex, size)`.

        The bytes go to a temporary file beside `dest`, which is renamed into place only when
        complete and, if `expected_sha256` is given, matching; otherwise the partial file is
        deleted and IntegrityError (mismatch) or NetworkError (transfer failed) is raised.
        With `expected_size` the transfer stops as soon as it passes that size (IntegrityError).
        The bytes are taken as sent (identity encoding: nothing is decompressed), and one file
        gets `file_deadline` seconds over all its tries, the whole client `total_deadline`
        (NetworkError, exit 3, when either passes).
        """
        _check_scheme(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if urlsplit(url).scheme == "file":
            return self._finish(
                self._copy_local(url, dest, progress, expected_size), url, dest, expected_sha256
            )
        if self._offline:
            raise _offline_miss(url)
        deadline = self._deadline_for(url, expected_size)
        reasons: list[str] = []
        for attempt in range(self._retries + 1):
            try:
                result = self._stream_once(url, dest, progress, expected_size, deadline)
            except _Retry as retry:
                reasons.append(retry.reason)
                if attempt < self._retries:
                    self._sleep(attempt, retry.delay)
                continue
            return self._finish(result, url, dest, expected_sha256)
        raise _gave_up(url, reasons)

    def _deadline_for(self, url: str, expected_size: int | None) -> _Deadline:
        now = time.monotonic()
        if self._started is None:
            self._started = now
        per_file = self._file_deadline
        if per_file is None:
            per_file = _FILE_GRACE + (expected_size or _UNKNOWN_SIZE) / _SLOWEST_RATE
        return _Deadline(
            url=url,
            file_at=now + per_file,
            file_seconds=per_file,
            total_at=self._started + self._total_deadline,
            total_seconds=self._total_deadline,
        )

    def _stream_once(
        self,
        url: str,
        dest: Path,
        progress: DownloadProgress | None,
        expected_size: int | None,
        deadline: _Deadline,
    ) -> tuple[Path, str, int]:
        deadline.check()
        with self._temp_for(dest) as (handle, temp):
            try:
                with self._http.stream(
                    "GET", url, headers={"Accept-Encoding": "identity"}, auth=self._auth(url)
                ) as response:
                    _check_retryable(response)
                    if response.status_code == 404:
                        raise _artifact_not_found(url)
                    _raise_for_client_error(response, url)
                    length = response.headers.get("Content-Length", "")
                    total = int(length) if length.isdigit() else None
                    if total is not None and expected_size is not None and total > expected_size:
                        raise _too_large(url, expected_size, f"announces {total} bytes")
                    digest = hashlib.sha256()
                    received = 0
                    # iter_raw: the bytes as sent. A server that gzips anyway gives bytes whose
                    # sha256 differs (an integrity error), never a decompression bomb.
                    for chunk in response.iter_raw():  # no chunk size: httpx would gather 1 MiB first
                        received += len(chunk)
                        if expected_size is not None and received > expected_size:
                            raise _too_large(url, expected_size, f"sent more than {expected_size} bytes")
                        handle.write(chunk)
                        digest.update(chunk)
                        if progress is not None:
                            progress(received, total)
                        deadline.check()
            except httpx.TimeoutException as exc:
                deadline.check()
                raise _Retry(f"timed out after {self._timeout:g} s") from exc
            except httpx.TooManyRedirects as exc:
                raise _redirect_loop(url) from exc
            except httpx.UnsupportedProtocol as exc:
                raise _unsupported_redirect(url, exc) from exc
            except httpx.TransportError as exc:
                deadline.check()
                raise _Retry(f"transfer failed ({type(exc).__name__})") from exc
            if total is not None and received != total:
                raise _Retry(f"truncated: got {received} of {total} bytes")
            handle.flush()
            return temp, digest.hexdigest(), received

    def _copy_local(
        self, url: str, dest: Path, progress: DownloadProgress | None, expected_size: int | None
    ) -> tuple[Path, str, int]:
        source = _file_path(url)
        try:
            st = source.stat()
        except FileNotFoundError:
            raise _artifact_not_found(url) from None
        except OSError as exc:
            raise _unreadable(url, exc) from None
        if not stat.S_ISREG(st.st_mode):
            raise IntegrityError(
                f"{redact_url(url)} is not a regular file (a directory, device or FIFO)",
                hint="a file:// URL must name a file; re-solve the lock against the real index",
                details={"url": redact_url(url)},
            )
        with self._temp_for(dest) as (handle, temp):
            digest = hashlib.sha256()
            received = 0
            try:
                reader = source.open("rb")
            except FileNotFoundError:
                raise _artifact_not_found(url) from None
            except OSError as exc:
                raise _unreadable(url, exc) from None
            with reader:
                while chunk := reader.read(_CHUNK):
                    received += len(chunk)
                    if expected_size is not None and received > expected_size:
                        raise _too_large(url, expected_size, f"holds more than {expected_size} bytes")
                    handle.write(chunk)
                    digest.update(chunk)
                    if progress is not None:
                        progress(received, None)
            handle.flush()
            return temp, digest.hexdigest(), received

    @contextlib.contextmanager
    def _temp_for(self, dest: Path) -> Iterator[tuple[BinaryIO, Path]]:
        """A temporary file beside `dest`; deleted unless the caller renames it away first."""
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        temp = Path(name)
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle, temp
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise

    def _finish(
        self, result: tuple[Path, str, int], url: str, dest: Path, expected_sha256: str | None
    ) -> tuple[str, int]:
        temp, digest, size = result
        if expected_sha256 is not None and digest != expected_sha256.lower():
            with contextlib.suppress(OSError):
                temp.unlink()
            raise IntegrityError(
                f"{redact_url(url)} does not match its expected sha256 "
                f"(expected {expected_sha256.lower()}, got {digest})",
                hint="the file on the index changed or the transfer was tampered with; "
                "do not install it; re-solve if the index really replaced the file",
                details={"url": redact_url(url), "expected": expected_sha256.lower(), "actual": digest},
            )
        temp.replace(dest)
        return digest, size

    def ranged(self, url: str) -> RangedFile:
        """Random access to the file at `url` by HTTP range requests (see `envlock.index.ranged`)."""
        from envlock.index.ranged import RangedFile

        return RangedFile(self, url)

    @contextlib.contextmanager
    def stream_get(self, url: str, *, headers: dict[str, str]) -> Iterator[httpx.Response]:
        """One GET whose body is read only if the caller reads it (ranged reads stop a 200 at once)."""
        if self._offline:
            raise _offline_miss(url)
        with self._http.stream("GET", url, headers=headers, auth=self._auth(url)) as response:
            if response.status_code == 404:
                raise _artifact_not_found(url)
            _raise_for_client_error(response, url)
            yield response

    # ---------------------------------------------------------------------------------- requests

    def _auth(self, url: str) -> httpx.BasicAuth | None:
        credentials = self._credentials.for_url(url)
        if credentials is None:
            return None
        return httpx.BasicAuth(credentials.username, credentials.password)

    def _send(self, method: str, url: str, *, headers: dict[str, str]) -> httpx.Response:
        """One request with retries; returns the first answer that a retry would not change."""
        _check_scheme(url)
        reasons: list[str] = []
        for attempt in range(self._retries + 1):
            try:
                response = self._http.request(method, url, headers=headers, auth=self._auth(url))
                _check_retryable(response)
                return response
            except httpx.TooManyRedirects as exc:
                raise _redirect_loop(url) from exc
            except httpx.UnsupportedProtocol as exc:
                raise _unsupported_redirect(url, exc) from exc
            except httpx.TimeoutException:
                reasons.append(f"timed out after {self._timeout:g} s")
            except httpx.TransportError as exc:
                reasons.append(f"connection failed ({type(exc).__name__})")
            except _Retry as retry:
                reasons.append(retry.reason)
                if attempt < self._retries:
                    self._sleep(attempt, retry.delay)
                continue
            if attempt < self._retries:
                self._sleep(attempt, None)
        raise _gave_up(url, reasons)

    def _sleep(self, attempt: int, server_delay: float | None) -> None:
        delay = self._backoff * (2**attempt)
        if server_delay is not None:
            delay = max(delay, min(server_delay, 60.0))
        if delay > 0:
            time.sleep(delay)


# ------------------------------------------------------------------------------------ helpers

# Deadlines. httpx's timeout bounds each read, not a transfer: a server sending one byte a second
# is never "timed out". One file gets ENVLOCK_DOWNLOAD_FILE_DEADLINE seconds over all its tries
# (default: 10 minutes plus its size at 256 KiB/s), all downloads of one command
# ENVLOCK_DOWNLOAD_DEADLINE seconds (default 6 hours).
ENV_FILE_DEADLINE = "ENVLOCK_DOWNLOAD_FILE_DEADLINE"
ENV_TOTAL_DEADLINE = "ENVLOCK_DOWNLOAD_DEADLINE"
_FILE_GRACE = 600.0
_SLOWEST_RATE = 256 * 1024.0
_UNKNOWN_SIZE = 4 << 30  # a file whose size nobody told us is given the time of a large wheel
_TOTAL_DEADLINE = 6 * 3600.0


def _seconds_from_env(name: str) -> float | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        from envlock.errors import UsageError

        raise UsageError(
            f"{name}={text!r}: expected a number of seconds above 0", hint=f"unset {name} or fix it"
        )
    return value


class _Deadline:
    """When the current file, and all downloads, must be done."""

    def __init__(
        self, *, url: str, file_at: float, file_seconds: float, total_at: float, total_seconds: float
    ) -> None:
        self.url = url
        self.file_at = file_at
        self.file_seconds = file_seconds
        self.total_at = total_at
        self.total_seconds = total_seconds

    def check(self) -> None:
        now = time.monotonic()
        if now <= self.file_at and now <= self.total_at:
            return
        where = redact_url(self.url)
        if now > self.file_at:
            what, seconds, knob = "this file", self.file_seconds, ENV_FILE_DEADLINE
        else:
            what, seconds, knob = "all downloads", self.total_seconds, ENV_TOTAL_DEADLINE
        raise NetworkError(
            f"{where}: download not finished within the deadline for {what} ({seconds:g} s)",
            hint=f"the server is too slow or stalls; retry later, or raise {knob} (seconds)",
            details={"url": where, "deadline-seconds": seconds},
        )


def _check_scheme(url: str) -> None:
    """Refuse at once (no retries) a URL envlock does not fetch: relative, javascript:, ftp:, ..."""
    from envlock.lock.validate import url_problem

    problem = url_problem(url)
    if problem is not None:
        where = redact_url(url) if "://" in url else repr(url[:200])
        raise IndexFormatError(
            f"{where}: envlock does not fetch this URL: {problem}",
            hint="envlock downloads https://, http:// and file:// URLs only; the lock or index page that "
            "gave this URL is wrong (re-solve, or fix the index)",
            details={"url": where},
        )


def _redirect_loop(url: str) -> NetworkError:
    where = redact_url(url)
    return IndexFormatError(
        f"{where}: too many redirects (a redirect loop)",
        hint="the server or a proxy in between redirects in a circle; fix it or use another mirror",
        details={"url": where},
    )


def _unsupported_redirect(url: str, exc: Exception) -> NetworkError:
    where = redact_url(url)
    return IndexFormatError(
        f"{where}: redirected to a URL envlock does not fetch ({exc})",
        hint="envlock follows redirects to http:// and https:// only; fix the server or use another mirror",
        details={"url": where},
    )


def _too_large(url: str, size: int, what: str) -> IntegrityError:
    where = redact_url(url)
    return IntegrityError(
        f"{where} {what}, but the lock pins {size} bytes; the download was stopped",
        hint="the file on the index is not the one the lock pins (or the server misbehaves); "
        "nothing was installed; re-solve if the index really replaced the file",
        details={"url": where, "expected-size": size},
    )


def _unreadable(url: str, exc: OSError) -> NetworkError:
    where = redact_url(url)
    return IndexFormatError(
        f"cannot read {where}: {exc.strerror or exc}",
        hint="check the path and its permissions",
        details={"url": where},
    )


def _revalidation(cached: CachedResponse | None) -> dict[str, str]:
    """The headers that ask the server whether the stored copy is still current (answer: 304)."""
    headers = {}
    if cached is not None and cached.etag:
        headers["If-None-Match"] = cached.etag
    if cached is not None and cached.last_modified:
        headers["If-Modified-Since"] = cached.last_modified
    return headers


def _parse_entry(entry: CachedResponse, version: Version | None = None) -> ParsedPage:
    return parse_page(entry.body, content_type=entry.content_type, url=entry.url, version=version)


def _keyed(entry: CachedResponse, request_url: str) -> CachedResponse:
    """The entry stored under the URL that was asked for (the final URL may differ after redirects)."""
    return CachedResponse(
        url=redact_url(request_url),
        body=entry.body,
        content_type=entry.content_type,
        etag=entry.etag,
        last_modified=entry.last_modified,
        serial=entry.serial,
        fetched_at=entry.fetched_at,
        max_age=entry.max_age,
    )


def _check_retryable(response: httpx.Response) -> None:
    status = response.status_code
    if status == 429 or status >= 500:
        retry_after = response.headers.get("Retry-After", "")
        delay = float(retry_after) if retry_after.isdigit() else None
        response.close()
        raise _Retry(f"HTTP {status}", delay)


def _raise_for_client_error(response: httpx.Response, url: str) -> None:
    status = response.status_code
    if status < 400:
        return
    where = redact_url(url)
    if status in (401, 403):
        raise IndexCredentialsError(
            f"{where} refused access (HTTP {status})",
            hint="give credentials in the index URL (https://user:token@host/...) or in ~/.netrc "
            "(or the file $NETRC names), and check that they are still valid",
            details={"url": where, "status": status},
        )
    raise NetworkError(
        f"{where} answered HTTP {status}",
        hint="check the index URL",
        details={"url": where, "status": status},
    )


def _gave_up(url: str, reasons: list[str]) -> NetworkError:
    where = redact_url(url)
    tries = len(reasons)
    last = reasons[-1] if reasons else "no answer"
    return NetworkError(
        f"{where} failed after {tries} {'try' if tries == 1 else 'tries'}: {last}",
        hint="the index may be down or unreachable; retry later, "
        "or use --offline with a warm cache or a bundle",
        details={"url": where, "tries": tries, "reasons": list(reasons)},
    )


def _offline_miss(url: str) -> NetworkError:
    where = redact_url(url)
    return NetworkError(
        f"{where} is not in the cache and --offline was given",
        hint="run once online to fill the cache, or install from a bundle made by `envlock fetch`",
        details={"url": where},
    )


def _not_found(name: str, index: str) -> ProjectNotFound:
    return ProjectNotFound(
        f"project {name!r} was not found on {redact_url(index)}",
        hint="check the spelling of the project name and the index URL",
        details={"project": name, "index": redact_url(index)},
    )


def _artifact_not_found(url: str) -> ArtifactNotFound:
    where = redact_url(url)
    return ArtifactNotFound(
        f"{where} does not exist (HTTP 404)",
        hint="the index no longer serves this file; re-solve to pick one it does serve, "
        "or install from a bundle that still holds it",
        details={"url": where},
    )


def _local_document(url: str) -> bytes:
    path = _file_path(url)
    try:
        if path.is_dir():
            links = "".join(
                f'<a href="{html.escape(p.name)}">{html.escape(p.name)}</a>\n'
                for p in sorted(path.iterdir())
                if p.is_file()
            )
            return f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode()
        return path.read_bytes()
    except FileNotFoundError:
        raise _artifact_not_found(url) from None
    except OSError as exc:
        raise NetworkError(
            f"cannot read {url}: {exc.strerror}",
            hint="check the path and permissions of the local directory",
            details={"url": url},
        ) from exc


def _file_path(url: str) -> Path:
    return Path(url2pathname(urlsplit(url).path))
