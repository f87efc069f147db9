"""GC roots: symlinks in `v1/roots/` naming the environments that `envlock gc` must keep.

An install from a lock file registers `u<uid>-lock-<16 hex of the lock's path>-<target>` pointing to
the environment, plus `<same>.lock` pointing to the lock file: re-installing a changed lock moves the
root (so the old environment becomes garbage), and a root whose lock file is gone is dead. A
`--prefix` install registers `u<uid>-prefix-<16 hex of the prefix path>`. Anyone may add a symlink of
their own to keep an environment alive; it stays live while its target exists.

Roots are per user (`u<uid>-`): in a store shared through a group, `roots/` has the sticky bit (see
`StoreLayout.ensure`), so no user can remove or replace another user's root, and users who install
the same lock each hold their own root instead of moving one another's. A root named without the
uid (an older envlock) is replaced by its owner's next install. Root names are predictable, so
another user could make `u<uid>-...` first: such an entry (named for a uid that does not own it) is
not read as a root, and the install whose root name is taken says who holds it.

A root of a store environment is a relative link (`../envs/<name>`), so it holds the same directory
whichever path reaches the store (bind mounts, symlinks, automounters); `envlock gc` also matches
roots to environments by device and inode, and reads an absolute root that names `.../envs/<name>`
as holding this store's `<name>` when its own path does not exist here.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from envlock.errors import StoreError
from envlock.store.errors import store_error
from envlock.store.layout import StoreLayout, new_token

LOCK_SUFFIX = ".lock"


def _h16(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def lock_root_name(lock_path: Path, target: str) -> str:
    return f"lock-{_h16(str(lock_path.resolve()))}-{target}"


def prefix_root_name(prefix: Path) -> str:
    return f"prefix-{_h16(str(prefix.resolve()))}"


def _symlink(link: Path, target: Path) -> None:
    try:
        if str(link.readlink()) == str(target) and _foreign_owner(link) is None:
            return
    except OSError:
        pass
    tmp = link.with_name(f".{link.name}.{new_token()}")
    try:
        tmp.symlink_to(target)
        tmp.replace(link)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        foreign = _foreign_owner(link) if exc.errno in (errno.EPERM, errno.EACCES, errno.EEXIST) else None
        if foreign is not None:
            raise StoreError(
                f"store: cannot register the GC root {link}: that name is taken by uid {foreign}, not by "
                "you (in the store's sticky roots/ directory only its owner may replace it); the "
                "environment is installed but `envlock gc` may remove it",
                hint=f"ask uid {foreign} or the store's admin to remove {link}, or use a store of your own "
                "(--store / ENVLOCK_STORE)",
                details={"path": str(link), "owner": foreign},
            ) from exc
        raise store_error(exc, link, "register a GC root") from exc


def _foreign_owner(path: Path) -> int | None:
    """The uid owning `path` when that is another user than this one, else None."""
    getuid = getattr(os, "getuid", None)
    try:
        owner = path.lstat().st_uid
    except OSError:
        return None
    return owner if getuid is not None and owner != getuid() else None


_USER_ROOT = re.compile(r"u(\d+)-")


def _claims_another_owner(path: Path) -> bool:
    """Whether `path` is named as the root of uid N (`u<N>-...`) but owned by someone else: a name
    another user made in that user's place, which holds nothing."""
    match = _USER_ROOT.match(path.name)
    if match is None:
        return False
    try:
        return path.lstat().st_uid != int(match.group(1))
    except OSError:
        return True


def _link_target(layout: StoreLayout, env_path: Path) -> Path:
    """What the root's symlink holds: `../envs/<name>` for an environment of this store, so that it
    points at the same directory whichever path (bind mount, symlink, automounter) reaches the
    store; the absolute path for anything else (a `--prefix` environment)."""
    if env_path.parent == layout.envs:
        return Path(os.path.relpath(env_path, layout.roots))
    return env_path


def _own(name: str) -> str:
    """`name` as this user's root (see the module docstring)."""
    getuid = getattr(os, "getuid", None)
    return f"u{getuid()}-{name}" if getuid is not None else name


def _drop_legacy(layout: StoreLayout, name: str) -> None:
    """Remove the root `name` (and its `.lock`) as an older envlock named it, if this user owns it."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return
    for path in (layout.roots / name, layout.roots / (name + LOCK_SUFFIX)):
        with contextlib.suppress(OSError):
            if path.lstat().st_uid == getuid():
                path.unlink()


def add_root(layout: StoreLayout, name: str, env_path: Path, *, lock_path: Path | None = None) -> Path:
    """Register (or move) this user's root `name` so that it holds `env_path`; returns the root's path."""
    link = layout.roots / _own(name)
    if lock_path is not None:
        _symlink(layout.roots / (link.name + LOCK_SUFFIX), lock_path.resolve())
    _symlink(link, _link_target(layout, env_path))
    if link.name != name:
        _drop_legacy(layout, name)
    return link


@dataclass(frozen=True, slots=True, kw_only=True)
class Root:
    """One root as found on disk; `live` says whether it still holds its environment."""

    path: Path
    env: Path
    lock: Path | None
    live: bool
    reason: str | None  # why a dead root is dead


def read_roots(layout: StoreLayout) -> list[Root]:
    """Every root of the store, sorted by name."""
    roots: list[Root] = []
    try:
        entries = sorted(layout.roots.iterdir())
    except FileNotFoundError:
        return roots
    names = {e.name for e in entries}
    for entry in entries:
        is_lock_link = entry.name.endswith(LOCK_SUFFIX) and entry.name[: -len(LOCK_SUFFIX)] in names
        if entry.name.startswith(".") or is_lock_link or _claims_another_owner(entry):
            continue
        try:
            held = entry.readlink() if entry.is_symlink() else Path(entry.read_text().strip())
        except OSError:
            continue
        env = layout.roots / held  # a relative root is relative to the roots directory
        if not env.exists() and held.is_absolute() and held.parent.name == "envs":
            # An absolute root written through another path to this store (an older envlock, or
            # another mount point): the environment of that name here is the one it holds.
            mine = layout.envs / held.name
            if mine.exists():
                env = mine
        lock: Path | None = None
        lock_link = entry.with_name(entry.name + LOCK_SUFFIX)
        if lock_link.is_symlink() and not _claims_another_owner(lock_link):
            lock = lock_link.readlink()
        reason: str | None = None
        if not env.exists():
            reason = f"its environment {env} no longer exists"
        elif lock is not None and not lock.exists():
            reason = f"its lock file {lock} no longer exists"
        roots.append(Root(path=entry, env=env, lock=lock, live=reason is None, reason=reason))
    return roots
