"""Reading `envlock.lock`: the validating reader, which names the key path of every bad value.

The model's key tables (`envlock.lock.model`) say which keys each table holds and their
defaults; packages laid out as `dump_lock` writes them take the fast reader
(`envlock.lock.fastread`), and the content hash is then checked straight from the parsed TOML.

The reader owns the lock-version. A file of an older version is upgraded as it is read: its
parsed TOML goes through `MIGRATIONS` (version N -> N + 1) up to `LOCK_VERSION` before it becomes
the model, so every command, `diff` included, sees only current locks. A newer file is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envlock import _toml
from envlock.errors import LockFormatError, StaleLockError
from envlock.inputfile import MAX_LOCK_BYTES, InputFileError, read_input
from envlock.lock.digest import compute_content_hash, sha256_json
from envlock.lock.fastread import Irregular, load_toml, read_packages_fast
from envlock.lock.model import (
    REQUIRED,
    DirectSource,
    Key,
    Lock,
    LockedInterpreter,
    LockedPackage,
    key_of,
)
from envlock.lock.validate import validate_lock
from envlock.tables import TableReader, quote_key

LOCK_VERSION = 1
"""The lock-version `dump_lock` writes and this reader reads, upgrading older ones."""

# lock-version N -> a function that turns the parsed TOML of a version-N lock into that of
# version N + 1 (its `lock-version` included). Version 1 is the first, so there is none yet.
# The content hash of an upgraded file is checked on the file as written, before the upgrade.
MIGRATIONS: Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


_DAMAGED = "the lock is damaged or not an envlock lock; regenerate it with `envlock solve`"


class _Reader(TableReader):
    """One table of a parsed lock, read key by key as the model's key tables say. Every error names
    the key path of the value (`targets[0].packages[3].version`), what the file holds there and
    what fits."""

    def __init__(self, source: str, data: Mapping[str, Any], path: str = "") -> None:
        self.source = source
        self.data = data
        self.path = path

    def where(self, key: str) -> str:
        """The key path of `key` in this table."""
        return f"{self.path}.{key}" if self.path else key

    def fail(self, path: str, what: str, expected: str, hint: str | None = None) -> LockFormatError:
        return LockFormatError(
            f"{self.source}: {path}: {what}, expected {expected}",
            hint=hint or _DAMAGED,
            details={"file": self.source, "key": path},
        )

    def found(self, value: object) -> str:
        return f"found {self.quote(value)}"

    def wrong(self, key: str, expected: str) -> LockFormatError:
        """The error for the value under `key` of this table, which is not `expected` or is missing."""
        what = self.found(self.data[key]) if key in self.data else "missing"
        return self.fail(self.where(key), what, expected)

    def string(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str):
            raise self.wrong(key, "a string")
        return value

    def opt_str(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.wrong(key, "a string")
        return value

    def integer(self, key: str) -> int:
        value = self.data.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.wrong(key, "an integer")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.wrong(key, "true or false")
        return value

    def strs(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise self.wrong(key, "a list of strings")
        if not all(isinstance(v, str) for v in value):
            i, item = next((i, v) for i, v in enumerate(value) if not isinstance(v, str))
            raise self.fail(f"{self.where(key)}[{i}]", self.found(item), "a string")
        return tuple(value)

    def tables(self, key: str) -> list[_Reader]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise self.wrong(key, "a list of tables")
        path = self.where(key)
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.fail(f"{path}[{i}]", self.found(item), "a table")
            out.append(_Reader(self.source, item, f"{path}[{i}]"))
        return out

    def record(self, key: str) -> _Reader:
        """The table under `key`, which must be there."""
        value = self.data.get(key)
        if not isinstance(value, dict):
            raise self.wrong(key, "a table")
        return _Reader(self.source, value, self.where(key))


def _read_record(r: _Reader, cls: Any, fast: list[bool]) -> Any:
    """A `cls` value from its table, key by key as `cls.KEYS` says; errors name the key path."""
    values: dict[str, object] = {}
    for key in cls.KEYS:
        values[key.field] = _read_value(r, cls, key, fast)
    record = cls(**values)
    check = _CHECKS.get(cls)
    if check is not None:
        check(r, record)
    return record


def _read_value(r: _Reader, cls: Any, key: Key, fast: list[bool]) -> object:
    name = key.key
    if key.kind == "str":
        beside = key.unless is not None and key_of(cls, key.unless).key in r.data
        if key.default is REQUIRED or (key.always and not beside):
            return r.string(name)
        text = r.opt_str(name)
        return text if key.default is None else text or key.default
    if key.kind == "int":
        return r.integer(name)
    if key.kind == "bool":
        return r.flag(name)
    if key.kind == "strs":
        return None if key.default is None and name not in r.data else r.strs(name)
    if key.kind == "build":
        return _read_build(r)
    if key.kind == "pairs":
        return _read_pairs(r, name)
    if key.kind == "source":
        return _read_source(r.record(name)) if name in r.data else None
    if key.kind == "record":
        if key.default is not REQUIRED and name not in r.data:
            return key.default
        return _read_record(r if key.layout == "flat" else r.record(name), key.record, fast)
    if key.bulk:
        return _read_packages(r, fast)
    return tuple(_read_record(item, key.record, fast) for item in r.tables(name))


def _read_build(r: _Reader) -> str | tuple[str, ...]:
    value = r.data.get("build", "never")
    if isinstance(value, str) and value in ("never", "allowed"):
        return value
    if isinstance(value, list):
        return r.strs("build")
    raise r.wrong("build", '"never", "allowed" or a list of project names')


def _read_pairs(r: _Reader, key: str) -> tuple[tuple[str, str], ...]:
    value = r.data.get(key, {})
    if not isinstance(value, dict):
        raise r.wrong(key, "a table of strings")
    for name, text in value.items():
        if not isinstance(text, str):
            raise r.fail(f"{r.where(key)}.{quote_key(name)}", r.found(text), "a string")
    return tuple(sorted((str(k), v) for k, v in value.items()))


_INTERPRETER_VERSION_RE = re.compile(r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,4}$")
_SHA256_HEX_RE = re.compile(r"^[0-9a-f]{64}$")
_ARCHIVE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*\.tar\.(gz|zst)$")


def _check_interpreter(i: _Reader, interpreter: LockedInterpreter) -> None:
    """The target's pinned interpreter build; its fields become store paths, so each is checked."""
    if interpreter.implementation != "cpython":
        raise i.wrong("implementation", '"cpython"')
    if not _INTERPRETER_VERSION_RE.match(interpreter.version):
        raise i.wrong("version", 'a version like "3.11.14"')
    if not _SHA256_HEX_RE.match(interpreter.artifact.sha256):
        raise i.wrong("sha256", "64 lower-case hex digits")
    if not _ARCHIVE_NAME_RE.match(interpreter.artifact.filename):
        raise i.wrong("file", "the file name of a .tar.gz or .tar.zst archive")


