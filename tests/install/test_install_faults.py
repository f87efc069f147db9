"""Faults and bad input: killed builds, dead lease holders, corrupt files, tampered locks, broken stores."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lockmaker import FileServer, TargetDef, make_lock, run_envlock

from envlock.lock.read import load_lock
from envlock.store.layout import env_dir_name


def _env_name(lock: Path, target: str) -> str:
    parsed = load_lock(lock)
    t = parsed.target(target)
    assert t is not None
    return env_dir_name(env_hash=t.env_hash, env_name=parsed.inputs.name, target=target)


def _popen_install(lock: Path, store: Path, target: str, **env: str) -> subprocess.Popen[str]:
    full = dict(os.environ, ENVLOCK_GPUS="none", ENVLOCK_DRIVER="none", **env)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "envlock",
            "install",
            "-l",
            str(lock),
            "--target",
            target,
            "--store",
            str(store),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a batch job's step is
        text=True,
        env=full,
    )


def _wait_for(predicate: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _built_in_scratch(store: Path) -> bool:
    scratch = store / "v1" / "scratch"
    return scratch.exists() and any((d / "env" / "envlock-env.json").exists() for d in scratch.iterdir())


def _artifact_files(store: Path) -> list[Path]:
    root = store / "v1" / "artifacts" / "sha256"
    return sorted(f for d in root.iterdir() for f in d.iterdir()) if root.exists() else []


def test_sigkill_mid_build_then_rerun_succeeds_on_a_clean_store(lock: Path, store: Path) -> None:
    victim = _popen_install(lock, store, "cpu", ENVLOCK_TEST_BUILD_PAUSE="60")
    _wait_for(lambda: _built_in_scratch(store))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    name = _env_name(lock, "cpu")
    assert not (store / "v1" / "envs" / name).exists()  # nothing half-published
    assert (store / "v1" / "leases" / f"{name}.lease").exists()
    assert list((store / "v1" / "scratch").iterdir())

    done = run_envlock(
        ["install", "-l", str(lock), "--target", "cpu", "--store", str(store)],
        env={"ENVLOCK_LEASE_STALE_SECONDS": "2"},
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).name == name
    assert list((store / "v1" / "scratch").iterdir()) == []
    assert list((store / "v1" / "leases").iterdir()) == []
    assert (store / "v1" / "builds.log").read_text().count("published") == 1


def test_waiter_takes_over_when_the_lease_holder_dies(lock: Path, store: Path) -> None:
    holder = _popen_install(
        lock, store, "cpu", ENVLOCK_TEST_BUILD_PAUSE="60", ENVLOCK_LEASE_STALE_SECONDS="2"
    )
    name = _env_name(lock, "cpu")
    lease = store / "v1" / "leases" / f"{name}.lease"
    # written, not only created (the holder creates the file, then writes who it is): a waiter that
    # read it empty would say "waiting for another build" without the holder's pid
    _wait_for(lambda: lease.exists() and lease.stat().st_size > 0)
    waiter = _popen_install(lock, store, "cpu", ENVLOCK_LEASE_STALE_SECONDS="2")
    assert waiter.stderr is not None
    first = waiter.stderr.readline()  # its first phase line: it waits for the live holder
    assert "waiting on pid " in first and f"pid {holder.pid} " in first, first
    assert waiter.poll() is None
    # The job is killed as Slurm cancels one: its whole process group, uv included (a uv left
    # running would go on writing into the scratch the next holder has already cleaned).
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait()
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err
    assert "lease won: building" in err  # it took the dead holder's lease over
    assert Path(out.strip()).name == name
    assert (store / "v1" / "builds.log").read_text().count("published") == 1
    assert list((store / "v1" / "scratch").iterdir()) == []


# Runs a command as its child and, being a subreaper, becomes the parent of whatever that command
# leaves orphaned. Prints the command's pid; once the command has died, waits for those orphans to die
# too (30 s at most), kills any still alive and prints their command lines as a JSON list.
_KEEPER = r"""
import ctypes, json, os, signal, subprocess, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(child.pid, flush=True)
child.wait()

def orphans():
    found = []
    for d in os.listdir("/proc"):
        try:
            state, ppid = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if int(ppid) == os.getpid() and state != "Z":
            found.append(int(d))
    return found

deadline = time.monotonic() + 30
while orphans() and time.monotonic() < deadline:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        pass
    time.sleep(0.05)
