"""`envlock gc` and the image cache (`v1/oci/`): layers stay while the environment they were built
from is rooted and go with it; nothing of the cache goes while an image build runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import image_lock
from debian_base import DebianBase
from lockmaker import FileServer, run_envlock

pytestmark = pytest.mark.slow


def _image(lock: Path, store: Path, dest: Path, base: DebianBase) -> list[str]:
    return ["image", "-l", str(lock), "--target", "gpu", "--base", base.ref, "-o", f"oci:{dest}",
            "--store", str(store)]  # fmt: skip


def _build(lock: Path, store: Path, dest: Path, base: DebianBase) -> dict[str, Any]:
    done = run_envlock([*_image(lock, store, dest, base), "--json"], timeout=600)
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def _gc(store: Path) -> str:
    done = run_envlock(["gc", "--store", str(store)])
    assert done.returncode == 0, done.stderr
    return done.stdout


def _files(path: Path) -> set[str]:
    return {p.name for p in path.iterdir()} if path.exists() else set()


def test_gc_keeps_the_layers_of_a_rooted_environment_and_drops_them_with_it(
    debian_base: DebianBase, tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    lock = image_lock(tmp_path / "envlock.lock", wheels, server, python=debian_base.python)
    store = tmp_path / "store"
    oci = store / "v1" / "oci"
    _build(lock, store, tmp_path / "out", debian_base)
    records = _files(oci / "layers")
    assert records
    record_blobs = {json.loads((oci / "layers" / r).read_text())["digest"].split(":")[1] for r in records}

    _gc(store)
    assert _files(oci / "layers") == records
    assert record_blobs <= _files(oci / "blobs" / "sha256")
    again = _build(lock, store, tmp_path / "out2", debian_base)
    assert sum(layer["reused"] for layer in again["layers"]) == len(records)  # the cache still serves
    if os.geteuid() == 0:
        # a blob another user holds (say, one they swapped in: blobs/ is the group's) is not reused
        # without re-hashing: that layer is written again, by this user
        swapped = oci / "blobs" / "sha256" / sorted(record_blobs)[0]
        os.chown(swapped, 65534, 65534)
        third = _build(lock, store, tmp_path / "out3", debian_base)
        assert sum(layer["reused"] for layer in third["layers"]) == len(records) - 1
        assert swapped.stat().st_uid == 0

    lock.unlink()  # its root dies: the environment, and with it its layers, are garbage
    out = _gc(store)
    assert "removed env " in out and "removed oci " in out
    assert _files(oci / "layers") == set() and _files(oci / "blobs" / "sha256") == set()


def test_gc_removes_nothing_of_the_image_cache_while_an_image_build_runs(
    debian_base: DebianBase, tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    lock = image_lock(tmp_path / "envlock.lock", wheels, server, python=debian_base.python)
    store = tmp_path / "store"
    blobs = store / "v1" / "oci" / "blobs" / "sha256"
    env = dict(os.environ, ENVLOCK_TEST_IMAGE_PAUSE="60", ENVLOCK_GPUS="none", ENVLOCK_DRIVER="none")
    proc = subprocess.Popen(
        [sys.executable, "-m", "envlock", *_image(lock, store, tmp_path / "out", debian_base)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while not list(tmp_path.glob(".out.envlock-*/.index.json.*.tmp")):  # paused with its layers written
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        written = _files(blobs)
        assert written
        out = _gc(store)
        assert "oci" not in out
        assert _files(blobs) == written  # the venv layer, which no record names, included
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the build is gone: its lease no longer protects the blob no record names
    out = _gc(store)
    assert "removed oci " in out
    assert _files(blobs) < written
