"""The values of a lock that become paths, URLs or command arguments, checked before anything uses them.

A lock is input that anyone who can open a pull request can write (and re-seal: its content hash
proves nothing about who wrote it). So every string envlock later turns into a store path, a
download URL, a file name or a line of uv's requirements file is held to a strict form here, by
`validate_lock`, which both lock readers (the validating one and the fast package reader) pass
through. The forms, documented in docs/lock-as-input.md:

* `sha256`: 64 lowercase hex digits; `env-hash`: `sha256:` and 64 lowercase hex digits.
* `size`: an integer from 0 to `MAX_ARTIFACT_SIZE`.
* package `name`: a PEP 508 name; `version`: a PEP 440 version; one entry per name and target.
* artifact `file`: one plain file name (no `/`, `\\`, leading dot, control character; at most 255
  characters).
* `url` and `index`: an absolute URL with a scheme of `URL_SCHEMES`, without spaces or control
  characters (`index` may be empty: a direct reference; so may the `url` of its local or built wheel).
* a direct reference's `source`: `url` a URL as above; `path`/`git` without control characters or a
  leading `-`; `commit` 40 hex digits; `subdirectory` relative.
* env `name` and target `name`: as in the spec (lower-case letters, digits and dashes); target
  names unique; `python` X.Y or X.Yt; `platform` one of envlock's platforms; `glibc` X.Y.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from envlock.errors import LockValueError
from envlock.lock.model import Artifact, DirectSource, Lock, LockedPackage, LockedTarget
from envlock.platforms import PLATFORMS

MAX_ARTIFACT_SIZE = 64 << 30  # 64 GiB: far above any wheel or toolkit archive, far below 10**30
URL_SCHEMES = ("https", "http", "file")

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_ENV_HASH_RE = re.compile(r"sha256:[0-9a-f]{64}")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]*")  # env and target names, as the spec allows them
_PACKAGE_RE = re.compile(r"[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]")  # PEP 508
_FILENAME_RE = re.compile(r"[A-Za-z0-9_+~!-][A-Za-z0-9._+~!-]{0,254}")
_SAFE_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,199}")
_SEPARATORS_RE = re.compile(r"[-_.]+")
# At most two digits a part: the wheel tags of a target are listed per minor version, so a lock
# saying glibc "2.3000000" would otherwise make install list millions of tags.
_PYTHON_RE = re.compile(r"[0-9]{1,2}\.[0-9]{1,2}t?")
_GLIBC_RE = re.compile(r"[0-9]{1,2}\.[0-9]{1,2}")
_URL_UNSAFE_RE = re.compile(r"[\x00-\x20\x7f\\]")
_MAX_URL = 8192
# The shape nearly every locked URL has: http(s), a plain host name (no user, brackets or `@`), an
# optional port, then a path without unsafe characters. Such a URL passes `url_problem` without the
# cost of `urlsplit` (thousands of URLs in a large lock); any other shape takes the full check.
_PLAIN_URL_RE = re.compile(r"https?://[A-Za-z0-9][A-Za-z0-9.-]*(?::[0-9]{1,5})?/[^\x00-\x20\x7f\\]*")
# A release version (`1.26.4`) with an optional local label (`2.5.1+cu124`): valid PEP 440 without
# building a `packaging` Version; anything else (pre-releases, epochs, ...) is parsed.
_PLAIN_VERSION_RE = re.compile(r"[0-9]+(?:\.[0-9]+)*(?:\+[a-z0-9]+(?:\.[a-z0-9]+)*)?")


def is_sha256(value: object) -> bool:
    """Whether `value` is a sha256 as a lock must write it: 64 lowercase hex digits."""
    return isinstance(value, str) and _SHA256_RE.fullmatch(value) is not None


def is_file_name(value: object) -> bool:
    """Whether `value` is one plain file name that stays inside the directory it is joined to."""
    return isinstance(value, str) and _FILENAME_RE.fullmatch(value) is not None


def is_env_hash(value: object) -> bool:
    return isinstance(value, str) and _ENV_HASH_RE.fullmatch(value) is not None


def is_name(value: object) -> bool:
    """Whether `value` is an env or target name as the spec allows it."""
    return isinstance(value, str) and _NAME_RE.fullmatch(value) is not None


def url_problem(url: str) -> str | None:
    """Why `url` may not be fetched (None: it may): an absolute URL of a scheme in URL_SCHEMES."""
    if len(url) <= _MAX_URL and _PLAIN_URL_RE.fullmatch(url) is not None:
        return None
    return _full_url_problem(url)


def _full_url_problem(url: str) -> str | None:
    if len(url) > _MAX_URL:
        return f"longer than {_MAX_URL} characters"
    if _URL_UNSAFE_RE.search(url):
        return "it holds a space, a backslash or a control character"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a URL"
    if not parts.scheme:
        return "a relative URL (no scheme)"
    if parts.scheme not in URL_SCHEMES:
        return f"scheme {parts.scheme!r} is not one of {', '.join(URL_SCHEMES)}"
    if parts.scheme != "file" and not parts.hostname:
        return "no host"
    return None


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Check:
    """Collects nothing: the first bad value raises, naming the key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, value: object, expected: str) -> LockValueError:
        return LockValueError(
            f"{self.source}: {where}: {_show(value)} is not allowed: expected {expected}",
            hint="the lock is damaged or was written by hand to attack whoever installs it; "
            "do not use it: restore it from version control or regenerate it with `envlock solve`",
            details={"key": where},
        )

    def require(self, ok: bool, where: str, value: object, expected: str) -> None:
        if not ok:
            raise self.fail(where, value, expected)

    def url(self, where: str, value: str) -> None:
        problem = url_problem(value)
        if problem is not None:
            raise self.fail(where, value, f"an absolute {'/'.join(URL_SCHEMES)} URL ({problem})")


