"""Locked files already on this machine, in other stores this user installed into, reused before downloading.

Each store an install writes to is remembered in the user cache (`<cache>/stores-v1/`, one small
file per store naming its root). A file missing from the store being built is then copied from
the first remembered store that holds it, and verified against the lock's sha256 before use; a
copy that does not match is skipped for the next store or the download. Files are copied, never
hard-linked: stores belong to different users and groups, and a store's files never change.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from pathlib import Path

from envlock.install.sources import ArtifactSource
from envlock.lock.model import Artifact
from envlock.store.artifacts import copy_verified
from envlock.store.layout import StoreLayout
from envlock.userfiles import default_cache_root, write_atomic

KNOWN_STORES = "stores-v1"


def _directory(cache_root: Path | None) -> Path:
    return (cache_root or default_cache_root()) / KNOWN_STORES


def remember_store(root: Path, *, cache_root: Path | None = None) -> None:
    """Note `root` as a store of this user; a cache that cannot be written is skipped."""
    text = str(root.absolute())
    directory = _directory(cache_root)
    path = directory / hashlib.sha256(text.encode()).hexdigest()
    if path.is_file():
        return
    with contextlib.suppress(OSError):
        write_atomic(path, (text + "\n").encode(), private=True)


def known_stores(*, exclude: Path, cache_root: Path | None = None) -> tuple[Path, ...]:
    """The remembered stores that still exist, `exclude` (the store being built) left out, sorted."""
    try:
        entries = sorted(_directory(cache_root).iterdir())
    except OSError:
        return ()
    skip = exclude.absolute()
    found: list[Path] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            root = Path(entry.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError):
            continue
        if root.is_absolute() and root != skip and root.is_dir():
            found.append(root)
    return tuple(found)


class MachineCopiesSource:
    """An `ArtifactSource`: a verified copy from another store when one holds the file, else `fallback`."""

    def __init__(self, stores: Sequence[Path], fallback: ArtifactSource) -> None:
        self.stores = tuple(stores)
        self.fallback = fallback
        self.description = (
            f"{fallback.description} (or another store on this machine)"
            if self.stores
            else fallback.description
        )

    def provide(self, artifact: Artifact, dest: Path) -> str | None:
        for root in self.stores:
            copy = StoreLayout(root=root).artifact_path(artifact.sha256, artifact.filename)
            try:
                if copy_verified(copy, dest, artifact):
                    return artifact.sha256
            except OSError:
                pass
            with contextlib.suppress(FileNotFoundError):
                dest.unlink()
        return self.fallback.provide(artifact, dest)
