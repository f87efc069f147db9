"""Content-addressed artifacts: `v1/artifacts/sha256/<hex>/<filename>`, verified before every use.

Every use re-hashes the file: a copy that rotted in the store (or was edited there) is caught
before uv sees it. Hashing runs in threads (`hashlib` releases the GIL on large updates), so a
target with many files costs about the largest file's hash time on a node with enough cores.
Files are never touched after they are stored: their mtime stays as written, which keeps uv's
cache of the local file valid (uv keys local wheels by path and mtime).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import stat
import threading
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import TypeVar

from envlock.errors import IntegrityError
from envlock.lock.model import Artifact
from envlock.store.errors import store_error
from envlock.store.layout import StoreLayout, new_token
from envlock.store.modes import adopt_group, artifact_mode

_CHUNK = 1 << 20
T = TypeVar("T")


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


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


class ArtifactState(Enum):
    OK = "ok"
    MISSING = "missing"
    CORRUPT = "corrupt"


# sha256 -> (device, inode, size, mtime in ns) of a file this process hashed and found to hold those
# bytes (`check_file`): a hard link to that very file, unchanged, need not be hashed again
# (`private_copy`).
_VERIFIED: dict[str, tuple[int, int, int, int]] = {}


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC


def open_artifact(path: Path, artifact: Artifact) -> int:
    """A descriptor of the regular file at `path`, opened without following a final symlink or
    blocking on a FIFO (another member of the group may have put either there): FileNotFoundError
    when nothing is there, IntegrityError when something other than a regular file of the locked
    size is."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise _not_the_file(path, artifact, exc.strerror or str(exc)) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size != artifact.size:
        os.close(fd)
        what = "not a regular file" if not stat.S_ISREG(st.st_mode) else f"{st.st_size} bytes"
        raise _not_the_file(path, artifact, what)
    return fd


def _not_the_file(path: Path, artifact: Artifact, what: str) -> IntegrityError:
    return IntegrityError(
        f"{artifact.filename}: the store's copy at {path} is {what}, not the locked file of "
        f"{artifact.size} bytes",
        hint="remove it (or let `envlock install` fetch it again); if someone else put it there, tell the "
        "store's admin",
        details={"file": artifact.filename, "path": str(path)},
    )


def _hash_fd(fd: int, limit: int, out: int | None = None) -> tuple[str, int]:
    """sha256 and length of at most `limit` bytes read from `fd` (written to `out` too, when given)."""
    digest = hashlib.sha256()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    size = 0
    with os.fdopen(os.dup(fd), "rb", buffering=0) as f:
        while size <= limit and (n := f.readinto(buf)):
            digest.update(view[:n])
            size += n
            if out is not None:
                written = 0
                while written < n:
                    written += os.write(out, view[written:n])
    return digest.hexdigest(), size


def check_file(path: Path, artifact: Artifact) -> ArtifactState:
    """Whether `path` holds exactly the bytes `artifact` pins (size first, then sha256); something
    that is no regular file of that size counts as corrupt."""
    try:
        fd = open_artifact(path, artifact)
    except FileNotFoundError:
        return ArtifactState.MISSING
    except IntegrityError:
        return ArtifactState.CORRUPT
    try:
        sha, size = _hash_fd(fd, artifact.size)
        hashed = _identity(os.fstat(fd))  # the file read, whatever `path` names by now
    finally:
        os.close(fd)
    if sha != artifact.sha256 or size != artifact.size:
        return ArtifactState.CORRUPT
    _VERIFIED[artifact.sha256] = hashed
    return ArtifactState.OK


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
    return in_threads(
        [functools.partial(check_stored, layout, a) for a in artifacts],
        threads=min(threads or _usable_cpus(), 8),
        weights=[a.size for a in artifacts],
    )


