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
    *,
    lock_path: Path,
    lock: Lock,
    target: LockedTarget,
    store: StoreLayout,
    prefix: Path | None,
    python_override: Path | None = None,
) -> InstallPlan:
    """Plan installing `target` of `lock` into `store` (or at `prefix`); reads, never writes.

    With `python_override` (`--python PATH`) the environment is another one than the locked: its
    store path is keyed by the interpreter's path too, and a prefix is always rebuilt.
    """
    key = target.env_hash
    if python_override is not None:
        from envlock.lock.digest import sha256_json

        key = sha256_json({"env-hash": target.env_hash, "python-override": str(python_override)})
    name = env_dir_name(env_hash=key, env_name=lock.inputs.name, target=target.name)
    if prefix is None:
        path = store.env_path(name)
        record = EnvRecord.read(path)
        hit = record is not None
    else:
        path = prefix.absolute()
        record = EnvRecord.read(path)
        hit = (
            record is not None
            and record.env_hash == target.env_hash
            and python_override is None
            and record.interpreter_source != "override"
        )
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
