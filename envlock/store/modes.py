"""File modes in a store shared by many users: what envlock writes, and how published trees are sealed.

* Shared files that stay writable by their owner (the lock written by `solve`): `0666 & ~umask`.
* Artifacts (immutable, content-addressed): `0444 & ~umask`, so a group store with umask 002 lets
  every member read what another member downloaded.
* Published environments: no write bit for anyone; directories `0555`, files `0555` when the wheel
  made them executable, else `0444`. These modes do not depend on the umask, so that two builds of
  one lock give the same tree; who may read a store is decided by the store's own directories.
* Group: in a store whose directories carry the setgid bit, everything envlock creates gets the
  directory's group (the kernel does it for files created there; `adopt_group` does it for anything
  that arrived with another group).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import stat
from pathlib import Path

READONLY_DIR = 0o555
READONLY_FILE = 0o444
READONLY_EXEC = 0o555


@functools.cache
def current_umask() -> int:
    """This process's umask, read without changing it where Linux tells it (/proc), else briefly set."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def artifact_mode() -> int:
    """The mode of a stored artifact: readable as the umask allows, writable by nobody."""
    return 0o444 & ~current_umask()


def sealed_mode(st: os.stat_result) -> int:
    """The mode an entry of a published environment has (symlinks have none of their own)."""
    if stat.S_ISDIR(st.st_mode):
        return READONLY_DIR
    return READONLY_EXEC if st.st_mode & 0o111 else READONLY_FILE


def adopt_group(path: Path, parent: Path) -> None:
    """Give `path` the group of `parent` when `parent` is a setgid directory and the groups differ."""
    try:
        pst = parent.stat()
        if not pst.st_mode & stat.S_ISGID:
            return
        if path.lstat().st_gid != pst.st_gid:
            os.lchown(path, -1, pst.st_gid)
    except OSError:
        pass  # not a member of that group: the file keeps ours, readable through its mode


def seal_tree(root: Path, *, keep_root_writable: bool) -> None:
    """Make every entry under `root` read-only (see the module docstring) and give it the group of
    `root`'s parent when that is a setgid directory. `root` itself stays writable by its owner when
    `keep_root_writable`: a directory can be renamed into another directory only while it is
    writable, so the builder seals it after publishing (`seal_root`)."""
    group_dir = root.parent
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        here = Path(dirpath)
        for name in (*filenames, *dirnames):
            entry = here / name
            st = entry.lstat()
            adopt_group(entry, group_dir)
            if stat.S_ISLNK(st.st_mode):
                continue
            mode = sealed_mode(st)
            if stat.S_IMODE(st.st_mode) != mode:
                entry.chmod(mode)
    adopt_group(root, group_dir)
    if not keep_root_writable:
        seal_root(root)


def seal_root(root: Path) -> None:
    """Take the write bits off the top directory of a published environment."""
    root.chmod(READONLY_DIR)


def remove_tree(path: Path) -> None:
    """Remove `path` and everything under it, read-only directories included (as far as this user
    may: directories of other users stay); a missing path is fine."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    me = os.getuid()
    for dirpath, dirnames, _files in os.walk(path):
        for sub in (Path(dirpath), *(Path(dirpath) / d for d in dirnames)):
            # through a descriptor of the directory itself: another user may swap an entry for a
            # symlink between a look at it and a chmod by name (a scratch tree in a shared store)
            with contextlib.suppress(OSError):
                fd = os.open(sub, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
                try:
                    st = os.fstat(fd)
                    if st.st_uid == me and st.st_mode & stat.S_IRWXU != stat.S_IRWXU:
                        os.fchmod(fd, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
                finally:
                    os.close(fd)
    shutil.rmtree(path, ignore_errors=True)
