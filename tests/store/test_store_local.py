"""LocalStore builds: a builder that lost its lease does not publish; live scratch is never cleaned."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from envlock.store.layout import ENV_RECORD, StoreLayout
from envlock.store.local import LocalStore


def _fill(env_dir: Path, text: str) -> None:
    env_dir.mkdir()
    (env_dir / "payload").write_text(text)
    (env_dir / ENV_RECORD).write_text("{}")


def test_a_builder_whose_lease_was_taken_over_does_not_publish(tmp_path: Path) -> None:
    layout = StoreLayout(root=tmp_path / "store")
    store = LocalStore(layout, stale_seconds=0.4)
    attempts: list[int] = []

    def build(env_dir: Path, final: Path) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            # another node takes the lease over while this build runs (it then stops beating)
            layout.lease_path("demo").write_text(
                json.dumps({"token": "other", "host": "other-node", "boot-id": None, "pid": 1, "info": {}})
            )
        _fill(env_dir, f"attempt {len(attempts)}")

    outcome = store.build("demo", info={}, build=build)
    # the first build was discarded; the second, made once the other holder's lease went stale, published
    assert len(attempts) == 2
    assert outcome.built
    assert (outcome.path / "payload").read_text() == "attempt 2"


def test_scratch_of_a_live_builder_is_kept_and_a_dead_ones_removed(tmp_path: Path) -> None:
    layout = StoreLayout(root=tmp_path / "store")
    layout.ensure()
    live = layout.scratch / "demo.livetoken"  # touched by its builder's heartbeat
    dead = layout.scratch / "demo.deadtoken"
    for path in (live, dead):
        (path / "env").mkdir(parents=True)
    then = time.time() - 3600
    os.utime(dead, (then, then))
    seen: list[bool] = []

    def build(env_dir: Path, final: Path) -> None:
        seen.append(live.exists())
        seen.append(dead.exists())
        _fill(env_dir, "x")

    LocalStore(layout, stale_seconds=60).build("demo", info={}, build=build)
    assert seen == [True, False]
    assert live.exists()
