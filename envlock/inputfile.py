"""Reading the files a user names (spec, lock) with a bound: a regular file, at most so many bytes.

Without a bound `-l /dev/zero` reads until memory runs out and a FIFO blocks forever; with one a
mistake or an attack costs one clear error.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_SPEC_BYTES = 4 << 20  # 4 MiB: a spec is a few kilobytes
MAX_LOCK_BYTES = 64 << 20  # 64 MiB: a lock of 500 packages and ten targets is about 3 MiB


class InputFileError(ValueError):
    """The file is not one envlock reads: not a regular file, or larger than the bound."""


def read_input(path: Path, *, limit: int, what: str) -> str:
    """The UTF-8 text of the regular file at `path`, refused above `limit` bytes.

    Raises InputFileError (a directory, a device, a FIFO, too large), OSError (cannot open) and
    UnicodeDecodeError (not UTF-8). A FIFO is refused before it is opened, so nothing blocks.
    """
    st = path.stat()
    if stat.S_ISDIR(st.st_mode):
        raise InputFileError(f"{path}: is a directory, not a {what} file")
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError(f"{path}: not a regular file (a device, FIFO or socket), so not a {what} file")
    if st.st_size > limit:
        raise InputFileError(f"{path}: {st.st_size} bytes, more than a {what} may be ({limit} bytes)")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a file swapped for a FIFO meanwhile must not block
    with os.fdopen(os.open(path, flags), "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise InputFileError(f"{path}: not a regular file, so not a {what} file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputFileError(f"{path}: more than a {what} may be ({limit} bytes)")
    return data.decode("utf-8")
