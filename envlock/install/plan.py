"""The install plan: which target, which environment path, and whether it is already there (pure reads)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envlock.lock.model import Lock, LockedTarget
from envlock.store.layout import StoreLayout, env_dir_name
from envlock.store.record import EnvRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallPlan:
    """What `install` will do. `hit`: the environment exists and nothing needs building."""

    lock_path: Path
    lock: Lock
    target: LockedTarget
    store: StoreLayout
    env_name: str  # the store directory name `<hash32>-<env>-<target>`
    path: Path  # where the environment is or will be: the store path, or `--prefix`
    prefix: bool
    hit: bool


def plan_install(
    *, lock_path: Path, lock: Lock, target: LockedTarget, store: StoreLayout, prefix: Path | None
) -> InstallPlan:
    """Plan installing `target` of `lock` into `store` (or at `prefix`); reads, never writes."""
    name = env_dir_name(env_hash=target.env_hash, env_name=lock.inputs.name, target=target.name)
    if prefix is None:
        path = store.env_path(name)
        record = EnvRecord.read(path)
        hit = record is not None
    else:
        path = prefix.absolute()
        record = EnvRecord.read(path)
        hit = record is not None and record.env_hash == target.env_hash
    return InstallPlan(
        lock_path=lock_path,
        lock=lock,
        target=target,
        store=store,
        env_name=name,
        path=path,
        prefix=prefix is not None,
        hit=hit,
    )
