"""Turn a backend's resolved packages into locked packages: each file's index, size, sha256, upload time.

The index the file came from, its size, upload time and yank state are read from the index pages
themselves, from the entries of the locked release only (`IndexClient.release`: a page of
thousands of files is not read whole for the one file locked). Packages are locked in parallel.
When an index gives no sha256 for a file (download.pytorch.org leaves many without), envlock
downloads the file and hashes it, checks that against what the backend saw, and records
`hash-source = "downloaded"` in the lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envlock.display import redact_url
from envlock.errors import IntegrityError, ResolutionError
from envlock.index import IndexClient
from envlock.index.errors import ProjectNotFound
from envlock.index.model import IndexFile, ProjectPage
from envlock.lock.model import Artifact, LockedPackage
from envlock.resolvers import ResolvedFile, ResolvedPackage
from envlock.userfiles import default_cache_root, write_atomic

# Packages locked at once: their pages are fetched (and hashless files downloaded) concurrently.
MAX_PARALLEL_PACKAGES = 8


def _release(client: IndexClient, index: str, name: str, version: str) -> ProjectPage:
    """The files of one release on `index`; the whole page where `version` is no PEP 440 version."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return client.project(index, name)
    return client.release(index, name, parsed)


def _find(
    client: IndexClient, indexes: Sequence[str], name: str, version: str, filename: str
) -> tuple[str, IndexFile | None]:
    for index in indexes:
        try:
            page = _release(client, index, name, version)
            listed = next((f for f in page.files if f.filename == filename), None)
            if listed is None:
                # A backend's file whose name carries the version in another spelling.
                page = client.project(index, name)
                listed = next((f for f in page.files if f.filename == filename), None)
        except ProjectNotFound:
            continue
        if listed is not None:
            return page.index, listed
    return redact_url(indexes[0]), None