def _version_ok(text: str) -> bool:
    if len(text) <= 128 and _PLAIN_VERSION_RE.fullmatch(text) is not None:
        return True
    from packaging.version import InvalidVersion, Version

    try:
        Version(text)
    except InvalidVersion:
        return False
    return len(text) <= 128


def _artifact(check: _Check, where: str, a: Artifact, *, direct: bool = False) -> None:
    check.require(is_file_name(a.filename), f"{where}.file", a.filename, "a plain file name")
    if a.url or not direct:  # a direct reference's local or built wheel has no URL
        check.url(f"{where}.url", a.url)
    check.require(
        0 <= a.size <= MAX_ARTIFACT_SIZE,
        f"{where}.size",
        a.size,
        f"a size from 0 to {MAX_ARTIFACT_SIZE} bytes",
    )
    check.require(is_sha256(a.sha256), f"{where}.sha256", a.sha256, "64 lowercase hex digits")


def _package_passes(p: LockedPackage) -> bool:
    """Whether `_package` would find nothing wrong with `p`, decided without building the key paths
    its messages need (thousands of packages in a large lock; nearly all of them pass). False only
    sends `p` through `_package`, which names what is wrong."""
    if p.source is not None or _PACKAGE_RE.fullmatch(p.name) is None or not _version_ok(p.version):
        return False
    if p.index and url_problem(p.index) is not None:
        return False
    files: set[str] = set()
    for a in p.artifacts:
        if a.filename in files or not is_file_name(a.filename) or url_problem(a.url) is not None:
            return False
        if not (0 <= a.size <= MAX_ARTIFACT_SIZE and is_sha256(a.sha256)):
            return False
        files.add(a.filename)
    return True


def _package(check: _Check, where: str, p: LockedPackage) -> None:
    if _package_passes(p):
        return
    check.require(
        _PACKAGE_RE.fullmatch(p.name) is not None, f"{where}.name", p.name, "a package name (PEP 508)"
    )
    check.require(_version_ok(p.version), f"{where}.version", p.version, "a version (PEP 440)")
    if p.index:  # "" is a direct reference: no index, only the file's URL
        check.url(f"{where}.index", p.index)
    files: set[str] = set()
    if p.source is not None:
        _source(check, f"{where}.source", p.source)
    for k, a in enumerate(p.artifacts):
        _artifact(check, f"{where}.artifacts[{k}]", a, direct=p.source is not None)
        check.require(a.filename not in files, f"{where}.artifacts[{k}].file", a.filename, "each file once")
        files.add(a.filename)


