"""What repeated and concurrent installs of one lock cost: a store hit runs no program and downloads
nothing; many jobs installing the same lock at once build it once and download each file once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lockmaker import FileServer, run_envlock

# Runs envlock in this process and lists every program it starts (uv, a compiler, anything).
_RECORD_PROGRAMS = """
import json, subprocess, sys
started = []
original = subprocess.Popen.__init__
def record(self, args, *rest, **kw):
    started.append([str(a) for a in args] if isinstance(args, (list, tuple)) else [str(args)])
    original(self, args, *rest, **kw)
subprocess.Popen.__init__ = record
from envlock.cli.main import main
code = main(sys.argv[1:])
print("STARTED " + json.dumps(started))
sys.exit(code)
"""


def test_a_store_hit_starts_no_program_and_downloads_nothing(
    lock: Path, store: Path, server: FileServer, tmp_path: Path
) -> None:
    first = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store), "--json"])
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["built"] is True
    server.requests.clear()
    log = (store / "v1" / "builds.log").read_text()

    env = dict(os.environ, ENVLOCK_GPUS="none", ENVLOCK_DRIVER="none")
    args = ["install", "-l", str(lock), "--target", "cpu", "--store", str(store), "--json"]
    again = subprocess.run(
        [sys.executable, "-c", _RECORD_PROGRAMS, *args], env=env, capture_output=True, text=True, check=False
    )

    assert again.returncode == 0, again.stderr
    out, started = again.stdout.rsplit("STARTED ", 1)
    assert json.loads(out)["built"] is False
    assert json.loads(started) == []
    assert server.requests == []
    assert (store / "v1" / "builds.log").read_text() == log


def test_sixteen_concurrent_installs_of_one_lock_build_once(
    lock: Path, store: Path, server: FileServer, tmp_path: Path
) -> None:
    env = dict(os.environ, ENVLOCK_GPUS="none", ENVLOCK_DRIVER="none", UV_CACHE_DIR=str(tmp_path / "uv"))
    env.pop("VIRTUAL_ENV", None)
    cmd = [sys.executable, "-m", "envlock", "install", "-l", str(lock), "--target", "cpu"]
    jobs = [
        subprocess.Popen(
            [*cmd, "--store", str(store), "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(16)
    ]
    results = [(job.wait(timeout=600), *job.communicate()) for job in jobs]

    assert [code for code, _, _ in results] == [0] * 16, [err for _, _, err in results]
    docs = [json.loads(out) for _, out, _ in results]
    assert len({d["path"] for d in docs}) == 1
    assert sum(1 for d in docs if d["built"]) == 1
    assert (store / "v1" / "builds.log").read_text().count("published") == 1
    assert sorted(server.requests) == sorted(set(server.requests))  # each file downloaded once
