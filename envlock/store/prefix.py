"""Whether `install --prefix DIR` may replace what is at DIR: only nothing, an empty directory, or an
environment envlock made there whose record matches the files present.

"Made by envlock" is judged by the files, not by the presence of `envlock-env.json` (anyone can put
such a file into a directory of their own). An environment whose record carries a tree hash must hold
exactly the tree its manifest (`envlock-tree.txt`) lists, and that manifest must be the one the
record names. An older environment without one is judged by its packages: every file under DIR must
be a file listed in the RECORD of an installed package, the venv's own files (the
interpreter links and activation scripts in `bin/`, `pyvenv.cfg`, `_virtualenv.py`/`.pth`, the
marker and lock files uv writes) or byte-code in `__pycache__`; and each package the record names must be
installed there. Anything else is refused (exit 2) and nothing is deleted.
"""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

from envlock.store.layout import ENV_RECORD
from envlock.store.record import EnvRecord

_TOP_FILES = frozenset(
    {"pyvenv.cfg", ENV_RECORD, ".gitignore", "CACHEDIR.TAG", ".lock", ".envlock-requirements.txt"}
)  # .lock: uv's own lock file of the venv
_BIN_PREFIXES = ("activate", "deactivate", "python", "pydoc")
_SITE_FILES = frozenset({"_virtualenv.py", "_virtualenv.pth"})


def _site_packages(prefix: Path) -> list[Path]:
    return [
        p for p in (*prefix.glob("lib/python*/site-packages"), prefix / "Lib" / "site-packages") if p.is_dir()
    ]


def _recorded(prefix: Path, sites: list[Path]) -> tuple[set[str], set[str]]:
    """(paths relative to `prefix` listed in installed RECORDs, normalized names of installed packages)."""
    from packaging.utils import canonicalize_name

    files: set[str] = set()
    names: set[str] = set()
    for site in sites:
        for info in site.glob("*.dist-info"):
            names.add(str(canonicalize_name(info.name.split("-", 1)[0])))
            try:
                with (info / "RECORD").open(encoding="utf-8", newline="") as f:
                    rows = list(csv.reader(f))
            except (OSError, UnicodeDecodeError, csv.Error):
                continue
            for row in rows:
                if row:
                    files.add(os.path.normpath(os.path.relpath(site / row[0], prefix)))
    return files, names


def _venv_file(rel: str, sites: set[str]) -> bool:
    parts = Path(rel).parts
    if len(parts) == 1:
        return parts[0] in _TOP_FILES or parts[0] == "lib64"
    if parts[0] in ("bin", "Scripts") and len(parts) == 2:
        return parts[1].startswith(_BIN_PREFIXES)
    if "__pycache__" in parts[:-1] and parts[-1].endswith(".pyc"):
        return True
    return str(Path(rel).parent) in sites and parts[-1] in _SITE_FILES


def _tree_problem(prefix: Path, recorded_hash: str) -> str | None:
    """None when the files at `prefix` are exactly those its manifest lists (and the manifest is the
    one the record's tree hash names), else the first difference."""
    from envlock.store.tree import (
        TREE_MANIFEST,
        UNHASHED,
        manifest_text,
        scan_tree,
        tree_differences,
        tree_hash,
    )

    try:
        stored = (prefix / TREE_MANIFEST).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return f"its {TREE_MANIFEST} is missing or unreadable"
    if tree_hash(stored) != recorded_hash:
        return f"its {TREE_MANIFEST} is not the one its {ENV_RECORD} names"
    actual = manifest_text(scan_tree(prefix, exclude=UNHASHED))
    if actual != stored:
        changes = tree_differences(stored, actual)
        more = f" (and {len(changes) - 1} more)" if len(changes) > 1 else ""
        return f"its files are not those envlock made there: {changes[0]}{more}"
    return None


def prefix_problem(prefix: Path) -> str | None:
    """None when `install --prefix` may put an environment at `prefix` (replacing what is there),
    else why not. Reads only."""
    try:
        st = prefix.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "it is a file, not a directory"
    try:
        if not any(prefix.iterdir()):
            return None
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    record = EnvRecord.read(prefix)
    if record is None:
        return f"the directory exists and is not an envlock environment (no readable {ENV_RECORD})"
    if record.tree_hash is not None:
        return _tree_problem(prefix, record.tree_hash)
    # an environment from before envlock recorded its tree: judged by the installed RECORDs
    sites = _site_packages(prefix)
    made, installed = _recorded(prefix, sites)
    missing = sorted({p.name for p in record.packages} - installed)
    if missing:
        return f"its {ENV_RECORD} names packages that are not installed there ({', '.join(missing)})"
    site_rel = {os.path.relpath(s, prefix) for s in sites}
    for dirpath, dirnames, filenames in os.walk(prefix):
        base = Path(dirpath)
        # symlinks to directories (lib64 -> lib) are judged as entries, never followed
        entries = filenames + [d for d in dirnames if (base / d).is_symlink()]
        for name in entries:
            rel = os.path.relpath(base / name, prefix)
            if rel not in made and not _venv_file(rel, site_rel):
                return f"{rel} is not a file envlock installed there"
    return None