def _source(check: _Check, where: str, s: DirectSource) -> None:
    """A direct reference's source: a URL where it is one, a git commit of 40 hex digits, and no
    control characters or leading `-` in a path or repository (they reach the file system and git)."""
    check.require(s.kind in ("path", "url", "git"), f"{where}", s.kind, "path, url or git")
    if s.kind == "url":
        check.url(f"{where}.url", s.location)
    plain = bool(s.location) and not s.location.startswith("-") and not _URL_UNSAFE_RE.search(s.location)
    check.require(plain, f"{where}.{s.kind}", s.location, "a path or URL without control characters")
    if s.commit is not None:
        check.require(
            re.fullmatch(r"[0-9a-f]{40}", s.commit) is not None, f"{where}.commit", s.commit, "40 hex digits"
        )
    if s.subdirectory is not None:
        ok = not s.subdirectory.startswith(("-", "/")) and not _URL_UNSAFE_RE.search(s.subdirectory)
        check.require(ok, f"{where}.subdirectory", s.subdirectory, "a relative path")


def _normalized(name: str) -> str:
    # PEP 503 normalization, written out: packaging.utils would import packaging.tags (and with it
    # subprocess) into every command that reads a lock
    return _SEPARATORS_RE.sub("-", name).lower()


def _target(check: _Check, where: str, t: LockedTarget) -> None:
    check.require(is_name(t.name), f"{where}.name", t.name, "lower-case letters, digits and dashes")
    check.require(t.platform in PLATFORMS, f"{where}.platform", t.platform, f"one of {', '.join(PLATFORMS)}")
    two = "at most two digits each"
    check.require(bool(_PYTHON_RE.fullmatch(t.python)), f"{where}.python", t.python, f"X.Y or X.Yt ({two})")
    check.require(bool(_GLIBC_RE.fullmatch(t.glibc)), f"{where}.glibc", t.glibc, f"X.Y ({two})")
    check.require(is_env_hash(t.env_hash), f"{where}.env-hash", t.env_hash, "sha256: and 64 lowercase hex")
    # The toolkit archives, conda packages and the interpreter build become store paths and
    # downloads like wheels do: their files are held to the same forms. Their names need not be
    # PEP 508 names (conda's `_libgcc_mutex`), only free of anything a path could make of them.
    for j, c in enumerate(t.toolkit):
        check.require(
            _SAFE_NAME_RE.fullmatch(c.name) is not None, f"{where}.toolkit[{j}].name", c.name, "a name"
        )
        for k, a in enumerate(c.artifacts):
            _artifact(check, f"{where}.toolkit[{j}].artifacts[{k}]", a)
    for j, d in enumerate(t.conda):
        check.require(
            _SAFE_NAME_RE.fullmatch(d.name) is not None, f"{where}.conda[{j}].name", d.name, "a name"
        )
        _artifact(check, f"{where}.conda[{j}].artifact", d.artifact)
    if t.interpreter is not None:
        _artifact(check, f"{where}.interpreter.artifact", t.interpreter.artifact)
    seen: dict[str, str] = {}
    for j, p in enumerate(t.packages):
        at = f"{where}.packages[{j}]"
        _package(check, at, p)
        key = _normalized(p.name)
        if key in seen:
            other = seen[key]
            expected = (
                f"one entry per package ({p.name} {p.version} is locked twice)"
                if other == p.version
                else f"one version per package ({p.name} is locked at {other} and at {p.version})"
            )
            raise check.fail(f"{at}.name", p.name, expected)
        seen[key] = p.version


def _duplicates(names: Iterator[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def validate_lock(lock: Lock, *, source: str) -> None:
    """Raise LockValueError (exit 1, naming the key path) for the first value of `lock` that envlock
    must not turn into a path, URL or argument; see the module docstring for the forms."""
    check = _Check(source)
    check.require(
        is_name(lock.inputs.name), "inputs.name", lock.inputs.name, "lower-case letters, digits and dashes"
    )
    for i, t in enumerate(lock.targets):
        _target(check, f"targets[{i}]", t)
    twice = _duplicates(t.name for t in lock.targets)
    if twice is not None:
        index = [t.name for t in lock.targets].index(twice, 1 + [t.name for t in lock.targets].index(twice))
        raise check.fail(f"targets[{index}].name", twice, "each target name once")
