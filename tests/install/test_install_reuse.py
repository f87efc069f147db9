"""A new store copies the files another store of the user holds (verified) instead of downloading them."""

from __future__ import annotations

import json
from pathlib import Path

from lockmaker import FileServer, run_envlock

from envlock.lock.read import load_lock


def _install(lock: Path, store: Path) -> dict[str, object]:
    done = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store), "--json"])
    assert done.returncode == 0, done.stderr
    doc: dict[str, object] = json.loads(done.stdout)
    return doc


def test_a_new_store_copies_from_another_store_and_downloads_nothing(
    lock: Path, tmp_path: Path, server: FileServer
) -> None:
    _install(lock, tmp_path / "store-a")
    assert len(server.requests) == 2
    server.requests.clear()

    doc = _install(lock, tmp_path / "store-b")

    assert doc["built"] is True
    assert server.requests == []
    record = json.loads((Path(str(doc["path"])) / "envlock-env.json").read_text())
    assert [p["name"] for p in record["packages"]] == ["alpha", "beta"]


def test_a_corrupt_copy_in_another_store_is_not_used(lock: Path, tmp_path: Path, server: FileServer) -> None:
    _install(lock, tmp_path / "store-a")
    target = load_lock(lock).target("cpu")
    assert target is not None
    artifact = next(a for p in target.packages for a in p.artifacts if p.name == "alpha")
    copy = tmp_path / "store-a" / "v1" / "artifacts" / "sha256" / artifact.sha256 / artifact.filename
    copy.chmod(0o644)
    copy.write_bytes(b"\0" * artifact.size)  # same size, other bytes
    server.requests.clear()

    doc = _install(lock, tmp_path / "store-b")

    assert doc["built"] is True
    assert server.requests == [artifact.url.rsplit("/", 1)[-1]]


def test_the_progress_line_says_files_may_come_from_another_store(
    lock: Path, tmp_path: Path, server: FileServer
) -> None:
    _install(lock, tmp_path / "store-a")

    done = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(tmp_path / "store-b")])

    assert done.returncode == 0, done.stderr
    assert "(or another store on this machine)" in done.stderr
    assert server.requests[2:] == []
