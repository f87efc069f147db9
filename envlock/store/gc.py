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

A group store's members may put anything in it: every small file gc reads there (leases, records,
`pyvenv.cfg`, layer records) is read through `envlock.store.safe_read`, so a FIFO, a device or a
huge file is noted (`GcNote`) and not read, and gc neither hangs nor fails on it. An interpreter is
kept while an environment that stays cannot be read to say which one it is built on. In the sticky
directories (`envs/`, `roots/`, `python/`, `oci/`), another user's entries are left to that user:
gc removes what it may and notes each entry it could not.
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
from envlock.store.layout import ENV_RECORD, StoreLayout, new_token
from envlock.store.lease import LeaseHolder
from envlock.store.modes import remove_tree
from envlock.store.record import EnvRecord
from envlock.store.roots import read_roots
from envlock.store.safe_read import NotAStoreFile, read_store_file, refusal


@dataclass(frozen=True, slots=True, kw_only=True)
class GcItem:
    path: Path
    kind: str  # "env" | "artifact" | "root" | "scratch" | "lease" | "python" | "oci"
    reason: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GcNote:
    """A store entry gc did not read or could not remove, and why (worth a warning)."""

    path: Path
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GcPlan:
    store: Path
    remove: tuple[GcItem, ...]
    kept_envs: tuple[Path, ...]
    notes: tuple[GcNote, ...] = ()

    @property
    def total_bytes(self) -> int:
        return sum(i.size for i in self.remove)


@dataclass(frozen=True, slots=True, kw_only=True)
class GcOutcome:
    """What `apply_gc` removed, and what of the plan it left and why (another user's entries)."""

    removed: tuple[GcItem, ...]
    notes: tuple[GcNote, ...]


def _read(path: Path, notes: list[GcNote]) -> bytes | None:
    """The bytes of the store file at `path`, None when it is not there or not one to read (noted)."""
    try:
        return read_store_file(path)
    except FileNotFoundError:
        return None
    except NotAStoreFile as exc:
        notes.append(GcNote(path=path, reason=f"not read: {exc.why}"))
    except OSError as exc:
        notes.append(GcNote(path=path, reason=f"not read: {exc.strerror or exc}"))
    return None


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


def _live_leases(
    layout: StoreLayout, stale_seconds: float, notes: list[GcNote] | None = None
) -> tuple[set[str], set[str], set[str]]:
    """(env names being built, artifact hashes in use, lease file names) of leases still alive; a
    lease that is not a regular file is alive while its mtime is fresh, like an empty one."""
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
            body = _read(lease, notes if notes is not None else [])
            holder = LeaseHolder.parse(body) if body is not None else None
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


class _Unknown(Exception):
    """An environment's interpreter cannot be told: its record and `pyvenv.cfg` are not readable."""