def in_threads(jobs: Sequence[Callable[[], T]], *, threads: int, weights: Sequence[int] = ()) -> list[T]:
    """Run `jobs` on up to `threads` threads (this one included) and return their results in order.

    The heaviest jobs (by `weights`) start first, so a big one does not start last and run alone.
    After a job raises, no new job starts; the first exception is raised here once all have stopped.
    """
    results: dict[int, T] = {}
    order = list(range(len(jobs)))
    if weights:
        order.sort(key=lambda i: weights[i])
    failures: list[BaseException] = []

    def work() -> None:
        while not failures:
            try:
                i = order.pop()  # list.pop is atomic under the GIL
            except IndexError:
                return
            try:
                results[i] = jobs[i]()
            except BaseException as exc:  # re-raised in the caller's thread below
                failures.append(exc)
                return

    count = max(1, min(threads, len(jobs)))
    workers = [threading.Thread(target=work, name="envlock-store", daemon=True) for _ in range(count - 1)]
    for t in workers:
        t.start()
    work()
    for t in workers:
        t.join()
    if failures:
        raise failures[0]
    return [results[i] for i in range(len(jobs))]


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def store_artifact(
    layout: StoreLayout, artifact: Artifact, write: Callable[[Path], str | None], *, origin: str
) -> Path:
    """Put `artifact` into the store: `write(tmp)` fills a scratch file, which is verified against
    the lock and renamed into place. Raises IntegrityError (nothing is stored) on a mismatch.

    `write` may return the sha256 it computed over the bytes as it wrote them (a download hashes
    while streaming); then the file is not read a second time, only its size is checked."""
    final = layout.artifact_path(artifact.sha256, artifact.filename)
    tmp = layout.scratch / f"artifact-{new_token()}-{artifact.filename}"
    try:
        try:
            measured = write(tmp)
        except OSError as exc:
            raise store_error(exc, tmp, "write an artifact") from exc
        if measured is not None and measured == artifact.sha256 and _size(tmp) == artifact.size:
            state = ArtifactState.OK
        else:
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
            # Readable by whoever the umask allows (a group store: every member), writable by none;
            # a download's temporary file is private (0600) until here.
            tmp.chmod(artifact_mode())
            if measured == artifact.sha256:
                # the file this process wrote and hashed as it wrote it, in the sticky scratch/
                # where nobody else renames it: its identity, for `private_copy`
                _VERIFIED[artifact.sha256] = _identity(tmp.lstat())
            final.parent.mkdir(parents=True, exist_ok=True)
            adopt_group(tmp, final.parent)
            tmp.replace(final)
        except OSError as exc:
            raise store_error(exc, final, "store an artifact") from exc
        return final
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def copy_verified(src: Path, dest: Path, artifact: Artifact) -> bool:
    """Copy the store file `src` to a new file `dest` (mode 0600), hashing as it goes: whether `dest`
    now holds exactly the locked bytes. `src` is opened as `open_artifact` does (no symlink followed,
    no FIFO waited on, at most the locked size read); False for anything else there.
    FileNotFoundError when `src` is missing; other OSErrors as reading and writing raise them."""
    try:
        fd = open_artifact(src, artifact)
    except IntegrityError:
        return False
    try:
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            sha, size = _hash_fd(fd, artifact.size, out)
        finally:
            os.close(out)
    finally:
        os.close(fd)
    return sha == artifact.sha256 and size == artifact.size


def private_copy(src: Path, folder: Path, artifact: Artifact, trusts: Callable[[int], bool]) -> Path:
    """The store's copy `src` of `artifact` as a file in `folder` (a directory only this user may
    enter), verified against the lock's sha256 there: what a reader that checks no hash itself reads
    (rattler given a local file, the toolkit unpacker). The store's `artifacts/` is the group's, so
    another member could put other bytes (or a link, or a FIFO) at `src` between its check and that
    read; a file here is out of their reach. A hard link where the kernel allows one to a regular file
    of a trusted user (`trusts(uid)`) that nobody else may write, and which is the very file
    `check_file` found right in this process, unchanged; else a copy, hashed as it is written.
    IntegrityError when the bytes differ from the lock's."""
    # under its own name (a wheel's name is read for its tags), in a folder of its own
    dest = folder / artifact.sha256[:16] / artifact.filename
    try:
        dest.parent.mkdir(mode=0o700)
    except OSError as exc:
        raise store_error(exc, dest.parent, "make a folder for an artifact's copy") from exc
    with contextlib.suppress(OSError):
        os.link(src, dest)  # links `src` itself, never what a symlink there points to
        linked = dest.lstat()
        if (
            stat.S_ISREG(linked.st_mode)
            and not linked.st_mode & 0o022
            and trusts(linked.st_uid)
            and _VERIFIED.get(artifact.sha256) == _identity(linked)
        ):
            return dest
        dest.unlink()
    try:
        right = copy_verified(src, dest, artifact)
    except FileNotFoundError:
        right = False
    except OSError as exc:
        raise store_error(exc, dest, "copy an artifact for the build") from exc
    if not right:
        raise changed_since_check(artifact, src)
    return dest


def changed_since_check(artifact: Artifact, path: Path) -> IntegrityError:
    """The error for a store file whose bytes, read again for the build, are not the ones checked."""
    return IntegrityError(
        f"{artifact.filename}: the store's copy changed after it was verified (sha256 does not match "
        "the lock)",
        hint="someone replaced it in the store while this install ran; nothing was installed. "
        "Run the install again (it fetches the file anew), and tell the store's admin",
        details={"file": artifact.filename, "path": str(path)},
    )
