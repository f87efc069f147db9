"""An on-disk cache of the merged knowledge base, so that commands start without re-validating its files.

Validating the built-in data (about 180 torch rows, every field checked) costs more than the rest of
`envlock check`. The merged `KnowledgeBase` is pickled into the user cache (`$ENVLOCK_CACHE_DIR/kb`,
else `$XDG_CACHE_HOME/envlock/kb`, else `~/.cache/envlock/kb`: `envlock.userfiles`) under a key made of:

* the digest of every file's bytes (the built-in data and the user files, in load order), and the
  user files' paths as given, which are part of the rows (the default source "user file NAME");
* the bytes of the modules that read, validate and merge the files and of the row types, and the
  Python and packaging versions, so that a changed envlock never reads a cache an older one wrote.

So any change of a built-in or user file, or of the code, is a new key; the next load validates the
files again and writes a new entry. An entry is a header line, the sha256 of the payload and the
payload: a truncated, corrupt or foreign file fails that check or the unpickling and is ignored like a
missing one. The cache lives in the user's own cache directory, which envlock trusts as it trusts its
store. Writes go to a temporary file renamed into place; a cache that cannot be written is skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
from collections.abc import Sequence
from pathlib import Path

from envlock.kb.knowledge import KnowledgeBase
from envlock.userfiles import default_cache_root, write_atomic

_MAGIC = b"envlock-kb-cache 1\n"
_KEEP = 8  # entries kept: enough for a few specs with their own user files
# The modules whose code decides what a knowledge base holds (platforms: the platform names rows use;
# tables: the key checks the file reader shares with the spec reader).
_CODE = (
    "kb/cache.py",
    "kb/files.py",
    "kb/knowledge.py",
    "kb/loader.py",
    "kb/model.py",
    "platforms.py",
    "tables.py",
)


def cache_dir() -> Path:
    """Where entries live: `kb` under envlock's cache root."""
    return default_cache_root() / "kb"


def cache_key(digest: str, user_files: Sequence[Path]) -> str | None:
    """The entry name for these files, or None when envlock's own code cannot be read to key it."""
    import packaging

    h = hashlib.sha256(_MAGIC)
    h.update(f"{sys.version}\0{packaging.__version__}\0{digest}\0".encode())
    for path in user_files:
        h.update(os.fsencode(path) + b"\0")
    package = Path(__file__).resolve().parent.parent
    for name in _CODE:
        try:
            code = (package / name).read_bytes()
        except OSError:
            return None
        h.update(f"{name}:{len(code)}:".encode() + code)
    return h.hexdigest()


def load(key: str) -> KnowledgeBase | None:
    """The cached knowledge base under `key`, or None when there is none or it is unreadable."""
    try:
        blob = (cache_dir() / f"{key}.pickle").read_bytes()
    except OSError:
        return None
    header_end = len(_MAGIC) + 65  # sha256 hex and a newline
    if not blob.startswith(_MAGIC) or len(blob) < header_end:
        return None
    payload = blob[header_end:]
    if hashlib.sha256(payload).hexdigest().encode() + b"\n" != blob[len(_MAGIC) : header_end]:
        return None
    try:
        kb = pickle.loads(payload)
    except Exception:  # whatever a damaged entry raises, it is a miss
        return None
    return kb if isinstance(kb, KnowledgeBase) else None


def store(key: str, kb: KnowledgeBase) -> None:
    """Write `kb` under `key` (best effort), and drop the oldest entries beyond a few."""
    try:
        payload = pickle.dumps(kb, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return
    directory = cache_dir()
    try:
        write_atomic(
            directory / f"{key}.pickle",
            _MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload,
        )
    except OSError:
        return
    _prune(directory, keep=key)


def _prune(directory: Path, *, keep: str) -> None:
    entries = []
    for entry in directory.glob("*.pickle"):
        with contextlib.suppress(OSError):
            entries.append((entry.stat().st_mtime, entry))
    entries.sort(reverse=True)
    for _, entry in entries[_KEEP:]:
        if entry.stem != keep:
            with contextlib.suppress(OSError):
                entry.unlink()
