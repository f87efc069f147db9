"""envlock's own files in the user's account: where its cache lives, and how a file is replaced whole.

Every cache (index pages, hashes, wheel architectures, the merged knowledge base, conda
repodata, the list of known stores) lives under `default_cache_root()`, and each entry is written with
`write_atomic`, so that the many processes of a batch job that share a cache never read half an entry.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path


def default_cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """`$ENVLOCK_CACHE_DIR`, else `$XDG_CACHE_HOME/envlock`, else `~/.cache/envlock`."""
    env = os.environ if environ is None else environ
    explicit = env.get("ENVLOCK_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = env.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "envlock"
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".cache" / "envlock"


def write_atomic(path: Path, data: bytes, *, private: bool = False) -> None:
    """Replace `path` with `data`: written to a new file beside it, then renamed over it, so a
    reader sees the old file or the whole new one. The parent directory is made when missing.

    The file's mode follows the umask; `private` makes it readable by this user only (0600).
    Raises OSError, and then leaves no temporary file behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name no other writer picks, whether another process or another thread of this one.
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        temp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