left = []
for pid in orphans():
    try:
        left.append(open(f"/proc/{pid}/cmdline").read().replace("\0", " ").strip())
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
print(json.dumps(left), flush=True)
"""


def _children(pid: int) -> list[str]:
    """The command names of the live processes whose parent is `pid`."""
    names = []
    for entry in Path("/proc").iterdir():
        try:
            comm, rest = (entry / "stat").read_text().rsplit(")", 1)
        except (OSError, ValueError):
            continue
        state, ppid = rest.split()[:2]
        if int(ppid) == pid and state != "Z":
            names.append(comm.split("(", 1)[1])
    return names


@contextlib.contextmanager
def _builder_in_uv(lock: Path, store: Path, cache: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """An `envlock install` (run by the keeper) whose `uv venv` waits for uv's cache, which another
    uv holds (as `uv cache clean` does): uv is surely running while the test kills envlock's pid."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the parent-death signal is Linux's")
    cache.mkdir()
    held = os.open(cache / ".lock", os.O_CREAT | os.O_RDWR)
    fcntl.flock(held, fcntl.LOCK_EX)
    env = dict(os.environ, ENVLOCK_GPUS="none", ENVLOCK_DRIVER="none", UV_CACHE_DIR=str(cache))
    cmd = ["install", "-l", str(lock), "--target", "cpu", "--store", str(store)]
    keeper = subprocess.Popen(
        [sys.executable, "-c", _KEEPER, sys.executable, "-m", "envlock", *cmd],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert keeper.stdout is not None
        builder = int(keeper.stdout.readline())
        _wait_for(lambda: "uv" in _children(builder) or keeper.poll() is not None)
        if keeper.poll() is not None:
            pytest.skip("this uv does not wait for a cache that another uv holds")
        yield keeper, builder
    finally:
        fcntl.flock(held, fcntl.LOCK_UN)
        os.close(held)
        keeper.wait(timeout=60)


def _survivors(keeper: subprocess.Popen[str]) -> list[str]:
    assert keeper.stdout is not None
    found: list[str] = json.loads(keeper.stdout.readline())
    return found


def test_sigkill_of_envlock_alone_leaves_no_uv_running(lock: Path, store: Path, tmp_path: Path) -> None:
    name = _env_name(lock, "cpu")
    with _builder_in_uv(lock, store, tmp_path / "uv-cache") as (keeper, builder):
        os.kill(builder, signal.SIGKILL)  # its pid alone, not its process group
        assert _survivors(keeper) == []  # every child of envlock died with it
        assert not (store / "v1" / "envs" / name).exists()
        gc = run_envlock(["gc", "--store", str(store)])
        assert gc.returncode == 0, gc.stderr
        assert list((store / "v1" / "scratch").iterdir()) == []
        assert list((store / "v1" / "leases").iterdir()) == []
    # Nothing comes back into the cleaned scratch once uv's cache is free again; a new install works.
    done = run_envlock(
        ["install", "-l", str(lock), "--target", "cpu", "--store", str(store)],
        env={"UV_CACHE_DIR": str(tmp_path / "uv-cache")},
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).name == name
    assert list((store / "v1" / "scratch").iterdir()) == []
    assert (store / "v1" / "builds.log").read_text().count("published") == 1


def test_waiter_takes_over_when_the_lease_holder_alone_is_killed_while_uv_runs(
    lock: Path, store: Path, tmp_path: Path
) -> None:
    # The single-pid variant of the test above it: a batch system (or a user) that kills the
    # holder's pid only, while its uv runs.
    with _builder_in_uv(lock, store, tmp_path / "uv-cache") as (keeper, builder):
        waiter = _popen_install(
            lock, store, "cpu", ENVLOCK_LEASE_STALE_SECONDS="2", UV_CACHE_DIR=str(tmp_path / "waiter-cache")
        )
        assert waiter.stderr is not None
        first = waiter.stderr.readline()
        assert f"waiting on pid {builder} " in first, first
        os.kill(builder, signal.SIGKILL)
        assert _survivors(keeper) == []
        out, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, err
        assert "lease won: building" in err
    name = _env_name(lock, "cpu")
    assert Path(out.strip()).name == name
    assert list((store / "v1" / "scratch").iterdir()) == []  # and nothing comes back into it
    assert (store / "v1" / "builds.log").read_text().count("published") == 1


def test_corrupt_store_artifact_is_fetched_again(lock: Path, store: Path, server: FileServer) -> None:
    assert run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store)]).returncode == 0
    alpha = next(f for f in _artifact_files(store) if f.name.startswith("alpha"))
    alpha.write_bytes(b"bit rot")
    before = len(server.requests)
    done = run_envlock(["install", "-l", str(lock), "--target", "small", "--store", str(store)])
    assert done.returncode == 0, done.stderr
    assert "corrupt" in done.stderr
    assert server.requests[before:] == [alpha.name]
    assert alpha.read_bytes() != b"bit rot"


def test_corrupt_store_artifact_offline_is_an_integrity_error(lock: Path, store: Path) -> None:
    assert run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store)]).returncode == 0
    next(f for f in _artifact_files(store) if f.name.startswith("alpha")).write_bytes(b"bit rot")
    done = run_envlock(["install", "-l", str(lock), "--target", "small", "--store", str(store), "--offline"])
    assert done.returncode == 1
    assert "corrupt" in done.stderr
    assert not (store / "v1" / "envs" / _env_name(lock, "small")).exists()


