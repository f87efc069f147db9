"""Waiters for a build lease wake as its holder lets go, not at their next poll.

After a few seconds of waiting a waiter polls only every ~0.3 s (a tenth of its wait so far); these
tests let the holder go right after one of its polls, so a waiter that only polled would return
0.2 s or more later.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from envlock.store.lease import Lease, acquire_lease

WAITED = 3.0  # seconds a waiter waits before the holder lets go
PROMPT = 0.15  # a woken waiter returns within this; its next poll would be >= 0.21 s away


def _waiter(path: Path, done: Callable[[], bool]) -> tuple[threading.Thread, list[float], list[Lease | None]]:
    polls: list[float] = []
    got: list[Lease | None] = []

    def check() -> bool:
        polls.append(time.monotonic())
        return done()

    thread = threading.Thread(
        target=lambda: got.append(acquire_lease(path, info={}, stale_seconds=60, done=check)), daemon=True
    )
    thread.start()
    return thread, polls, got


def _right_after_a_poll(polls: list[float]) -> None:
    time.sleep(WAITED)
    seen = len(polls)
    deadline = time.monotonic() + 10
    while len(polls) == seen:
        assert time.monotonic() < deadline, "the waiter stopped polling"
        time.sleep(0.001)


def test_a_waiter_returns_as_soon_as_the_holder_publishes_and_releases(tmp_path: Path) -> None:
    path = tmp_path / "env.lease"
    published = tmp_path / "published"
    holder = acquire_lease(path, info={}, stale_seconds=60, done=published.exists)
    assert holder is not None
    thread, polls, got = _waiter(path, published.exists)
    _right_after_a_poll(polls)

    published.touch()
    released = time.monotonic()
    holder.release()
    thread.join(10)

    assert got == [None]
    assert polls[-1] - released < PROMPT


_HOLD = """
import sys, time
from pathlib import Path
from envlock.store.lease import acquire_lease
lease = acquire_lease(Path(sys.argv[1]), info={}, stale_seconds=60, done=lambda: False)
print("held", flush=True)
time.sleep(600)
"""


def test_a_waiter_takes_over_as_soon_as_the_holder_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "env.lease"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        thread, polls, got = _waiter(path, lambda: False)
        _right_after_a_poll(polls)

        holder.kill()
        killed = time.monotonic()
        thread.join(10)

        assert got and got[0] is not None
        took = time.monotonic() - killed
        got[0].release()
        assert took < PROMPT
    finally:
        holder.kill()
        holder.wait()


_HOSTILE = """
import fcntl, json, os, socket, sys, time
path = sys.argv[1]
fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
body = {"token": "hostile", "host": socket.gethostname(), "boot-id": None, "pid": os.getpid(), "info": {}}
os.write(fd, json.dumps(body).encode())
print("held", flush=True)
sys.stdin.readline()
os.unlink(path)  # the lease goes, the lock on its file stays with us
print("gone", flush=True)
time.sleep(600)
"""


def _fds() -> set[Path]:
    return set(Path("/proc/self/fd").iterdir())


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files through /proc")
def test_a_process_that_keeps_the_wake_up_lock_keeps_no_thread_or_file_of_the_waiter(tmp_path: Path) -> None:
    path = tmp_path / "env.lease"
    hostile = subprocess.Popen(
        [sys.executable, "-c", _HOSTILE, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert hostile.stdout is not None and hostile.stdin is not None
        assert hostile.stdout.readline() == "held\n"
        before = _fds()
        thread, polls, got = _waiter(path, lambda: False)
        time.sleep(0.5)
        assert len(polls) > 1 and not got  # waiting on the hostile "holder"
        hostile.stdin.write("go\n")
        hostile.stdin.flush()
        assert hostile.stdout.readline() == "gone\n"
        thread.join(5)
        assert got and got[0] is not None  # the lease file went: the waiter took the lease
        got[0].release()
        assert [t.name for t in threading.enumerate() if t.name.startswith("envlock-lease")] == []
        assert _fds() - before == set()
    finally:
        hostile.kill()
        hostile.wait()
