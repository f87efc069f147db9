"""Reading a small file of a shared store that another user may have replaced, without hanging on it.

In a group store any member may put anything where envlock expects one of its small files (a lease,
an environment's record or `pyvenv.cfg`, an image layer record): a FIFO, whose plain `open` blocks
until someone writes to it; a symlink to a device; a directory; a file of many gigabytes.
`read_store_file` opens without following a final symlink and without blocking
(O_NOFOLLOW|O_NONBLOCK), checks on the open descriptor that it is a regular file of at most
`MAX_STORE_FILE_BYTES`, and only then reads it; anything else is refused with `NotAStoreFile`, which
says why in words a report can show.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

# The largest file envlock reads this way. Its own such files are far smaller: an environment's
# record lists one line of about 200 bytes per package (a few hundred KB for thousands of packages),
# a lease or a layer record names one sha256 per file.
MAX_STORE_FILE_BYTES = 4 << 20

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC


class NotAStoreFile(OSError):
    """The path exists but is not a file envlock reads: not a regular file, a symlink, too large."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.path = path
        self.why = why


def refusal(path: Path) -> str | None:
    """Why `read_store_file` would refuse the entry at `path` as it is now (from its `lstat`), None
    when it would read it or nothing is there: for telling why another reader found no file."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISLNK(st.st_mode):
        return "a symlink, not a regular file"
    if not stat.S_ISREG(st.st_mode):
        return f"{_kind(st.st_mode)}, not a regular file"
    if st.st_size > MAX_STORE_FILE_BYTES:
        return _too_large(st.st_size, MAX_STORE_FILE_BYTES)
    if not os.access(path, os.R_OK):
        return "not readable by this user"
    return None


def _too_large(size: int, limit: int) -> str:
    return f"{size} bytes, more than the {limit} envlock reads of such a file"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_store_file(path: Path, *, limit: int = MAX_STORE_FILE_BYTES) -> bytes:
    """The bytes of the regular file at `path` (see the module docstring).

    Raises FileNotFoundError when nothing is there, NotAStoreFile when something is that envlock
    does not read (its `why` says what), and other OSErrors as `open`/`read` raise them.
    """
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP and path.is_symlink():
            raise NotAStoreFile(path, "a symlink, not a regular file") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotAStoreFile(path, f"{_kind(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise NotAStoreFile(path, _too_large(st.st_size, limit))
        chunks: list[bytes] = []
        got = 0
        while got <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > limit:  # grew while we read it
            raise NotAStoreFile(path, _too_large(got, limit))
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_store_text(path: Path, *, limit: int = MAX_STORE_FILE_BYTES) -> str:
    """`read_store_file` decoded as UTF-8 (UnicodeDecodeError, a ValueError, for anything else)."""
    return read_store_file(path, limit=limit).decode("utf-8")