_CHECKS: dict[Any, Callable[[_Reader, Any], None]] = {LockedInterpreter: _check_interpreter}


def _read_packages(r: _Reader, fast: list[bool]) -> tuple[LockedPackage, ...]:
    try:
        packages = read_packages_fast(r.data.get("packages", []))
    except Irregular:
        fast.append(False)
    else:
        fast.append(True)
        return packages
    # The validating reader names the first bad key; it also takes what the fast reader declines.
    return tuple(_read_record(p, LockedPackage, fast) for p in r.tables("packages"))


_SOURCE_KINDS = ("path", "url", "git")


def _read_source(r: _Reader) -> DirectSource:
    kinds = [k for k in _SOURCE_KINDS if k in r.data]
    if len(kinds) != 1:
        what = f"holds {' and '.join(kinds)}" if kinds else "holds no path, url or git"
        raise r.fail(r.path, what, "exactly one of path, url, git")
    return DirectSource(
        kind=kinds[0],
        location=r.string(kinds[0]),
        commit=r.opt_str("commit"),
        subdirectory=r.opt_str("subdirectory"),
        built=r.flag("built"),
    )


# The keys `dump_lock` writes per table: (always, sometimes), from the model's tables; a flat
# record's keys sit in its parent's table. A table with exactly such keys, read without error,
# holds the same values as the canonical content of the lock read from it.
_Shape = tuple[frozenset[str], frozenset[str]]
_SHAPES: dict[Any, _Shape] = {}


