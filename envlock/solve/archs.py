"""The GPU architectures of the torch file a solve is about to lock, learned from the wheel itself.

`WheelArchReader.learn` reads the wheel by ranged requests (`envlock.inspect.wheel_archs`) once per file,
ever: the answer is kept in the user cache (`<cache>/wheel-archs-v1/`) under the file's sha256 (or, when
the index gives no hash, under its URL and size). A warm solve reads nothing. When the index refuses
range requests, the solve is offline without a cached answer, or the wheel cannot be read, the reader
says why and the solver falls back to the knowledge base.

`WheelArchReader.start` begins that read in the background (the solver starts it for the torch file it
expects uv to pick, while uv resolves); a `learn` of the same file meanwhile waits for that one read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from envlock.errors import EnvlockError
from envlock.index.model import IndexFile
from envlock.inspect.wheel_archs import RandomAccess, WheelArchs, learn_archs
from envlock.kb.model import ComputeCapability
from envlock.platforms import Platform
from envlock.userfiles import default_cache_root, write_atomic

_CACHE_VERSION = "wheel-archs-v1"


@dataclass(frozen=True, slots=True, kw_only=True)
class TorchFile:
    """The torch wheel a target would lock: where it is and what the index says about it."""

    filename: str
    url: str
    sha256: str | None
    size: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchAnswer:
    """What the wheel said (`archs`), or why it could not be asked (`problem`)."""

    archs: WheelArchs | None
    problem: str | None  # "the index refuses HTTP range requests", ...
    refused_ranges: bool = False


class WheelArchReader:
    """Learns torch wheels' architectures through `opener` (URL -> random-access file), with a cache."""

    def __init__(
        self,
        opener: Callable[[str], RandomAccess] | None,
        *,
        cache_root: Path | None = None,
        fatbin_budget: int | None = None,
    ) -> None:
        self._opener = opener
        self._dir = (cache_root or default_cache_root()) / _CACHE_VERSION
        self._budget = fatbin_budget
        self.bytes_read = 0  # over the network (or disk), by this reader, for bench/
        self._reading: dict[str, Future[ArchAnswer]] = {}  # by cache key: reads under way
        self._lock = threading.Lock()

    def _key(self, file: TorchFile) -> str:
        if file.sha256:
            return file.sha256.lower()
        return "url-" + hashlib.sha256(f"{file.url}\0{file.size}".encode()).hexdigest()

    def cached(self, file: TorchFile) -> WheelArchs | None:
        """The cached answer for this file, or None."""
        try:
            raw = json.loads((self._dir / f"{self._key(file)}.json").read_text())
            return WheelArchs(
                sass=tuple(ComputeCapability.parse(n) for n in raw["sass"]),
                ptx=tuple(ComputeCapability.parse(n) for n in raw["ptx"]),
                sass_names=tuple(raw["sass"]),
                ptx_names=tuple(raw["ptx"]),
                evidence=tuple(raw["evidence"]),
                found=bool(raw["found"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _store(self, file: TorchFile, archs: WheelArchs) -> None:
        document = {
            "file": file.filename,
            "sass": list(archs.sass_names),
            "ptx": list(archs.ptx_names),
            "evidence": list(archs.evidence),
            "found": archs.found,
        }
        path = self._dir / f"{self._key(file)}.json"
        with contextlib.suppress(OSError):
            write_atomic(path, (json.dumps(document, sort_keys=True) + "\n").encode())

    def start(self, file: TorchFile) -> None:
        """Begin learning `file` in the background, unless it is cached or being read; a later
        `learn(file)` takes that answer. A daemon thread: a solve that ends first does not wait."""
        if self._opener is None or self.cached(file) is not None:
            return
        with self._lock:
            if self._key(file) in self._reading:
                return
            future: Future[ArchAnswer] = Future()
            self._reading[self._key(file)] = future
        threading.Thread(
            target=self._read_into, args=(file, future), name="envlock-archs", daemon=True
        ).start()

    def learn(self, file: TorchFile) -> ArchAnswer:
        """The architectures `file` carries: from the cache, else from the wheel by ranged reads
        (one read per file, however many ask at once)."""
        known = self.cached(file)
        if known is not None:
            return ArchAnswer(archs=known, problem=None)
        with self._lock:
            future = self._reading.get(self._key(file))
            owner = future is None
            if future is None:
                future = Future()
                self._reading[self._key(file)] = future
        if owner:
            self._read_into(file, future)
        return future.result()

    def _read_into(self, file: TorchFile, future: Future[ArchAnswer]) -> None:
        try:
            future.set_result(self._read(file))
        except BaseException as exc:
            future.set_exception(exc)
        finally:
            with self._lock:
                self._reading.pop(self._key(file), None)

    def _read(self, file: TorchFile) -> ArchAnswer:
        from envlock.index.ranged import RangeNotSupported

        if self._opener is None:
            return ArchAnswer(archs=None, problem="the wheel was not read (no ranged reader in this solve)")
        source: RandomAccess | None = None
        try:
            source = self._opener(file.url)
            if self._budget is None:
                archs = learn_archs(source, file.filename)
            else:
                archs = learn_archs(source, file.filename, fatbin_budget=self._budget)
        except RangeNotSupported:
            return ArchAnswer(
                archs=None, problem="its index does not answer HTTP range requests", refused_ranges=True
            )
        except EnvlockError as err:
            return ArchAnswer(archs=None, problem=f"the wheel could not be read ({err.message})")
        finally:
            self.bytes_read += int(getattr(source, "fetched", 0) or 0)
        self._store(file, archs)
        return ArchAnswer(archs=archs, problem=None)


def torch_file(
    version: str, files: Sequence[IndexFile], python: str, platform: str, glibc: str
) -> TorchFile | None:
    """The torch wheel of `version` ("2.5.1+cu124") among an index page's `files` that the target would
    install: the one whose best tag ranks first in the target's tag order."""
    target = Platform.of(platform, python=python, glibc=glibc)
    wanted = Version(version)
    best: tuple[int, TorchFile] | None = None
    for f in files:
        if not f.is_wheel or f.yanked or f.version != wanted:
            continue
        rank = target.wheel_rank(f.filename)
        if rank is None:
            continue
        candidate = TorchFile(filename=f.filename, url=f.url, sha256=f.sha256, size=f.size)
        if best is None or rank < best[0]:
            best = (rank, candidate)
    return best[1] if best else None
