"""gc and scratch: what a build or a download in progress writes there survives a gc; leftovers do not."""

from __future__ import annotations

import os
import time
from pathlib import Path

from envlock.store.gc import apply_gc, plan_gc
from envlock.store.layout import StoreLayout


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
