"""Garbage collection: a pure plan of what no root holds, then a separate step that removes it.

Live: every environment a live root names (store environments and `--prefix` environments), every
environment and artifact named by a build lease that is still alive (a build in progress), and every
artifact a live environment's record lists. Garbage: the other store environments and artifacts,
dead roots, and scratch left by builds whose lease is gone or stale, and download files (the store's
`artifact-...` and the index client's `.artifact-....part`) untouched for the stale time.

Unpacked interpreters (`v1/python/`): live while an environment that stays in the store (or a live
`--prefix` environment) is built on one, and while a live build lease names its archive (an install
unpacks or finds its interpreter only while it holds its build lease). The image cache (`v1/oci/`):
nothing of it is removed while an image build holds its lease; otherwise a layer record stays while
every file it was built from is used by a live environment, a layer blob while a kept record names
it, and the rest (base copies, base facts, records of an older envlock, leftovers) is removed: the
next image build fetches or rebuilds it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from envlock.store.errors import store_error
from envlock.store.interpreters import interpreters_dir
from envlock.store.layout import StoreLayout, new_token
from envlock.store.lease import LeaseHolder
from envlock.store.modes import remove_tree
from envlock.store.record import EnvRecord
from envlock.store.roots import read_roots


@dataclass(frozen=True, slots=True, kw_only=True)
class GcItem:
    path: Path
    kind: str  # "env" | "artifact" | "root" | "scratch" | "lease" | "python" | "oci"
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


IMAGE_LEASE_PREFIX = "image-"  # the lease an image build holds while it reads and writes `v1/oci/`


def _oci_dir(layout: StoreLayout) -> Path:
    return layout.base / "oci"


def _python_of(env: Path, layout: StoreLayout) -> str | None:
    """The name of the store interpreter (`v1/python/<name>`) the environment `env` is built on, if
    any: from the interpreter path its record holds (whichever path reached the store then), else
    from its `pyvenv.cfg`."""
    record = EnvRecord.read(env)
    paths = [record.interpreter] if record is not None else []
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in (env / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home":
                paths.append(value.strip())
    for path in paths:
        parts = Path(path).parts
        for i in range(1, len(parts) - 1):
            if parts[i] == "python" and parts[i - 1] == layout.base.name:
                return parts[i + 1]
    return None


def _pythons_in_use(layout: StoreLayout, envs: set[Path], building_shas: set[str]) -> set[str]:
    """Names in `v1/python/` that `envs` or a build in progress (by its archive) uses."""
    used = {name for env in envs if (name := _python_of(env, layout)) is not None}
    building = {s[:32] for s in building_shas}
    with contextlib.suppress(FileNotFoundError):
        used.update(e.name for e in interpreters_dir(layout).iterdir() if e.name[:32] in building)
    return used


def _envs_present(layout: StoreLayout) -> set[Path]:
    with contextlib.suppress(FileNotFoundError):
        return set(layout.envs.iterdir())
    return set()


def _plan_oci(layout: StoreLayout, referenced: set[str]) -> list[GcItem]:
    """What of the image cache no live environment reaches (see the module docstring)."""
    oci = _oci_dir(layout)
    remove: list[GcItem] = []
    kept_blobs: set[str] = set()
    with contextlib.suppress(FileNotFoundError):
        for entry in sorted((oci / "layers").iterdir()):
            artifacts: object = None
            digest: object = None
            with contextlib.suppress(OSError, ValueError, AttributeError):
                doc = json.loads(entry.read_text(encoding="utf-8"))
                artifacts, digest = doc.get("artifacts"), doc.get("digest")
            if (
                entry.name.endswith(".json")
                and isinstance(artifacts, list)
                and artifacts
                and all(isinstance(a, str) and a in referenced for a in artifacts)
                and isinstance(digest, str)
            ):
                kept_blobs.add(digest.split(":", 1)[-1])
                continue
            reason = "a layer of packages no rooted environment uses"
            remove.append(GcItem(path=entry, kind="oci", reason=reason, size=_size(entry)))
    with contextlib.suppress(FileNotFoundError):
        for blob in sorted((oci / "blobs" / "sha256").iterdir()):
            if blob.name not in kept_blobs:
                reason = "a layer no kept record names"
                remove.append(GcItem(path=blob, kind="oci", reason=reason, size=_size(blob)))
    for sub, reason in (("bases", "a copy of a base image"), ("facts", "what a base image holds")):
        with contextlib.suppress(FileNotFoundError):
            for entry in sorted((oci / sub).iterdir()):
                remove.append(
                    GcItem(path=entry, kind="oci", reason=f"{reason}; no root holds it", size=_size(entry))
                )
    return remove


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
    staying = set(kept) | {e for e in live_envs if e.parent != envs_dir}  # kept store envs, prefixes
    pythons = _pythons_in_use(layout, staying, in_use)
    with contextlib.suppress(FileNotFoundError):
        for python in sorted(interpreters_dir(layout).iterdir()):
            if python.name not in pythons:
                reason = "no environment that stays is built on it"
                remove.append(GcItem(path=python, kind="python", reason=reason, size=_size(python)))
    if not any(n.startswith(IMAGE_LEASE_PREFIX) for n in live_lease_files):
        remove.extend(_plan_oci(layout, referenced))
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
    building, in_use, live_lease_files = _live_leases(layout, stale_seconds)
    oci_busy = any(n.startswith(IMAGE_LEASE_PREFIX) for n in live_lease_files)
    removed: list[GcItem] = []
    pythons: set[str] | None = None
    for item in sorted(plan.remove, key=lambda i: i.kind == "python"):  # interpreters after environments
        if item.kind == "env" and item.path.name in building:
            continue
        if item.kind == "artifact" and item.path.name in in_use:
            continue
        if item.kind == "oci" and oci_busy:
            continue
        if item.kind == "python":
            if pythons is None:  # what stays now: environments this user could not remove included
                staying = _envs_present(layout) | {r.env for r in read_roots(layout) if r.live}
                pythons = _pythons_in_use(layout, staying, in_use)
            if item.path.name in pythons:
                continue
        try:
            if item.kind in ("env", "python"):
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
            elif item.kind == "root":
                try:
                    item.path.unlink()
                except PermissionError:
                    continue  # another user's, in a sticky roots/: theirs to remove
                except FileNotFoundError:
                    pass
                with contextlib.suppress(FileNotFoundError):
                    item.path.with_name(item.path.name + ".lock").unlink()
            else:
                with contextlib.suppress(FileNotFoundError):
                    item.path.unlink()
        except OSError as exc:  # a read-only or foreign store: say so, having removed what came before
            raise store_error(exc, item.path, f"remove the {item.kind}") from exc
        removed.append(item)
    return removed