def test_index_serving_other_bytes_fails_and_publishes_nothing(
    lock: Path, store: Path, server: FileServer
) -> None:
    server.override["beta-2.0-py3-none-any.whl"] = b"not the locked wheel"
    done = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store)])
    assert done.returncode == 1, done.stderr
    assert "beta-2.0-py3-none-any.whl" in done.stderr
    assert list((store / "v1" / "envs").iterdir()) == []
    assert all(not f.name.startswith("beta") for f in _artifact_files(store))
    assert list((store / "v1" / "scratch").iterdir()) == []


def test_hand_edited_lock_is_refused(lock: Path, store: Path) -> None:
    lock.write_text(lock.read_text().replace('version = "2.0"', 'version = "2.1"'))
    done = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store)])
    assert done.returncode == 1
    assert "edited by hand" in done.stderr
    assert not store.exists()


def test_lock_from_a_newer_envlock_is_exit_2(lock: Path, store: Path) -> None:
    lock.write_text(lock.read_text().replace("lock-version = 1", "lock-version = 99"))
    done = run_envlock(["install", "-l", str(lock), "--store", str(store)])
    assert done.returncode == 2
    assert "newer envlock" in done.stderr


def test_unknown_target_is_exit_2_and_lists_targets(lock: Path, store: Path) -> None:
    done = run_envlock(["install", "-l", str(lock), "--target", "h100", "--store", str(store)])
    assert done.returncode == 2
    assert "no target 'h100'" in done.stderr and "cpu, small" in done.stderr


def test_missing_interpreter_is_exit_1_with_a_hint(
    tmp_path: Path, wheels: Path, server: FileServer, store: Path
) -> None:
    lock = make_lock(tmp_path / "old.lock", wheels, server.url, [TargetDef(name="cpu")], python="3.4")
    done = run_envlock(["install", "-l", str(lock), "--store", str(store)])
    assert done.returncode == 1, done.stderr
    assert "no Python 3.4 interpreter" in done.stderr
    assert "--python PATH" in done.stderr and 'interpreter = "python-build-standalone"' in done.stderr
    assert server.requests == []  # failed before downloading anything


def test_offline_without_bundle_or_cache_is_exit_3(lock: Path, store: Path, server: FileServer) -> None:
    done = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store), "--offline"])
    assert done.returncode == 3
    assert "--offline" in done.stderr and "envlock fetch" in done.stderr
    assert server.requests == []


def test_offline_from_the_store_cache_works(lock: Path, store: Path, server: FileServer) -> None:
    assert run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store)]).returncode == 0
    done = run_envlock(["install", "-l", str(lock), "--target", "small", "--store", str(store), "--offline"])
    assert done.returncode == 0, done.stderr
    assert len(server.requests) == 2


def _mounted(kind: str) -> list[str]:
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("unshare -rm (user + mount namespace) is not permitted here")
    return ["unshare", "-rm", "sh", "-c", f'mount -t tmpfs -o {kind} tmpfs "$0" && exec "$@"']


def test_read_only_store_is_a_store_error_naming_the_path(lock: Path, tmp_path: Path) -> None:
    store = tmp_path / "ro"
    store.mkdir()
    # a real read-only filesystem (root ignores permission bits, not EROFS)
    prefix = [*_mounted("ro"), str(store)]
    done = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store)], prefix=prefix)
    assert done.returncode == 1, done.stderr
    assert str(store) in done.stderr and "read-only" in done.stderr


def test_full_disk_is_a_store_error_naming_the_path(tmp_path: Path, wheels: Path, server: FileServer) -> None:
    big = TargetDef(name="cpu", packages=(("bulky", "1.0"),))
    payload = {"bulky": {"bulky/data.bin": os.urandom(256 * 1024)}}
    lock = make_lock(tmp_path / "big.lock", wheels, server.url, [big], payloads=payload)
    store = tmp_path / "full"
    store.mkdir()
    prefix = [*_mounted("size=128k"), str(store)]
    done = run_envlock(["install", "-l", str(lock), "--store", str(store)], prefix=prefix)
    assert done.returncode == 1, done.stderr
    assert "no space left" in done.stderr and str(store) in done.stderr


def test_gc_during_a_build_keeps_what_the_build_uses(lock: Path, store: Path, server: FileServer) -> None:
    builder = _popen_install(lock, store, "cpu", ENVLOCK_TEST_BUILD_PAUSE="60")
    _wait_for(lambda: _built_in_scratch(store))
    gc = run_envlock(["gc", "--store", str(store)])
    assert gc.returncode == 0, gc.stderr
    assert {f.name for f in _artifact_files(store)} == {
        "alpha-1.0-py3-none-any.whl",
        "beta-2.0-py3-none-any.whl",
    }
    assert list((store / "v1" / "scratch").iterdir())  # the build in progress is kept too
    builder.send_signal(signal.SIGKILL)
    builder.wait()
    # a later install finds the files in the store and downloads nothing
    before = len(server.requests)
    done = run_envlock(
        ["install", "-l", str(lock), "--target", "cpu", "--store", str(store)],
        env={"ENVLOCK_LEASE_STALE_SECONDS": "2"},
    )
    assert done.returncode == 0, done.stderr
    assert len(server.requests) == before
