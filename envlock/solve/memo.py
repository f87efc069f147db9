"""An index client wrapper that answers each project page once per solve.

Many targets ask the same variant indexes for the same pages; within one solve the answer
cannot change, so it is fetched once (and still goes through the HTTP cache underneath).
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from packaging.version import Version

from envlock.index import IndexClient
from envlock.index.model import ProjectPage

_PREFETCHERS = 8  # threads that fetch releases ahead of `release()` calls


class MemoClient:
    """Delegates to `inner`, remembering `project()` and `release()` answers (and errors) for the session."""

    def __init__(self, inner: IndexClient) -> None:
        self._inner = inner
        self._pages: dict[tuple[str, str], Future[ProjectPage]] = {}
        self._releases: dict[tuple[str, str, Version], Future[ProjectPage]] = {}
        self._documents: dict[tuple[str, str], Future[bytes]] = {}
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, str, Version]] = deque()  # releases to prefetch
        self._prefetchers = 0  # threads working through `_queue`

    def project(self, index_url: str, name: str) -> ProjectPage:
        key = (index_url, name)
        with self._lock:
            future = self._pages.get(key)
            owner = future is None
            if future is None:
                future = Future()
                self._pages[key] = future
        if owner:
            try:
                future.set_result(self._inner.project(index_url, name))
            except BaseException as exc:
                future.set_exception(exc)
        return future.result()

    def release(self, index_url: str, name: str, version: Version) -> ProjectPage:
        key = (index_url, name, version)
        with self._lock:
            whole = self._pages.get((index_url, name))
            future = self._releases.get(key)
            owner = future is None
            if future is None:
                future = Future()
                self._releases[key] = future
        if owner:
            try:
                future.set_result(self._release(index_url, name, version, whole))
            except BaseException as exc:
                future.set_exception(exc)
        return future.result()

    def _release(
        self, index_url: str, name: str, version: Version, whole: Future[ProjectPage] | None
    ) -> ProjectPage:
        if whole is not None:
            # The page was read whole already (a variant's torch page): filter that, unless the
            # release is missing from it (the index client then asks the index again).
            page = whole.result()
            files = tuple(f for f in page.files if f.version == version)
            if files:
                return ProjectPage(index=page.index, name=page.name, files=files, serial=page.serial)
        return self._inner.release(index_url, name, version)

    def prefetch(self, pages: Iterable[tuple[str, str]]) -> None:
        """Fetch these (index URL, project) pages in parallel; answers and errors are kept."""
        todo = [p for p in dict.fromkeys(pages) if p not in self._pages]
        if len(todo) < 2:
            return
        with ThreadPoolExecutor(max_workers=min(8, len(todo)), thread_name_prefix="envlock-pages") as pool:
            for future in [pool.submit(self.project, index, name) for index, name in todo]:
                with contextlib.suppress(Exception):  # remembered; raised again where it is asked for
                    future.result()

    def prefetch_releases(self, releases: Iterable[tuple[str, str, Version]]) -> None:
        """Start fetching these (index URL, project, version) releases in the background and return
        at once; answers and errors are kept for `release()`. At most `_PREFETCHERS` daemon threads
        work through what is queued (a solve that fails meanwhile does not wait for them; the cache
        writes files whole or not at all)."""
        with self._lock:
            self._queue.extend(r for r in dict.fromkeys(releases) if r not in self._releases)
            start = min(_PREFETCHERS - self._prefetchers, len(self._queue))
            self._prefetchers += max(0, start)
        for _ in range(start):
            threading.Thread(target=self._prefetch_work, name="envlock-releases", daemon=True).start()

    def _prefetch_work(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._prefetchers -= 1
                    return
                index, name, version = self._queue.popleft()
                if (index, name, version) in self._releases:
                    continue
            with contextlib.suppress(Exception):  # remembered; raised again where it is asked for
                self.release(index, name, version)

    def file_info(self, url: str) -> tuple[int, str | None]:
        return self._inner.file_info(url)

    def document(self, url: str) -> bytes:
        key = ("document", url)
        with self._lock:
            future = self._documents.get(key)
            owner = future is None
            if future is None:
                future = Future()
                self._documents[key] = future
        if owner:
            try:
                future.set_result(self._inner.document(url))
            except BaseException as exc:
                future.set_exception(exc)
        return future.result()

    def download(
        self,
        url: str,
        dest: Path,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> tuple[str, int]:
        return self._inner.download(
            url, dest, expected_sha256=expected_sha256, expected_size=expected_size, progress=progress
        )
