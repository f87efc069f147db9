"""Content-addressed artifacts: `v1/artifacts/sha256/<hex>/<filename>`, verified before every use.

Every use re-hashes the file: a copy that rotted in the store (or was edited there) is caught
before uv sees it. Hashing runs in threads (`hashlib` releases the GIL on large updates), so a
target with many files costs about the largest file's hash time on a node with enough cores.
Files are never touched after they are stored: their mtime stays as written, which keeps uv's
cache of the local file valid (uv keys local wheels by path and mtime).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path

from envlock.errors import IntegrityError
from envlock.lock.model import Artifact
from envlock.store.errors import store_error
from envlock.store.layout import StoreLayout, new_token

_CHUNK = 1 << 20


def hash_file(path: Path) -> tuple[str, int]:
    """(sha256 hex, size) of the file at `path`."""
    digest = hashlib.sha256()
    size = 0
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as f:
        while n := f.readinto(buf):
            digest.update(view[:n])
            size += n
    return digest.hexdigest(), size


class ArtifactState(Enum):
    OK = "ok"
    MISSING = "missing"
    CORRUPT = "corrupt"


def check_file(path: Path, artifact: Artifact) -> ArtifactState:
    """Whether `path` holds exactly the bytes `artifact` pins (size first, then sha256)."""
    try:
        if path.stat().st_size != artifact.size:
            return ArtifactState.CORRUPT
        sha, _ = hash_file(path)
    except FileNotFoundError:
        return ArtifactState.MISSING
    return ArtifactState.OK if sha == artifact.sha256 else ArtifactState.CORRUPT


def check_stored(layout: StoreLayout, artifact: Artifact) -> ArtifactState:
    """Re-verify the store's copy of `artifact`; a corrupt copy is removed so it can be fetched again."""
    path = layout.artifact_path(artifact.sha256, artifact.filename)
    state = check_file(path, artifact)
    if state is ArtifactState.CORRUPT:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return state


def check_stored_all(
    layout: StoreLayout, artifacts: Sequence[Artifact], *, threads: int | None = None
) -> list[ArtifactState]:
    """`check_stored` of each artifact (same order), several files hashed at once.

    `threads` defaults to the CPUs this process may use, at most 8 (more only contend for disk).
    """
    states: list[ArtifactState | None] = [None] * len(artifacts)
    # largest first, so one big wheel does not start last and run alone
    todo = sorted(range(len(artifacts)), key=lambda i: artifacts[i].size)
    failures: list[BaseException] = []

    def work() -> None:
        while True:
            try:
                i = todo.pop()  # list.pop is atomic under the GIL
            except IndexError:
                return
            try:
                states[i] = check_stored(layout, artifacts[i])
            except BaseException as exc:  # re-raised in the caller's thread below
                failures.append(exc)
                return

    count = min(threads or _usable_cpus(), 8, len(artifacts))
    workers = [threading.Thread(target=work, name="envlock-verify", daemon=True) for _ in range(count - 1)]
    for t in workers:
        t.start()
    work()
    for t in workers:
        t.join()
    if failures:
        raise failures[0]
    return [s if s is not None else ArtifactState.MISSING for s in states]


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def store_artifact(
    layout: StoreLayout, artifact: Artifact, write: Callable[[Path], None], *, origin: str
) -> Path:
    """Put `artifact` into the store: `write(tmp)` fills a scratch file, which is verified against
    the lock and renamed into place. Raises IntegrityError (nothing is stored) on a mismatch."""
    final = layout.artifact_path(artifact.sha256, artifact.filename)
    tmp = layout.scratch / f"artifact-{new_token()}-{artifact.filename}"
    try:
        try:
            write(tmp)
        except OSError as exc:
            raise store_error(exc, tmp, "write an artifact") from exc
        state = check_file(tmp, artifact)
        if state is not ArtifactState.OK:
            got = hash_file(tmp) if tmp.exists() else None
            raise IntegrityError(
                f"{artifact.filename}: {origin} gave bytes that do not match the lock "
                f"(expected sha256 {artifact.sha256}, size {artifact.size}; got "
                + (f"sha256 {got[0]}, size {got[1]})" if got else "nothing)"),
                hint="the index or bundle changed the file after the lock was made; nothing was installed. "
                "Re-solve the lock, or fetch the bundle again",
                details={"file": artifact.filename, "expected-sha256": artifact.sha256},
            )
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp.replace(final)
        except OSError as exc:
            raise store_error(exc, final, "store an artifact") from exc
        return final
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
