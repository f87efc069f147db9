"""gc and scratch: what a build or a download in progress writes there survives a gc; leftovers do not."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

from envlock.store.gc import apply_gc, plan_gc
from envlock.store.layout import StoreLayout, hostname
from envlock.store.roots import add_root, lock_root_name, read_roots


def _layout(tmp_path: Path) -> StoreLayout:
    layout = StoreLayout(root=tmp_path / "store")
    layout.ensure()
    return layout


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_downloads_in_progress_survive_gc_and_dead_ones_do_not(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    # the store's scratch file of a download, and the index client's temporary file beside it
    store_tmp = layout.scratch / "artifact-0a1b2c-alpha-1.0-py3-none-any.whl"
    client_tmp = layout.scratch / ".artifact-0a1b2c-alpha-1.0-py3-none-any.whl.x8y9z0.part"
    dead_tmp = layout.scratch / ".artifact-ffffff-beta-2.0-py3-none-any.whl.q1w2e3.part"
    for path in (store_tmp, client_tmp, dead_tmp):
        path.write_bytes(b"partial")
    _age(dead_tmp, 3600)
    plan = plan_gc(layout, stale_seconds=600)
    assert [i.path.name for i in plan.remove] == [dead_tmp.name]
    apply_gc(plan, layout, stale_seconds=600)
    assert store_tmp.exists() and client_tmp.exists() and not dead_tmp.exists()


def _python_dir(layout: StoreLayout, sha256: str) -> Path:
    path = layout.base / "python" / f"{sha256[:32]}-cpython-3.11.7"
    (path / "python" / "bin").mkdir(parents=True)
    (path / ".envlock-complete").write_text(sha256 + "\n")
    return path


def test_an_interpreter_a_build_in_progress_names_survives_gc_and_an_unused_one_does_not(
    tmp_path: Path,
) -> None:
    layout = _layout(tmp_path)
    in_use, unused = "a" * 64, "b" * 64
    kept, dropped = _python_dir(layout, in_use), _python_dir(layout, unused)
    _age(kept, 3600)
    # a live build (this very process) whose lease names the interpreter's archive among its files
    lease = layout.lease_path("0123-demo-cpu")
    lease.write_text(
        json.dumps(
            {"token": "t", "host": hostname(), "boot-id": None, "pid": os.getpid(),
             "info": {"env": "0123-demo-cpu", "artifacts": [in_use]}}
        )
    )  # fmt: skip
    plan = plan_gc(layout, stale_seconds=600)
    assert [(i.kind, i.path) for i in plan.remove] == [("python", dropped)]
    apply_gc(plan, layout, stale_seconds=600)
    assert kept.is_dir() and not dropped.exists()
    assert list(layout.scratch.iterdir()) == []  # removed through scratch, nothing left there


def test_a_group_store_keeps_each_users_roots_apart(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    store.chmod(0o2775)
    layout = StoreLayout(root=store)
    old = os.umask(0o002)
    try:
        layout.ensure()
    finally:
        os.umask(old)
    # only a root's owner may remove or replace it, nor can anyone move roots/ or envs/ aside
    assert all(d.stat().st_mode & stat.S_ISVTX for d in (layout.roots, layout.envs, layout.base))
    env = layout.envs / "0123-demo-cpu"
    env.mkdir()
    lock = tmp_path / "envlock.lock"
    lock.write_text("")
    # a root as an older envlock named it (no uid), owned by this user: the next install replaces it
    legacy = lock_root_name(lock, "cpu")
    (layout.roots / legacy).symlink_to("../envs/0123-demo-cpu")
    (layout.roots / (legacy + ".lock")).symlink_to(lock)
    link = add_root(layout, legacy, env, lock_path=lock)
    assert link.name == f"u{os.getuid()}-{legacy}"
    assert sorted(p.name for p in layout.roots.iterdir()) == [link.name, link.name + ".lock"]
    assert [r.live for r in read_roots(layout)] == [True]
