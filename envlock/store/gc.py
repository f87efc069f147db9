"""Garbage collection: a pure plan of what no root holds, then a separate step that removes it.

Live: every environment a live root names (store environments and `--prefix` environments), every
environment and artifact named by a build lease that is still alive (a build in progress), and every
artifact a live environment's record lists. Garbage: the other store environments and artifacts,
dead roots, and scratch left by builds whose lease is gone or stale, and download files (the store's
`artifact-...` and the index client's `.artifact-....part`) untouched for the stale time.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from envlock.store.errors import store_error
from envlock.store.layout import StoreLayout, new_token
from envlock.store.lease import LeaseHolder
from envlock.store.modes import remove_tree
from envlock.store.record import EnvRecord
from envlock.store.roots import read_roots


@dataclass(frozen=True, slots=True, kw_only=True)
class GcItem:
    path: Path
    kind: str  # "env" | "artifact" | "root" | "scratch" | "lease"
    reason: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GcPlan:
    store: Path
    remove: tuple[GcItem, ...]
    kept_envs: tuple[Path, ...]

    @property
    def total_bytes(self) -> int:
        return sum(i.size for i in self.remove)


def _size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        with contextlib.suppress(OSError):
            return path.lstat().st_size
        return 0
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += (Path(dirpath) / f).lstat().st_size
    return total


def _live_leases(layout: StoreLayout, stale_seconds: float) -> tuple[set[str], set[str], set[str]]:
    """(env names being built, artifact hashes in use, lease file names) of leases still alive."""
    envs: set[str] = set()
    shas: set[str] = set()
    names: set[str] = set()
    now = time.time()
    with contextlib.suppress(FileNotFoundError):
        for lease in layout.leases.iterdir():
            try:
                age = now - lease.stat().st_mtime
            except FileNotFoundError:
                continue
            holder = LeaseHolder.read(lease)
            if age > stale_seconds or (holder is not None and holder.is_dead_here()):
                continue
            names.add(lease.name)
            if holder is not None:
                env = holder.info.get("env")
                if isinstance(env, str):
                    envs.add(env)
                arts = holder.info.get("artifacts")
                if isinstance(arts, list):
                    shas.update(a for a in arts if isinstance(a, str))
    return envs, shas, names


def _is_download(name: str) -> bool:
    """A file a download writes in scratch: the store's `artifact-<token>-<file>`, or the index
    client's temporary `.artifact-<token>-<file>.<random>.part` beside it. Neither names a lease, so
    they are judged by age: one untouched for the stale time belongs to a download that died."""
    return name.lstrip(".").startswith("artifact-")


def _owner_dead(entry: Path) -> bool:
    """A build scratch directory whose owner file names a process of this host that is gone."""
    if not entry.is_dir() or entry.is_symlink():
        return False
    owner = LeaseHolder.read(entry / "owner.json")
    return owner is not None and owner.is_dead_here()


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def plan_gc(layout: StoreLayout, *, stale_seconds: float) -> GcPlan:
    """What `envlock gc` would remove from the store at `layout` (reads the store, changes nothing)."""
    remove: list[GcItem] = []
    building, in_use, live_lease_files = _live_leases(layout, stale_seconds)
    live_envs: set[Path] = set()
    live_ids: set[tuple[int, int]] = set()  # (device, inode): the same directory under any name
    for root in read_roots(layout):
        if root.live:
            live_envs.add(root.env.resolve())
            with contextlib.suppress(OSError):
                st = root.env.stat()
                live_ids.add((st.st_dev, st.st_ino))
        else:
            remove.append(GcItem(path=root.path, kind="root", reason=root.reason or "dead", size=0))
    referenced = set(in_use)
    kept: list[Path] = []
    for env in sorted(live_envs):
        record = EnvRecord.read(env)
        if record is not None:
            referenced.update(p.sha256 for p in record.packages)
    envs_dir = layout.envs.resolve() if layout.envs.exists() else layout.envs
    with contextlib.suppress(FileNotFoundError):
        for env in sorted(envs_dir.iterdir()):
            if env in live_envs or env.name in building or _identity(env) in live_ids:
                kept.append(env)
                continue
            remove.append(GcItem(path=env, kind="env", reason="no root holds it", size=_size(env)))
    with contextlib.suppress(FileNotFoundError):
        for art in sorted(layout.artifacts.iterdir()):
            if art.name not in referenced:
                remove.append(
                    GcItem(path=art, kind="artifact", reason="no rooted environment uses it", size=_size(art))
                )
    now = time.time()
    with contextlib.suppress(FileNotFoundError):
        for entry in sorted(layout.scratch.iterdir()):
            if not _is_download(entry.name) and f"{entry.name.split('.', 1)[0]}.lease" in live_lease_files:
                continue  # the scratch of a build in progress
            try:
                fresh = now - entry.lstat().st_mtime < stale_seconds
            except FileNotFoundError:
                continue  # finished (renamed into the store) meanwhile
            if fresh and not _owner_dead(entry):
                continue  # a download writes its file; a builder's heartbeat touches its scratch
            remove.append(
                GcItem(path=entry, kind="scratch", reason="left by a build that is gone", size=_size(entry))
            )
    with contextlib.suppress(FileNotFoundError):
        for lease in sorted(layout.leases.iterdir()):
            if lease.name not in live_lease_files:
                remove.append(GcItem(path=lease, kind="lease", reason="stale build lease", size=0))
    return GcPlan(store=layout.root, remove=tuple(remove), kept_envs=tuple(kept))


def apply_gc(plan: GcPlan, layout: StoreLayout, *, stale_seconds: float) -> list[GcItem]:
    """Remove what `plan` lists, except what a build that started since the plan now uses.

    Environments are first renamed into scratch, so no reader ever sees half of one.
    """
    building, in_use, _ = _live_leases(layout, stale_seconds)
    removed: list[GcItem] = []
    for item in plan.remove:
        if item.kind == "env" and item.path.name in building:
            continue
        if item.kind == "artifact" and item.path.name in in_use:
            continue
        try:
            if item.kind == "env":
                doomed = layout.scratch / f"gc-{new_token()}"
                # A published environment is read-only, and a directory moves to another directory
                # only while it is writable (by its owner: another user's environment stays).
                with contextlib.suppress(OSError):
                    item.path.chmod(stat.S_IMODE(item.path.stat().st_mode) | stat.S_IWUSR)
                try:
                    item.path.rename(doomed)
                except OSError as exc:
                    if exc.errno == errno.EROFS:
                        raise  # the whole store is read-only: said once, below
                    continue  # gone meanwhile, or another user's that this user may not remove
                remove_tree(doomed)
            elif item.path.is_dir() and not item.path.is_symlink():
                remove_tree(item.path)
            else:
                with contextlib.suppress(FileNotFoundError):
                    item.path.unlink()
                if item.kind == "root":
                    with contextlib.suppress(FileNotFoundError):
                        item.path.with_name(item.path.name + ".lock").unlink()
        except OSError as exc:  # a read-only or foreign store: say so, having removed what came before
            raise store_error(exc, item.path, f"remove the {item.kind}") from exc
        removed.append(item)
    return removed
