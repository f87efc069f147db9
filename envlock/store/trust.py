"""Whose builds this user runs from a store that others may write (docs/architecture.md §8).

The names in a store follow from the lock (`envs/<hash>-<env>-<target>`, `python/<hash>-cpython-<v>`),
so in a store shared through a group another member could make an entry first, with contents of
their choosing, and the sticky bit does not stop that (it stops renames, not first creation). So an
entry is used only when its owner is trusted:

* this user, root, and the owner of the store's root directory;
* the users the store's owner names in `<store root>/trusted-users`: one entry per line, a user
  name, a numeric uid, or `@group` for every member of a group; `#` starts a comment. The file counts
  only when it is a regular file owned by the store root's owner (or root) that nobody else may write.

The directories on the way must hold too: whoever owns a directory may rename what is in it despite
the sticky bit, and whoever may write a directory without the sticky bit may rename anything in it.
So the store root must not be writable by others unless it has the sticky bit, and `v1/`, `envs/`
and `python/` must belong to trusted users and carry the sticky bit where others may write them
(envlock sets it on directories this user owns). An entry of another, untrusted user is left alone:
the install builds a private copy, `<name>-u<uid>`, and says why.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from envlock.errors import StoreError

TRUST_FILE = "trusted-users"


def current_uid() -> int:
    getuid = getattr(os, "getuid", None)
    return getuid() if getuid is not None else 0


def _owner(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:
        return None


@dataclass(slots=True)
class Trust:
    """The users whose store entries this user runs (see the module docstring)."""

    root: Path
    store_owner: int | None
    _listed: tuple[frozenset[int], frozenset[int]] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, root: Path) -> Trust:
        return cls(root=root, store_owner=_owner(root))

    def trusts(self, uid: int) -> bool:
        if uid in (current_uid(), 0, self.store_owner):
            return True
        uids, gids = self._read_list()
        return uid in uids or (bool(gids) and _member_of(uid, gids))

    def who(self) -> str:
        """The trusted users in words, for messages."""
        listed = self.root / TRUST_FILE
        return f"you, the store's owner, root or a user {listed} names"

    def _read_list(self) -> tuple[frozenset[int], frozenset[int]]:
        if self._listed is None:
            self._listed = _read_trust_file(self.root / TRUST_FILE, self.store_owner)
        return self._listed


def _read_trust_file(path: Path, store_owner: int | None) -> tuple[frozenset[int], frozenset[int]]:
    """(uids, gids) the store's owner trusts; empty unless the file is the owner's and only theirs."""
    from envlock.store.safe_read import read_store_text

    try:
        st = path.lstat()
    except OSError:
        return frozenset(), frozenset()
    if st.st_uid not in (0, store_owner) or st.st_mode & 0o022 or not stat.S_ISREG(st.st_mode):
        return frozenset(), frozenset()
    try:
        text = read_store_text(path, limit=64 * 1024)
    except (OSError, ValueError):
        return frozenset(), frozenset()
    import grp
    import pwd

    uids: set[int] = set()
    gids: set[int] = set()
    for line in text.splitlines():
        word = line.split("#", 1)[0].strip()
        if not word:
            continue
        with contextlib.suppress(KeyError, ValueError):
            if word.startswith("@"):
                name = word[1:]
                gids.add(int(name) if name.isdigit() else grp.getgrnam(name).gr_gid)
            else:
                uids.add(int(word) if word.isdigit() else pwd.getpwnam(word).pw_uid)
    return frozenset(uids), frozenset(gids)


def _member_of(uid: int, gids: frozenset[int]) -> bool:
    import grp
    import pwd

    try:
        user = pwd.getpwuid(uid)
    except KeyError:
        return False
    if user.pw_gid in gids:
        return True
    for gid in gids:
        with contextlib.suppress(KeyError):
            if user.pw_name in grp.getgrgid(gid).gr_mem:
                return True
    return False


def entry_problem(path: Path, trust: Trust, *, marker: str) -> str | None:
    """Why the store entry at `path` is not to be used ("missing" when there is none), else None.

    Used: a directory owned by a trusted user, with `marker` in it (the file that says the entry is
    complete), whose top level nobody but its owner may write."""
    try:
        st = path.lstat()
    except OSError:
        return "missing"
    if not stat.S_ISDIR(st.st_mode):
        return "not a directory"
    if not trust.trusts(st.st_uid):
        return f"owned by uid {st.st_uid}, not by {trust.who()}"
    entries = [path]
    with contextlib.suppress(OSError):
        entries += list(path.iterdir())
    for entry in entries:
        try:
            mode = entry.lstat().st_mode
        except OSError:
            continue
        if not stat.S_ISLNK(mode) and mode & 0o022:
            return f"{entry.relative_to(path.parent)} is writable by group or others"
    if not (path / marker).is_file():
        return "incomplete"
    return None


def check_directories(trust: Trust, *dirs: Path) -> None:
    """Raise StoreError unless nobody this user does not trust can rename what is in the last of
    `dirs`: the store's `v1/`, then the directories down to the one whose entries this user is about
    to run or copy (`envs/`, `python/`, `oci/blobs/sha256/`, ...); see the module docstring.

    Each must be a directory itself, not a symbolic link (whoever made a link could point it
    elsewhere after this check), owned by a trusted user, with the sticky bit where others may
    write it. The store root may be a link (the user named it), and must not be writable by others
    without the sticky bit."""
    root = trust.root
    _need_sticky(root, root.stat, "put another store in place of its v1/")
    for path in dirs:
        try:
            st = path.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise StoreError(
                f"store: {path} is not a directory (a symbolic link or a file in its place), so its "
                "owner could point it at other builds than those you run",
                hint=f"ask the store's admin to remove {path} (envlock makes it again), or use a store "
                "of your own (--store / ENVLOCK_STORE)",
                details={"path": str(path), "owner": st.st_uid},
            )
        if not trust.trusts(st.st_uid):
            raise StoreError(
                f"store: {path} belongs to uid {st.st_uid}, not to {trust.who()}: its owner could put "
                "other builds in place of those you run",
                hint=f"ask the store's owner to add uid {st.st_uid} to {root / TRUST_FILE} or to make "
                f'{path} afresh themselves (README, "Shared stores"), or use a store of your own '
                "(--store / ENVLOCK_STORE)",
                details={"path": str(path), "owner": st.st_uid},
            )
        _need_sticky(path, path.lstat, "replace what you run from it")


def _need_sticky(path: Path, look: Callable[[], os.stat_result], harm: str) -> None:
    """A directory others may write needs the sticky bit: set on one of this user's own, else a
    StoreError that says whom to ask (`harm`: what anyone who may write there could do)."""
    try:
        st = look()
    except OSError:
        return
    if not st.st_mode & 0o022 or st.st_mode & stat.S_ISVTX:
        return
    if st.st_uid == current_uid():
        with contextlib.suppress(OSError):  # a filesystem without the bit: this user's own store
            path.chmod(stat.S_IMODE(st.st_mode) | stat.S_ISVTX)
        return
    raise StoreError(
        f"store: {path} is writable by others and lacks the sticky bit, so anyone who may write there "
        f"could {harm}",
        hint=f"ask its owner (uid {st.st_uid}) to run `chmod +t {path}` (any envlock command they run in "
        "this store does it), or use a store of your own (--store / ENVLOCK_STORE)",
        details={"path": str(path)},
    )


def private_name(name: str) -> str:
    """The name of this user's own copy of the entry `name`."""
    return f"{name}-u{current_uid()}"


def check_private(path: Path, *, shared: Path, why: str) -> None:
    """Raise StoreError when this user's private name `path` is held by someone else."""
    try:
        owner = path.lstat().st_uid
    except OSError:
        return
    if owner != current_uid():
        raise StoreError(
            f"store: {path} is owned by uid {owner}, not by you: someone else made the name envlock keeps "
            f"for your own copy (because {shared.name} is {why})",
            hint=f"ask uid {owner} or the store's admin to remove {path} and {shared}, "
            "or use a store of your own (--store / ENVLOCK_STORE)",
            details={"path": str(path), "owner": owner},
        )