def _shape(cls: Any) -> _Shape:
    shape = _SHAPES.get(cls)
    if shape is None:
        always: set[str] = set()
        sometimes: set[str] = set()
        for key in cls.KEYS:
            if key.kind == "record" and key.layout == "flat":
                inner = _shape(key.record)
                (always if key.required else sometimes).update(inner[0])
                sometimes.update(inner[1])
            else:
                (always if key.required and key.unless is None else sometimes).add(key.key)
        shape = _SHAPES[cls] = (frozenset(always), frozenset(sometimes - always))
    return shape


def _has_shape(table: Mapping[str, Any], cls: Any) -> bool:
    """Whether `table` and its sub-tables hold just the keys `dump_lock` writes for `cls` (the
    tables of bulk keys were checked by the fast reader)."""
    required, optional = _shape(cls)
    keys = table.keys()
    if not (required <= keys and all(k in required or k in optional for k in keys)):
        return False
    for key in cls.KEYS:
        value = table.get(key.key)
        if value is None or key.bulk or key.kind not in ("record", "records") or key.layout == "flat":
            continue
        for item in value if key.kind == "records" else [value]:
            if not _has_shape(item, key.record):
                return False
    return True


def _hashed_form(table: Mapping[str, Any], cls: Any) -> dict[str, Any]:
    """`table` as the content hash reads it: without the hash itself, with the empty lists
    `dump_lock` leaves out but the canonical form holds."""
    body = dict(table)
    for key in cls.KEYS:
        if not key.hashed:
            body.pop(key.key, None)
        elif key.hashed_empty and key.key not in body:
            body[key.key] = []
        elif (
            key.kind in ("record", "records")
            and key.layout != "flat"
            and key.key in body
            and _fills(key.record)
        ):
            value = body[key.key]
            body[key.key] = (
                [_hashed_form(item, key.record) for item in value]
                if key.kind == "records"
                else _hashed_form(value, key.record)
            )
    return body


def _fills(cls: Any) -> bool:
    """Whether `_hashed_form` changes anything in a table of `cls` or below."""
    return any(
        key.hashed_empty or not key.hashed or (key.kind in ("record", "records") and _fills(key.record))
        for key in cls.KEYS
    )


def _shape_hash(data: Mapping[str, Any]) -> str | None:
    """The content hash of a lock straight from its parsed TOML, or None when it is not laid out as
    `dump_lock` writes it (then only `compute_content_hash` of the read lock can tell).

    Call only after the lock was read without error and every target's packages took the fast path.
    """
    if not _has_shape(data, Lock):
        return None
    try:
        return sha256_json(_hashed_form(data, Lock))
    except (TypeError, ValueError):  # a value JSON cannot hold (a TOML date): not ours
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedLock:
    """A lock read from text, and whether its content hash matches its content (False: hand-edited)."""

    lock: Lock
    hash_matches: bool