class HashMemo:
    """sha256 and size of files envlock hashed itself, by URL, in the user cache.

    A file is downloaded for hashing once; later solves (and `--offline`) reuse the result. Were
    an index to change the bytes behind a URL, installs still catch it: they verify every file.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.directory = (root or default_cache_root()) / "hashes-v1"

    def _path(self, url: str) -> Path:
        key = hashlib.sha256(url.encode()).hexdigest()
        return self.directory / key[:2] / key

    def get(self, url: str) -> tuple[str, int] | None:
        try:
            sha256, size = self._path(url).read_text().split()
            return sha256, int(size)
        except (OSError, ValueError):
            return None

    def put(self, url: str, sha256: str, size: int) -> None:
        path = self._path(url)
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs a download next time
            write_atomic(path, f"{sha256} {size}\n".encode())


# Downloads for hashing in progress, by URL: targets solved in parallel that lock the same
# hashless file (a ~1 GB torch wheel) wait for one download instead of starting their own.
_IN_FLIGHT: dict[str, Future[tuple[str, int]]] = {}
_IN_FLIGHT_LOCK = threading.Lock()


def _hash_by_download(
    client: IndexClient, url: str, filename: str, scratch: Path, memo: HashMemo
) -> tuple[str, int]:
    known = memo.get(url)
    if known:
        return known
    with _IN_FLIGHT_LOCK:
        future = _IN_FLIGHT.get(url)
        owner = future is None
        if future is None:
            future = Future()
            _IN_FLIGHT[url] = future
    if not owner:
        return future.result()
    try:
        got, got_size = client.download(url, scratch / filename)
        (scratch / filename).unlink(missing_ok=True)
        memo.put(url, got, got_size)
        future.set_result((got, got_size))
        return got, got_size
    except BaseException as exc:
        future.set_exception(exc)
        raise
    finally:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.pop(url, None)


def _artifact(
    client: IndexClient, rf: ResolvedFile, listed: IndexFile | None, scratch: Path, memo: HashMemo
) -> Artifact:
    if listed is not None and listed.yanked:
        # PEP 592: a yanked file should not be used when creating a lock, even when pinned.
        reason = f" ({listed.yanked_reason})" if listed.yanked_reason else ""
        raise ResolutionError(
            f"{rf.filename} is yanked on its index{reason}, and envlock does not lock yanked files",
            hint="require a version that is not yanked",
        )
    url = listed.url if listed else redact_url(rf.url)
    sha256 = listed.sha256 if listed else None
    size = listed.size if listed else None
    source = "index"
    if sha256 is None:
        got, got_size = _hash_by_download(client, url, rf.filename, scratch, memo)
        if rf.sha256 and rf.sha256 != got:
            raise IntegrityError(
                f"{rf.filename}: the resolver saw sha256 {rf.sha256} but the file downloaded from "
                f"{url} hashes to {got}",
                hint="the index is serving different bytes for the same file; retry, and report it to "
                "the index operator if it persists",
            )
        sha256, size, source = got, got_size, "downloaded"
    elif rf.sha256 and rf.sha256 != sha256:
        raise IntegrityError(
            f"{rf.filename}: the index lists sha256 {sha256} but the resolver saw {rf.sha256}",
            hint="the index changed while solving; retry",
        )
    if size is None:
        size = rf.size
    if size is None:
        known = memo.get(url)
        if known and known[0] == sha256:
            size = known[1]
        else:
            size = client.file_info(url)[0]
            memo.put(url, sha256, size)
    return Artifact(
        filename=rf.filename,
        url=url,
        size=size,
        sha256=sha256,
        hash_source=source,
        upload_time=(listed.upload_time if listed else None) or rf.upload_time,
        yanked=listed.yanked if listed else False,
    )


def _best_wheel(
    client: IndexClient, indexes: Sequence[str], name: str, version: str, rank: Mapping[Tag, int]
) -> ResolvedFile | None:
    """The most specific wheel of `name==version` for the target (`rank`: the target's tags, most
    specific first, by position), for backends that report no files."""
    try:
        wanted: Version | None = Version(version)
    except InvalidVersion:
        wanted = None  # no file can carry it
    for index in indexes:
        try:
            page = _release(client, index, name, version)
        except ProjectNotFound:
            continue
        fitting = []
        for f in page.files:
            if wanted is None or not f.is_wheel or f.yanked or f.version != wanted:
                continue
            # over the file's few tags: the target's hundreds of tags are looked up, not walked
            best = min((rank[t] for t in f.tags if t in rank), default=None)
            if best is not None:
                fitting.append((best, f))
        if fitting:
            f = min(fitting, key=lambda pair: (pair[0], pair[1].filename))[1]
            return ResolvedFile(url=f.url, filename=f.filename, sha256=None, size=None, upload_time=None)
    return None


def lock_packages(
    client: IndexClient,
    resolved: Sequence[ResolvedPackage],
    *,
    pinned: dict[str, str],
    indexes: Sequence[str],
    tags: Sequence[Tag],
) -> tuple[LockedPackage, ...]:
    """Locked packages, sorted by name, for a resolution (pinned projects come from their index).

    `tags` are the target's wheel tags, most specific first; they pick the file for backends
    that report only names and versions.
    """
    memo = HashMemo()
    rank = {tag: i for i, tag in enumerate(tags)}

    def lock_one(pkg: ResolvedPackage, scratch: Path) -> LockedPackage:
        name = canonicalize_name(pkg.name)
        search = [pinned[name]] if name in pinned else list(indexes)
        artifacts: list[Artifact] = []
        index = redact_url(search[0])
        files = pkg.files
        if not files:
            found = _best_wheel(client, search, name, pkg.version, rank)
            if found is None:
                raise ResolutionError(
                    f"{name} {pkg.version}: no wheel for this target on " + ", ".join(search),
                    hint="the resolver picked a version the indexes have no wheel of; use --resolver uv",
                )
            files = (found,)
        for rf in files:
            index, listed = _find(client, search, name, pkg.version, rf.filename)
            artifacts.append(_artifact(client, rf, listed, scratch, memo))
        return LockedPackage(
            name=name,
            version=pkg.version,
            index=index,
            artifacts=tuple(sorted(artifacts, key=lambda a: a.filename)),
        )

    with tempfile.TemporaryDirectory(prefix="envlock-hash-") as tmp:
        workers = max(1, min(MAX_PARALLEL_PACKAGES, len(resolved)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="envlock-lock") as pool:
            futures = [pool.submit(lock_one, pkg, Path(tmp)) for pkg in resolved]
            try:
                # In the resolution's order, so that the error reported is the same on every run.
                out = [future.result() for future in futures]
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    return tuple(sorted(out, key=lambda p: p.name))
