"""Where the two sides of a diff come from: a path on disk or `REV:path` read from git.

A path that exists on disk always wins; only a name that is not a file is read as `REV:path`
(`git show REV:path`, run in the given directory's repository, so `path` is relative to the
repository root unless it starts with `./`). Locks are read without verifying their content hash;
the diff reports a hand-edited lock as a warning instead of refusing it.

Migration hook: `MIGRATIONS` maps a lock-version N to a function that brings a lock read at
version N to N + 1. Both sides are brought to `LOCK_VERSION` before they are compared, so a
future lock-version 2 only needs its reader plus one entry here for `envlock diff` to compare a
version-1 lock with a version-2 lock. A lock newer than this envlock is refused by the reader.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from envlock.errors import LockFormatError, UsageError
from envlock.lock.model import LOCK_VERSION, Lock
from envlock.lock.toml import ParsedLock, parse_lock_unverified

if TYPE_CHECKING:
    import subprocess

MIGRATIONS: Mapping[int, Callable[[Lock], Lock]] = {}

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


@dataclass(frozen=True, slots=True, kw_only=True)
class LockText:
    """The text of one side and the name it is shown under (what the user typed)."""

    source: str
    text: str


def read_source(spec: str, *, cwd: Path) -> LockText:
    """Read `spec` (a path, or `REV:path` from git in `cwd`'s repository).

    Raises UsageError when the path, the repository, the revision or the path in the revision
    does not exist, LockFormatError when the bytes are not text.
    """
    path = Path(spec) if Path(spec).is_absolute() else cwd / spec
    if path.exists():
        from envlock.inputfile import MAX_LOCK_BYTES, InputFileError, read_input

        try:
            return LockText(source=spec, text=read_input(path, limit=MAX_LOCK_BYTES, what="lock"))
        except InputFileError as exc:
            raise UsageError(str(exc), hint="pass the envlock.lock file itself") from None
        except OSError as exc:
            raise UsageError(f"{spec}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            return LockText(source=spec, text=_decode(path.read_bytes(), spec))
    if ":" in spec and not _WINDOWS_DRIVE.match(spec):
        rev, _, inner = spec.partition(":")
        return LockText(source=spec, text=_decode(_git_show(rev, inner, cwd), spec))
    raise UsageError(
        f"{spec}: no such file",
        hint="pass a lock file path, or REV:path to read it from git (for example main:envlock.lock)",
    )


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise LockFormatError(
            f"{source}: not a text file, so not an envlock lock",
            hint="pass the envlock.lock that `envlock solve` wrote",
        ) from None


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    from envlock import processes  # only REV:path needs it; a diff of two files starts faster without

    try:
        return processes.run(
            ["git", "--no-pager", *args],
            cwd=cwd,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise UsageError(
            "git is not installed, so REV:path cannot be read",
            hint="install git, or pass two lock file paths",
        ) from None


def _git_show(rev: str, inner: str, cwd: Path) -> bytes:
    spec = f"{rev}:{inner}"
    if not inner:
        raise UsageError(f"{spec}: no path after ':'", hint="write REV:path, for example main:envlock.lock")
    if rev.startswith("-"):
        # No revision name starts with '-'; git would read it as an option (`--output=FILE`).
        raise UsageError(
            f"{spec}: '{rev}' is not a git revision",
            hint="a revision never starts with '-'; write REV:path, for example main:envlock.lock",
        )
    # --end-of-options: whatever the argument holds, git reads it as a revision, never an option.
    done = _git(["show", "--no-textconv", "--end-of-options", spec], cwd)
    if done.returncode == 0:
        return done.stdout
    err = done.stderr.decode("utf-8", "replace").strip()
    if "not a git repository" in err.lower():
        raise UsageError(
            f"{spec}: no such file, and {cwd} is not inside a git repository to read it from",
            hint="run envlock diff inside the repository, or pass lock file paths",
        )
    verify = ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{object}}"]
    if rev and _git(verify, cwd).returncode != 0:
        raise UsageError(
            f"{spec}: git revision '{rev}' does not exist",
            hint="check the name with `git log --oneline` or `git branch -a`; in CI fetch the base "
            "branch first (actions/checkout with fetch-depth: 0)",
        )
    why = err.splitlines()[-1] if err else "git failed"
    raise UsageError(
        f"{spec}: '{inner}' does not exist in {rev or 'the index'} ({why})",
        hint="the path after ':' is relative to the repository root; write REV:./path for a path "
        "relative to the current directory",
    )


def migrate(lock: Lock, *, source: str, to: int = LOCK_VERSION) -> Lock:
    """Bring `lock` to lock-version `to` through MIGRATIONS, or raise LockFormatError."""
    while lock.lock_version < to:
        step = MIGRATIONS.get(lock.lock_version)
        if step is None:
            raise LockFormatError(
                f"{source}: lock-version {lock.lock_version} is not one this envlock can read "
                f"(it reads 1 to {LOCK_VERSION})",
                hint="regenerate the lock with `envlock solve`",
            )
        lock = step(lock)
    return lock


def read_for_diff(spec: str, *, cwd: Path) -> ParsedLock:
    """Read, parse and migrate one side of a diff; a content hash that does not match is reported
    in `hash_matches`, not refused."""
    text = read_source(spec, cwd=cwd)
    parsed = parse_lock_unverified(text.text, source=text.source)
    return replace(parsed, lock=migrate(parsed.lock, source=text.source))


def load_for_diff(spec: str, *, cwd: Path) -> Lock:
    """Read, parse (hash not verified) and migrate one side of a diff."""
    return read_for_diff(spec, cwd=cwd).lock
