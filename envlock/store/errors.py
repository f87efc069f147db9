"""Turn operating-system failures inside the store into StoreError messages that name the path."""

from __future__ import annotations

import errno
from pathlib import Path

from envlock.errors import StoreError


def store_error(exc: OSError, path: Path, action: str) -> StoreError:
    """A StoreError for `exc`, raised while trying to `action` at `path`, with what to do about it."""
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        hint = "free space on that filesystem (`envlock gc` removes unrooted store paths) or use --store"
        what = "no space left on the device"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = "make the store writable for this user, or point --store / ENVLOCK_STORE somewhere writable"
        what = "read-only or not writable"
    else:
        hint = "check the store directory, or point --store / ENVLOCK_STORE elsewhere"
        what = exc.strerror or str(exc)
    return StoreError(
        f"store: cannot {action} at {path}: {what}",
        hint=hint,
        details={"path": str(path), "errno": exc.errno},
    )