def parse_lock_unverified(text: str, *, source: str = "envlock.lock") -> ParsedLock:
    """Parse the text of a lock and check its content hash without refusing a mismatch.

    Raises LockFormatError when the text is not an envlock lock or comes from a newer envlock.
    """
    try:
        data = load_toml(text)
    except _toml.TOMLDecodeError as exc:
        raise LockFormatError(
            f"{source}: not valid TOML ({exc})",
            hint="restore the lock from version control or regenerate it with `envlock solve`",
        ) from exc
    if "lock-version" not in data or "targets" not in data:
        raise LockFormatError(
            f"{source}: not an envlock lock (no lock-version / targets)",
            hint="pass the envlock.lock that `envlock solve` wrote",
        )
    written = data
    data = _upgrade(data, _Reader(source, data), source)
    fast: list[bool] = []
    lock: Lock = _read_record(_Reader(source, data), Lock, fast)
    # Both readers (the fast package reader included) end here: every value that later becomes a
    # path, URL or argument is checked once, on the model.
    validate_lock(lock, source=source)
    if data is not written:  # upgraded: the hash covers the file as written
        return ParsedLock(lock=lock, hash_matches=_shape_hash(written) == lock.content_hash)
    shape_hash = _shape_hash(data) if all(fast) else None
    actual = shape_hash if shape_hash is not None else compute_content_hash(lock)
    return ParsedLock(lock=lock, hash_matches=actual == lock.content_hash)


def _upgrade(data: dict[str, Any], root: _Reader, source: str) -> dict[str, Any]:
    """`data` brought to LOCK_VERSION through MIGRATIONS; LockFormatError for a version this
    envlock cannot read (newer, or older without a migration)."""
    version = root.integer("lock-version")
    if version > LOCK_VERSION:
        raise LockFormatError(
            f"{source}: lock-version {version} was written by a newer envlock "
            f"({root.opt_str('envlock-version') or 'unknown'}); this envlock reads up to {LOCK_VERSION}",
            hint="upgrade envlock, or re-solve the spec with this version",
        )
    while version < LOCK_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise LockFormatError(
                f"{source}: lock-version {version} is not one this envlock can read "
                f"(it reads 1 to {LOCK_VERSION})",
                hint="regenerate the lock with `envlock solve`",
            )
        data = step(data)
        version += 1
    return data


def parse_lock(text: str, *, source: str = "envlock.lock", verify: bool = True) -> Lock:
    """Parse the text of a lock. With `verify`, a content hash that does not match raises.

    Raises LockFormatError when the text is not an envlock lock or comes from a newer envlock,
    StaleLockError when it was edited by hand.
    """
    parsed = parse_lock_unverified(text, source=source)
    lock = parsed.lock
    if verify and not parsed.hash_matches:
        expected = compute_content_hash(lock)
        raise StaleLockError(
            f"{source}: the lock was edited by hand (its content hash {lock.content_hash[:19]}... "
            f"does not match its content {expected[:19]}...)",
            hint="undo the edit, or regenerate the lock with `envlock solve`",
            details={"reason": "hand-edited"},
        )
    return lock


def load_lock(path: Path, *, verify: bool = True) -> Lock:
    """Read and validate the lock at `path` (see `parse_lock`)."""
    try:
        text = read_input(path, limit=MAX_LOCK_BYTES, what="lock")
    except FileNotFoundError:
        raise LockFormatError(
            f"{path}: no such lock file",
            hint="run `envlock solve` to create it, or pass the right path with -l",
        ) from None
    except InputFileError as exc:
        hint = (
            f"pass the lock file itself, e.g. -l {path / 'envlock.lock'}"
            if path.is_dir()
            else "pass the envlock.lock that `envlock solve` wrote with -l"
        )
        raise LockFormatError(str(exc), hint=hint) from None
    except OSError as exc:
        raise LockFormatError(
            f"{path}: cannot read the lock: {exc.strerror or exc}",
            hint="check the path and its permissions",
        ) from None
    except UnicodeDecodeError:
        raise LockFormatError(f"{path}: not a text file, so not an envlock lock") from None
    return parse_lock(text, source=str(path), verify=verify)
