"""The tree hash of an environment: every path, its kind, mode and contents, as one sha256.

The manifest has one line per entry below the environment's root, sorted by path:

    f 0444 <sha256 of the contents> lib/python3.11/site-packages/alpha/__init__.py
    d 0555 - lib/python3.11/site-packages/alpha
    l - <link target, escaped> bin/python

(`f` file, `d` directory, `l` symlink). Paths and link targets are percent-escaped (RFC 3986,
keeping `/`), so every line is printable and unambiguous. The tree hash is `sha256:` + the sha256 of
the manifest's bytes. The files that describe the tree (the environment record and the manifest
itself) are left out. A published environment keeps its manifest as `envlock-tree.txt`, so that a
difference can be named file by file; `envlock verify` recomputes it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import stat
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from envlock.store.artifacts import hash_file, in_threads
from envlock.store.layout import ENV_RECORD
from envlock.store.modes import READONLY_FILE, adopt_group, seal_tree
from envlock.store.record import EnvRecord

TREE_MANIFEST = "envlock-tree.txt"
UNHASHED = frozenset({ENV_RECORD, TREE_MANIFEST})  # the files that describe the tree
_SAFE = "/!$&'()*+,;=:@-._~"


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeEntry:
    path: str  # relative to the root, "/"-separated, escaped
    kind: str  # "f" | "d" | "l" | "o" (a FIFO, socket or device: never read, never in a built env)
    mode: str  # "0444"; "-" for symlinks
    digest: str  # sha256 hex of a file, the escaped target of a link, "-" for a directory

    def line(self) -> str:
        return f"{self.kind} {self.mode} {self.digest} {self.path}"


def _escape(raw: str) -> str:
    return urllib.parse.quote(os.fsencode(raw), safe=_SAFE)


def scan_tree(root: Path, *, exclude: frozenset[str], threads: int = 4) -> tuple[TreeEntry, ...]:
    """Every entry below `root` but the top-level names in `exclude`, sorted by path."""
    found: list[tuple[str, Path, os.stat_result]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel_dir = here.relative_to(root)
        for name in (*dirnames, *filenames):
            rel = (rel_dir / name).as_posix()
            if rel in exclude:
                continue
            entry = here / name
            found.append((rel, entry, entry.lstat()))
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]

    def describe(rel: str, entry: Path, st: os.stat_result) -> TreeEntry:
        path = _escape(rel)
        if stat.S_ISLNK(st.st_mode):
            return TreeEntry(path=path, kind="l", mode="-", digest=_escape(str(entry.readlink())))
        mode = f"{stat.S_IMODE(st.st_mode):04o}"
        if stat.S_ISDIR(st.st_mode):
            return TreeEntry(path=path, kind="d", mode=mode, digest="-")
        if not stat.S_ISREG(st.st_mode):  # reading a FIFO planted in a shared store would hang
            return TreeEntry(path=path, kind="o", mode=mode, digest="-")
        return TreeEntry(path=path, kind="f", mode=mode, digest=hash_file(entry)[0])

    jobs = [functools.partial(describe, r, e, s) for r, e, s in found]
    entries = in_threads(jobs, threads=threads, weights=[s.st_size for _r, _e, s in found])
    return tuple(sorted(entries, key=lambda e: e.path))


def manifest_text(entries: tuple[TreeEntry, ...]) -> str:
    return "".join(e.line() + "\n" for e in entries)


def tree_hash(manifest: str) -> str:
    return "sha256:" + hashlib.sha256(manifest.encode("ascii")).hexdigest()


def parse_manifest(text: str) -> dict[str, str]:
    """path -> line, from a manifest's text (lines that do not parse are kept under their own text)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(" ", 3)
        out[parts[3] if len(parts) == 4 else line] = line
    return out


def tree_differences(recorded: str, actual: str) -> list[str]:
    """What differs between two manifests, one line per path: changed, missing or added."""
    old, new = parse_manifest(recorded), parse_manifest(actual)
    changes: list[str] = []
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        name = urllib.parse.unquote(path)
        if after is None:
            changes.append(f"{name}: missing")
        elif before is None:
            changes.append(f"{name}: added")
        else:
            what = []
            b, a = before.split(" ", 3), after.split(" ", 3)
            if b[0] != a[0]:
                what.append(f"kind {b[0]} -> {a[0]}")
            if b[1] != a[1]:
                what.append(f"mode {b[1]} -> {a[1]}")
            if b[2] != a[2]:
                what.append("contents changed" if a[0] == "f" else f"target {b[2]} -> {a[2]}")
            changes.append(f"{name}: {', '.join(what) or 'changed'}")
    return changes


def seal_environment(env_dir: Path, record: EnvRecord) -> EnvRecord:
    """Make the built environment at `env_dir` read-only, write its manifest and its record with the
    tree hash, and return that record. The top directory stays writable by its owner until it is
    published (`envlock.store.modes.seal_root`)."""
    seal_tree(env_dir, keep_root_writable=True)
    manifest = manifest_text(scan_tree(env_dir, exclude=UNHASHED))
    sealed = dataclasses.replace(record, tree_hash=tree_hash(manifest))
    (env_dir / TREE_MANIFEST).write_text(manifest, encoding="ascii")
    sealed.write(env_dir)
    for name in UNHASHED:
        (env_dir / name).chmod(READONLY_FILE)
        adopt_group(env_dir / name, env_dir.parent)
    return sealed
