"""Build leases that work on filesystems without working `flock` (Lustre, many NFS mounts).

A lease is a file created with O_CREAT|O_EXCL (atomic on every POSIX filesystem, including NFSv3+),
holding who took it. A thread touches its mtime every `stale/4` seconds. A waiter that sees the
lease's (inode, mtime) unchanged for `stale` seconds of its own clock (so clock skew between nodes
does not matter), or whose holder is a dead process on this very host, takes it over: it renames the
lease to a name only it uses, checks that what it moved is still the stale lease (else it links it
back), removes it and tries the atomic create again. Leases only decide who builds; whether two
builds ever race is settled by the publishing `rename` (see `envlock.store.local`).

Waking: the holder also keeps an exclusive `flock` on its open lease file until it releases it (or
dies: the kernel drops the lock with the process). A waiter on the same host blocks, in a thread of
tries a shared `flock` of that file every 5 to 50 ms between its polls (without blocking: a
process that queues for or holds the lock itself keeps nothing of the waiter's), and so wakes about
the moment the build is published instead of at its next poll. The lock is only a hint: where
`flock` fails or does not reach across nodes (some NFS and Lustre mounts), the waiter wakes at once
or never, and its polling decides as before.

A lease file, like everything in a group store's `leases/`, may have been replaced by another
member with something else (a FIFO, a symlink): it is read through `envlock.store.safe_read`, and
opened for the wake-up lock only when it is a regular file.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import stat
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from envlock.store.errors import store_error
from envlock.store.layout import hostname, new_token
from envlock.store.safe_read import read_store_file

if sys.platform != "win32":  # no flock there: waiters only poll
    import fcntl

ENV_STALE_SECONDS = "ENVLOCK_LEASE_STALE_SECONDS"
DEFAULT_STALE_SECONDS = 60.0


def stale_seconds_from_env(environ: Mapping[str, str] | None = None) -> float:
    """`ENVLOCK_LEASE_STALE_SECONDS`, or 60 s; values that are not positive numbers fall back to 60."""
    text = (os.environ if environ is None else environ).get(ENV_STALE_SECONDS, "")
    try:
        value = float(text)
    except ValueError:
        return DEFAULT_STALE_SECONDS
    return value if value > 0 else DEFAULT_STALE_SECONDS


@functools.cache
def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseHolder:
    """What a lease file says about who holds it."""

    token: str
    host: str
    boot_id: str | None
    pid: int
    info: Mapping[str, object]

    @classmethod
    def read(cls, path: Path) -> LeaseHolder | None:
        """The holder recorded at `path`, or None when it is gone, empty, unreadable or not a regular
        file (`read_store_file`)."""
        try:
            return cls.parse(read_store_file(path))
        except OSError:
            return None

    @classmethod
    def parse(cls, body: bytes) -> LeaseHolder | None:
        """The holder a lease file's `body` names, or None when it names none."""
        try:
            data = json.loads(body.decode("utf-8"))
            info = data.get("info", {})
            return cls(
                token=str(data["token"]),
                host=str(data["host"]),
                boot_id=data.get("boot-id"),
                pid=int(data["pid"]),
                info=info if isinstance(info, dict) else {},
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def is_dead_here(self) -> bool:
        """True when the holder ran on this host in this boot and its process is gone."""
        if self.host != hostname() or self.boot_id is None or self.boot_id != _boot_id():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return _zombie(self.pid)


def _zombie(pid: int) -> bool:
    """A process that has exited and waits for its parent to collect it (Linux); it never beats again."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return text.rpartition(")")[2].split()[:1] == ["Z"]


class Lease:
    """A held lease: its heartbeat runs until `release()`; `lost` turns true if it was taken over.

    The heartbeat also touches the paths given to `keep_fresh` (the builder's scratch directory), and
    goes on touching them after the lease is lost, until `release()`: a fresh mtime there tells the
    next holder that a builder still works in it (see `LocalStore`).
    """

    def __init__(self, path: Path, token: str, stale_seconds: float, fd: int | None = None) -> None:
        self.path = path
        self.token = token
        self.lost = False
        self._fd = fd  # the open lease file, holding the waiters' wake-up `flock` (module docstring)
        self._fresh: list[Path] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(max(stale_seconds / 4, 0.05),), name="envlock-lease", daemon=True
        )
        self._thread.start()

    def write_owner(self, path: Path) -> None:
        """Write who holds this lease to `path` (a LeaseHolder document without info), so that a later
        holder can tell whether the builder that worked beside it is dead (`LeaseHolder.read`)."""
        body = {"token": self.token, "host": hostname(), "boot-id": _boot_id(), "pid": os.getpid()}
        # a new file only: never through a link or into a FIFO someone put at `path` first
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
        fd = os.open(path, flags, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(body, sort_keys=True))

    def keep_fresh(self, path: Path) -> None:
        """Touch `path` with every heartbeat from now on."""
        self._fresh.append(path)

    def _beat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            for extra in list(self._fresh):
                with contextlib.suppress(OSError):
                    os.utime(extra)
            if self.lost:
                continue
            with contextlib.suppress(OSError):
                os.utime(self.path)
            holder = LeaseHolder.read(self.path)
            if holder is not None and holder.token != self.token:
                self.lost = True

    def still_held(self) -> bool:
        """Whether the lease is ours right now (reads the lease file; sets `lost` when it is not)."""
        if not self.lost:
            holder = LeaseHolder.read(self.path)
            if holder is None or holder.token != self.token:
                self.lost = True
        return not self.lost

    def release(self) -> None:
        """Stop the heartbeat and remove the lease if it is still ours."""
        self._stop.set()
        self._thread.join()
        holder = LeaseHolder.read(self.path)
        if holder is not None and holder.token == self.token:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        if self._fd is not None:  # after the unlink: a waiter it wakes finds the lease gone
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


LeaseInfo = Mapping[str, object] | Callable[[], Mapping[str, object]]


def _flag(fd: int) -> None:
    """Take the wake-up lock of a new lease (module docstring); a no-op where `flock` fails."""
    if sys.platform == "win32":
        return
    for _ in range(100):  # a waiter may hold a shared lock for an instant (`_Wake`)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(0.001)
        except OSError:  # no flock on this filesystem: waiters poll
            return


def _try_create(path: Path, token: str, info: LeaseInfo) -> int | None:
    """The open lease file when we created it (holding its wake-up lock), None when it exists."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None
    except OSError as exc:
        raise store_error(exc, path, "create a build lease") from exc
    _flag(fd)  # before the body is written: a waiter that can read the holder can wait on the lock
    # Only the winner computes `info` (which may be costly); until it is written, readers see an
    # empty lease, which they treat like any lease: alive while its mtime moves.
    try:
        body = json.dumps(
            {
                "token": token,
                "host": hostname(),
                "boot-id": _boot_id(),
                "pid": os.getpid(),
                "started": time.time(),
                "info": dict(info() if callable(info) else info),
            },
            sort_keys=True,
        ).encode()
        os.write(fd, body)
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)
        raise
    return fd


# Seconds between a waiter's tries of the wake-up lock: a tenth of its pause, so that it wakes
# within about 1/100 of the time it has waited (a try costs a few microseconds of CPU), at least
# 5 ms and at most 50 ms apart.
_WAKE_TICKS = (0.005, 0.05)


class _Wake:
    """Tells a waiter when the holder of the lease file it opened lets go of its `flock`.

    `wait` tries a shared lock of the file without blocking (letting it go at once) a few times
    in its pause (`_WAKE_TICKS`), and returns as soon as it gets it. Nothing blocks on the lock,
    so a process that queues for it or keeps it (anyone who can open the file can) holds up nothing
    of the waiter's; `close` gives the file back. A lock got at the first try means nothing holds it
    (another node's holder, a filesystem without flock): from then on `wait` sleeps its whole pause,
    as plain polling does.
    """

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd
        self._spent = False

    @classmethod
    def open(cls, path: Path, inode: int) -> _Wake | None:
        if sys.platform == "win32":
            return None
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(path, flags)  # never blocks, not even on a FIFO put in the lease's place
        except OSError:
            return None
        st = os.fstat(fd)
        if st.st_ino != inode or not stat.S_ISREG(st.st_mode):  # replaced since we looked
            os.close(fd)
            return None
        return cls(fd)

    def _free(self) -> bool:
        """Whether nobody holds the exclusive lock now (True where flock fails)."""
        if self._fd is None or sys.platform == "win32":
            return True
        try:
            fcntl.flock(self._fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:
            return True
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        return True

    def wait(self, seconds: float) -> None:
        if self._spent:
            time.sleep(seconds)
            return
        deadline = time.monotonic() + seconds
        tick = min(max(seconds / 10, _WAKE_TICKS[0]), _WAKE_TICKS[1])
        while not self._free():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(tick, left))
        self._spent = True  # once woken, the next rounds poll (the lease may still be there)
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _take_over(path: Path, identity: tuple[int, int], token: str) -> None:
    """Remove the lease at `path` if it is still the one with `identity`; race-safe."""
    aside = path.with_name(f"{path.name}.stale-{token}")
    try:
        path.rename(aside)
    except FileNotFoundError:
        return
    try:
        st = aside.stat()
        if (st.st_ino, st.st_mtime_ns) != identity:
            # We moved a lease that is alive (someone took over before us): put it back unless a
            # newer one already took its place, in which case its holder finds out by its heartbeat.
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            aside.unlink()


def acquire_lease(
    path: Path,
    *,
    info: LeaseInfo,
    stale_seconds: float,
    done: Callable[[], bool],
    on_wait: Callable[[LeaseHolder | None], None] | None = None,
    poll_seconds: float = 1.0,
) -> Lease | None:
    """Take the lease at `path`, waiting while a live holder has it.

    Returns None as soon as `done()` says the work is already done (checked before taking the
    lease and while waiting); `on_wait` is called once when we start waiting for another holder.
    `info` (or what it returns, computed only by the process that takes the lease) is recorded in it.

    A waiter checks again after about a tenth of the time it has waited so far (5 ms at first, at
    most `poll_seconds`, with jitter), and at once when a holder on this host releases the lease
    (its `flock`, module docstring): a build is noticed as it ends, and a long one costs each waiter
    about one cheap check a second, so a thousand array tasks on a shared filesystem neither wait
    long nor hammer its metadata server. In between, a waiter on the holder's host only tries the
    local wake-up lock (every 5 to 50 ms, `_WAKE_TICKS`); it keeps no file open once it returns.
    """
    wakes: dict[tuple[int, str], _Wake | None] = {}  # by lease inode and holder token
    try:
        return _acquire(path, info, stale_seconds, done, on_wait, poll_seconds, wakes)
    finally:
        for wake in wakes.values():
            if wake is not None:
                wake.close()


def _acquire(
    path: Path,
    info: LeaseInfo,
    stale_seconds: float,
    done: Callable[[], bool],
    on_wait: Callable[[LeaseHolder | None], None] | None,
    poll_seconds: float,
    wakes: dict[tuple[int, str], _Wake | None],
) -> Lease | None:
    token = new_token()
    seen: dict[tuple[int, int], float] = {}
    holders: dict[tuple[int, int], LeaseHolder | None] = {}
    waiting_since: float | None = None
    while True:
        if done():
            return None
        fd = _try_create(path, token, info)
        if fd is not None:
            lease = Lease(path, token, stale_seconds, fd)
            if done():  # published between our check and the create
                lease.release()
                return None
            return lease
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        identity = (st.st_ino, st.st_mtime_ns)
        now = time.monotonic()
        first = seen.setdefault(identity, now)
        holder = holders.get(identity)
        if holder is None:  # read once per heartbeat; again while empty (its writer may be mid-write)
            holder = holders[identity] = LeaseHolder.read(path)
        if now - first >= stale_seconds or (holder is not None and holder.is_dead_here()):
            _take_over(path, identity, token)
            continue
        if waiting_since is None:
            waiting_since = now
            if on_wait is not None:
                on_wait(holder)
        pause = min(max((now - waiting_since) / 10, 0.005), poll_seconds, stale_seconds / 4)
        pause *= random.uniform(0.7, 1.3)
        # A holder that can be read holds its wake-up lock already (`_try_create`).
        key = (st.st_ino, holder.token) if holder is not None else None
        if key is not None and key not in wakes:
            for gone in wakes.values():  # an earlier holder's: it wakes nobody any more
                if gone is not None:
                    gone.close()
            wakes[key] = _Wake.open(path, st.st_ino)
        wake = wakes.get(key) if key is not None else None
        if wake is not None:
            wake.wait(pause)
        else:
            time.sleep(pause)
