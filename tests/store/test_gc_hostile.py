"""gc in a group store whose members may put anything in it: it neither hangs nor fails on what it
cannot read, and it leaves another user's entries of the sticky directories to that user, saying so."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from envlock.store.gc import apply_gc, plan_gc
from envlock.store.layout import StoreLayout

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


def _gc(store: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "envlock", "gc", "--store", str(store), *extra],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip


def _python_dir(layout: StoreLayout, name: str) -> Path:
    path = layout.base / "python" / name
    (path / "python" / "bin").mkdir(parents=True)
    (path / ".envlock-complete").write_text("x\n")
    return path


def test_gc_neither_hangs_nor_fails_on_fifos_devices_and_huge_files(tmp_path: Path) -> None:
    layout = StoreLayout(root=tmp_path / "store")
    layout.ensure()
    layers = layout.base / "oci" / "layers"
    layers.mkdir(parents=True)
    os.mkfifo(layers / "fifo.json")
    (layers / "zero.json").symlink_to("/dev/zero")
    with (layers / "huge.json").open("wb") as f:
        f.truncate(1 << 30)  # sparse: takes no disk
    (layers / "dir.json").mkdir()
    # an environment of someone's whose record and pyvenv.cfg are FIFOs, held by a root
    evil = layout.envs / "evil"
    evil.mkdir()
    os.mkfifo(evil / "pyvenv.cfg")
    os.mkfifo(evil / "envlock-env.json")
    (layout.roots / f"u{os.getuid()}-mine").symlink_to("../envs/evil")
    os.mkfifo(layout.leases / "x.lease")
    (layout.scratch / "build.1234").mkdir()
    os.mkfifo(layout.scratch / "build.1234" / "owner.json")
    interpreter = _python_dir(layout, "0" * 32 + "-cpython-3.11.7")

    dry = _gc(layout.root, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    doc = json.loads(dry.stdout)
    warned = {Path(w["path"]).relative_to(layout.base): w["reason"] for w in doc["warnings"]}
    assert warned == {
        Path("oci/layers/fifo.json"): "not read: a FIFO, not a regular file",
        Path("oci/layers/zero.json"): "not read: a symlink, not a regular file",
        Path("oci/layers/huge.json"): (
            "not read: 1073741824 bytes, more than the 4194304 envlock reads of such a file"
        ),
        Path("oci/layers/dir.json"): "not read: a directory, not a regular file",
        Path("envs/evil/pyvenv.cfg"): "not read: a FIFO, not a regular file",
        Path("envs/evil/envlock-env.json"): "not read: a FIFO, not a regular file",
        Path("envs/evil"): "its interpreter cannot be told: every interpreter stays",
        Path("leases/x.lease"): "not read: a FIFO, not a regular file",
    }
    would = {Path(i["path"]).relative_to(layout.base) for i in doc["would-remove"]}
    assert would == {Path("oci/layers") / n for n in ("fifo.json", "zero.json", "huge.json", "dir.json")}

    done = _gc(layout.root)
    assert done.returncode == 0, done.stderr
    assert "warning: " in done.stderr and "oci/layers/fifo.json: not read: a FIFO" in done.stderr
    assert list(layers.iterdir()) == []  # not records of envlock's: gone, without being read
    assert evil.is_dir() and interpreter.is_dir()  # rooted; and what it is built on cannot be told
    assert stat.S_ISFIFO((layout.leases / "x.lease").lstat().st_mode)  # fresh: alive like an empty lease


@pytest.fixture
def open_store() -> Iterator[Path]:
    """A store directory user nobody can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="envlock-gc-sticky-", dir="/tmp"))
    path.chmod(0o755)
    yield path / "store"
    shutil.rmtree(path, ignore_errors=True)


def _as_nobody(layout: StoreLayout) -> dict[str, object]:
    """gc run in a child process that became user nobody: what it removed and noted."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            outcome = apply_gc(plan_gc(layout, stale_seconds=600), layout, stale_seconds=600)
            report = {"removed": [str(i.path) for i in outcome.removed],
                      "notes": {str(n.path): n.reason for n in outcome.notes}}  # fmt: skip
            code = 0
        except BaseException as exc:
            report = {"error": repr(exc)}
        finally:
            os.write(write, json.dumps(report).encode())
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    doc: dict[str, object] = json.loads(data)
    assert os.waitstatus_to_exitcode(status) == 0, doc
    return doc


def test_gc_by_another_user_leaves_roots_entries_of_sticky_dirs_and_says_so(open_store: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: gc runs as user nobody against entries root owns")
    layout = StoreLayout(root=open_store)
    layout.ensure()
    python, oci = layout.base / "python", layout.base / "oci"
    for sub in (python, oci / "layers", oci / "bases"):
        sub.mkdir(parents=True, exist_ok=True)  # ensure() makes python/ and oci/
    sticky = (layout.root, layout.base, layout.envs, layout.roots, python, oci, oci / "layers", oci / "bases")
    for d in sticky:
        d.chmod(0o1777)  # sticky, like a group store's
    for d in (layout.scratch, layout.leases, layout.base / "artifacts", layout.artifacts):
        d.chmod(0o777)
    roots_env = layout.envs / "0123-demo-cpu"
    (roots_env / "bin").mkdir(parents=True)
    roots_env.chmod(0o555)  # published: read-only
    roots_python = _python_dir(layout, "a" * 32 + "-cpython-3.11.7")
    mine_python = _python_dir(layout, "b" * 32 + "-cpython-3.11.7")
    (oci / "layers" / "roots.json").write_text("{}")
    (oci / "layers" / "mine.json").write_text("{}")
    roots_base = oci / "bases" / "roots"
    roots_base.mkdir(mode=0o777)
    (roots_base / "blob").write_text("layer")
    (roots_base / "blob").chmod(0o666)
    (oci / "bases" / "mine").mkdir()
    for mine in (mine_python, oci / "layers" / "mine.json", oci / "bases" / "mine"):
        for dirpath, _dirs, files in os.walk(mine):
            for name in (Path(dirpath), *(Path(dirpath) / f for f in files)):
                os.lchown(name, NOBODY, NOBODY)
        os.lchown(mine, NOBODY, NOBODY)

    report = _as_nobody(layout)

    paths = report["removed"]
    assert isinstance(paths, list)
    removed = {Path(p).relative_to(layout.base) for p in paths}
    assert removed == {Path("python", mine_python.name), Path("oci/layers/mine.json"), Path("oci/bases/mine")}
    notes = report["notes"]
    assert isinstance(notes, dict)
    for kept in (roots_env, roots_python, oci / "layers" / "roots.json", roots_base):
        assert kept.exists(), kept
        assert notes[str(kept)].startswith("not removed: Operation not permitted (owned by uid 0"), notes
    assert (roots_base / "blob").read_text() == "layer"  # not emptied either
    assert not mine_python.exists() and not (oci / "bases" / "mine").exists()
    assert list(layout.scratch.iterdir()) == []


def test_a_fifo_among_the_roots_does_not_hang_gc(tmp_path: Path) -> None:
    """A root that is not a link is read as the path it holds; a FIFO there (anyone in the group may
    make one) is not a root and is never opened."""
    layout = StoreLayout(root=tmp_path / "store")
    layout.ensure()
    os.mkfifo(layout.roots / f"u{os.getuid()}-fifo")
    dry = _gc(layout.root, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