def _python_of(env: Path, layout: StoreLayout, notes: list[GcNote]) -> str | None:
    """The name of the store interpreter (`v1/python/<name>`) the environment `env` is built on, if
    any: from the interpreter path its record holds (whichever path reached the store then), else
    from its `pyvenv.cfg`. Raises `_Unknown` when neither says and one of them is there but was not
    read (see the module docstring)."""
    record = EnvRecord.read(env)
    paths = [record.interpreter] if record is not None else []
    unread = len(notes)
    refused = refusal(env / ENV_RECORD) if record is None else None
    if refused is not None:
        notes.append(GcNote(path=env / ENV_RECORD, reason=f"not read: {refused}"))
    cfg = _read(env / "pyvenv.cfg", notes)
    with contextlib.suppress(UnicodeDecodeError):
        for line in (cfg or b"").decode("utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home":
                paths.append(value.strip())
    for path in paths:
        parts = Path(path).parts
        for i in range(1, len(parts) - 1):
            if parts[i] == "python" and parts[i - 1] == layout.base.name:
                return parts[i + 1]
    if len(notes) > unread:
        raise _Unknown
    return None


def _pythons_in_use(
    layout: StoreLayout, envs: set[Path], building_shas: set[str], notes: list[GcNote]
) -> set[str] | None:
    """Names in `v1/python/` that `envs` or a build in progress (by its archive) uses; None when
    one of `envs` cannot be read to tell (then every interpreter stays)."""
    used: set[str] = set()
    unknown = False
    for env in sorted(envs):
        try:
            name = _python_of(env, layout, notes)
        except _Unknown:
            unknown = True
            notes.append(GcNote(path=env, reason="its interpreter cannot be told: every interpreter stays"))
            continue
        if name is not None:
            used.add(name)
    if unknown:
        return None
    building = {s[:32] for s in building_shas}
    with contextlib.suppress(FileNotFoundError):
        used.update(e.name for e in interpreters_dir(layout).iterdir() if e.name[:32] in building)
    return used


def _envs_present(layout: StoreLayout) -> set[Path]:
    with contextlib.suppress(FileNotFoundError):
        return set(layout.envs.iterdir())
    return set()


def _plan_oci(layout: StoreLayout, referenced: set[str], notes: list[GcNote]) -> list[GcItem]:
    """What of the image cache no live environment reaches (see the module docstring)."""
    oci = _oci_dir(layout)
    remove: list[GcItem] = []
    kept_blobs: set[str] = set()
    with contextlib.suppress(FileNotFoundError):
        for entry in sorted((oci / "layers").iterdir()):
            artifacts: object = None
            digest: object = None
            body = _read(entry, notes) if entry.name.endswith(".json") else None
            with contextlib.suppress(ValueError, AttributeError):
                doc = json.loads(body or b"null")
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
            if body is None:
                reason = "not a layer record envlock reads"
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
    notes: list[GcNote] = []
    building, in_use, live_lease_files = _live_leases(layout, stale_seconds, notes)
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
        elif (refused := refusal(env / ENV_RECORD)) is not None:
            notes.append(GcNote(path=env / ENV_RECORD, reason=f"not read: {refused}"))
    envs_dir = layout.envs.resolve() if layout.envs.exists() else layout.envs
    with contextlib.suppress(FileNotFoundError):
        for env in sorted(envs_dir.iterdir()):
            if env in live_envs or env.name in building or _identity(env) in live_ids:
                kept.append(env)
                continue
            remove.append(GcItem(path=env, kind="env", reason="no root holds it", size=_size(env)))
    staying = set(kept) | {e for e in live_envs if e.parent != envs_dir}  # kept store envs, prefixes
    pythons = _pythons_in_use(layout, staying, in_use, notes)
    with contextlib.suppress(FileNotFoundError):
        for python in sorted(interpreters_dir(layout).iterdir()):
            if pythons is not None and python.name not in pythons:
                reason = "no environment that stays is built on it"
                remove.append(GcItem(path=python, kind="python", reason=reason, size=_size(python)))
    if not any(n.startswith(IMAGE_LEASE_PREFIX) for n in live_lease_files):
        remove.extend(_plan_oci(layout, referenced, notes))
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
    unique = tuple(dict.fromkeys(notes))  # a file read twice (record of a kept, rooted env) is noted once
    return GcPlan(store=layout.root, remove=tuple(remove), kept_envs=tuple(kept), notes=unique)


def _not_ours(path: Path, exc: OSError) -> GcNote:
    """The note for an entry this user may not remove (another user's, in a sticky directory)."""
    why = exc.strerror or str(exc)
    try:
        owner = path.lstat().st_uid
    except OSError:
        return GcNote(path=path, reason=f"not removed: {why}")
    if owner == os.geteuid():
        return GcNote(path=path, reason=f"not removed: {why}")
    return GcNote(path=path, reason=f"not removed: {why} (owned by uid {owner}; left to its owner)")


_OTHERS = (errno.EPERM, errno.EACCES)  # what the kernel says to a user removing another's entry


def apply_gc(plan: GcPlan, layout: StoreLayout, *, stale_seconds: float) -> GcOutcome:
    """Remove what `plan` lists, except what a build that started since the plan now uses, and
    except what this user may not remove (another user's entries of a sticky directory: noted).

    Directories (environments, interpreters, image cache entries) are first renamed into scratch,
    so no reader ever sees half of one, and none of another user's is emptied but left standing.
    """
    building, in_use, live_lease_files = _live_leases(layout, stale_seconds)
    oci_busy = any(n.startswith(IMAGE_LEASE_PREFIX) for n in live_lease_files)
    removed: list[GcItem] = []
    notes: list[GcNote] = []
    pythons: set[str] | None = None
    unknown = False
    for item in sorted(plan.remove, key=lambda i: i.kind == "python"):  # interpreters after environments
        if item.kind == "env" and item.path.name in building:
            continue
        if item.kind == "artifact" and item.path.name in in_use:
            continue
        if item.kind == "oci" and oci_busy:
            continue
        if item.kind == "python":
            if pythons is None and not unknown:  # what stays now: others' environments included
                staying = _envs_present(layout) | {r.env for r in read_roots(layout) if r.live}
                pythons = _pythons_in_use(layout, staying, in_use, [])
                unknown = pythons is None
            if pythons is None or item.path.name in pythons:
                continue
        try:
            is_dir = item.path.is_dir() and not item.path.is_symlink()
            if item.kind in ("env", "python") or (item.kind == "oci" and is_dir):
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
                    if exc.errno != errno.ENOENT:  # else gone meanwhile
                        notes.append(_not_ours(item.path, exc))
                    continue
                remove_tree(doomed)
            elif is_dir:
                remove_tree(item.path)
            elif item.kind == "root":
                try:
                    item.path.unlink()
                except PermissionError as exc:
                    notes.append(_not_ours(item.path, exc))  # in a sticky roots/: theirs to remove
                    continue
                except FileNotFoundError:
                    pass
                with contextlib.suppress(FileNotFoundError):
                    item.path.with_name(item.path.name + ".lock").unlink()
            else:
                try:
                    item.path.unlink()
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    if exc.errno not in _OTHERS:
                        raise
                    notes.append(_not_ours(item.path, exc))
                    continue
        except OSError as exc:  # a read-only or foreign store: say so, having removed what came before
            raise store_error(exc, item.path, f"remove the {item.kind}") from exc
        removed.append(item)
    return GcOutcome(removed=tuple(removed), notes=tuple(notes))
