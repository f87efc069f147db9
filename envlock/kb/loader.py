"""Loading the knowledge base: read the built-in and user files, validate them (or take the cached
merge) and merge them row by row (`knowledge.merge_fragments`) into one `KnowledgeBase`."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from envlock.errors import SpecError
from envlock.kb.knowledge import KnowledgeBase, merge_fragments

ENV_VAR = "ENVLOCK_KB"


def load_kb(extra: Sequence[Path] = ()) -> KnowledgeBase:
    """The built-in knowledge base, with the files of `ENVLOCK_KB` and then `extra` merged over it.

    `ENVLOCK_KB` is an os.pathsep-separated list of files. Later files override earlier ones row by row.
    Raises SpecError for a missing or malformed user file. The merged result is kept in memory for the
    built-in-only case and on disk for every combination of files (`envlock.kb.cache`): a load then
    reads and hashes the files' bytes and validates them only when they, or envlock, changed.
    """
    env = [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    files = tuple(env) + tuple(Path(p) for p in extra)
    if not files:
        return _builtin_kb()
    for path in files:
        if not path.is_file():
            origin = f"{ENV_VAR}" if path in env else "the knowledge-base list"
            raise SpecError(
                f"{path}: knowledge-base file does not exist (named in {origin})",
                hint="fix the path, or remove it from [resolution] knowledge-base / ENVLOCK_KB",
                details={"file": str(path)},
            )
    return _load(files)


@cache
def _builtin_kb() -> KnowledgeBase:
    return _load(())


def _builtin_files() -> list[Path]:
    # The data files are read as plain files (the cache keys on them too); no importlib.resources,
    # whose import costs more than reading them.
    paths = sorted(Path(__file__).parent.joinpath("data").glob("*.toml"), key=lambda p: p.name)
    if not paths:
        raise RuntimeError("envlock's built-in knowledge base is missing (envlock/kb/data/*.toml)")
    return paths


def _load(user_files: tuple[Path, ...]) -> KnowledgeBase:
    # Imported here: a load that hits the in-memory copy needs neither the disk cache nor the
    # validating reader, and one that hits the disk cache does not need the reader.
    from envlock.kb import cache, files

    builtin = _builtin_files()
    contents = [(path, path.read_bytes(), False) for path in builtin]
    contents += [(path, files.read_kb_file(path), True) for path in user_files]
    # "sha256:" over "<length>:<bytes>" of every file in load order: what `check` compares.
    h = hashlib.sha256()
    for _, data, _ in contents:
        h.update(f"{len(data)}:".encode())
        h.update(data)
    digest = "sha256:" + h.hexdigest()
    key = cache.cache_key(digest, user_files)
    if key is not None:
        cached = cache.load(key)
        if cached is not None and cached.digest == digest and cached.files == user_files:
            return cached
    fragments = [files.parse_fragment(path, data, user=user) for path, data, user in contents]
    kb = merge_fragments(fragments, user_files, digest)
    if key is not None:
        cache.store(key, kb)
    return kb
