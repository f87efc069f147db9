"""Build leases: exclusive while the holder beats, taken over (race-free) once it stops."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from envlock.store.layout import hostname
from envlock.store.lease import Lease, acquire_lease


def _foreign_lease(path: Path) -> None:
    """A lease left by a process on another node: its pid cannot be checked, only its heartbeat."""
    path.write_text(json.dumps({"token": "x", "host": "other-node", "boot-id": None, "pid": 1, "info": {}}))


def test_a_lease_without_heartbeat_is_taken_over_after_the_stale_time(tmp_path: Path) -> None:
    path = tmp_path / "env.lease"
    _foreign_lease(path)
    waits: list[object] = []
    started = time.monotonic()
    lease = acquire_lease(path, info={}, stale_seconds=0.5, done=lambda: False, on_wait=waits.append)
    assert lease is not None
    assert time.monotonic() - started >= 0.5
    assert len(waits) == 1
    assert json.loads(path.read_text())["token"] == lease.token
    lease.release()
    assert not path.exists()


def test_a_beating_lease_is_never_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "env.lease"
    holder = acquire_lease(path, info={}, stale_seconds=0.4, done=lambda: False)
    assert holder is not None
    got: list[Lease | None] = []
    t = threading.Thread(
        target=lambda: got.append(acquire_lease(path, info={}, stale_seconds=0.4, done=lambda: False))
    )
    t.start()
    time.sleep(1.6)  # four stale periods
    assert got == []
    holder.release()
    t.join(10)
    assert got and got[0] is not None
    got[0].release()


def test_waiters_return_when_the_work_is_done(tmp_path: Path) -> None:
    path = tmp_path / "env.lease"
    flag = tmp_path / "published"
    holder = acquire_lease(path, info={}, stale_seconds=5, done=flag.exists)
    assert holder is not None
    got: list[Lease | None] = []
    t = threading.Thread(
        target=lambda: got.append(acquire_lease(path, info={}, stale_seconds=5, done=flag.exists))
    )
    t.start()
    flag.touch()
    holder.release()
    t.join(10)
    assert got == [None]


def test_many_contenders_hold_the_lease_one_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "env.lease"
    inside = 0
    most = 0
    lock = threading.Lock()
    done_count = 0

    def contender() -> None:
        nonlocal inside, most, done_count
        lease = acquire_lease(path, info={}, stale_seconds=0.3, done=lambda: False, poll_seconds=0.02)
        assert lease is not None
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.4)  # longer than the stale time: only the heartbeat keeps it
        with lock:
            inside -= 1
            done_count += 1
        lease.release()

    threads = [threading.Thread(target=contender) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert done_count == 6
    assert most == 1


def test_a_lease_lost_to_a_takeover_notices(tmp_path: Path) -> None:
    path = tmp_path / "env.lease"
    lease = acquire_lease(path, info={}, stale_seconds=0.2, done=lambda: False)
    assert lease is not None
    path.unlink()
    _foreign_lease(path)  # someone else holds it now
    time.sleep(0.3)
    assert lease.lost
    lease.release()
    assert path.exists()  # not ours: left alone


def test_a_lease_read_while_empty_is_read_again_once_written(tmp_path: Path) -> None:
    # The winner writes its lease's body just after creating it; a waiter that read it empty
    # must still learn who holds it (here: a process of this host that is gone, so it takes over
    # at once instead of after the stale time).
    path = tmp_path / "env.lease"
    path.touch()
    stamp = path.stat().st_mtime_ns
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    waits: list[object] = []
    got: list[Lease | None] = []
    t = threading.Thread(
        target=lambda: got.append(
            acquire_lease(path, info={}, stale_seconds=60, done=lambda: False, on_wait=waits.append)
        )
    )
    t.start()
    _wait_until(lambda: len(waits) == 1)
    assert waits == [None]  # it saw the empty lease
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    body = {"token": "x", "host": hostname(), "boot-id": boot_id, "pid": gone.pid, "info": {}}
    path.write_text(json.dumps(body))
    # same inode and mtime: to the waiter the same lease (unless it looked in between, saw the
    # write's mtime and has already taken over)
    with contextlib.suppress(FileNotFoundError):
        os.utime(path, ns=(stamp, stamp))
    t.join(30)
    assert got and got[0] is not None
    got[0].release()


def _wait_until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
