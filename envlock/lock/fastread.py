"""The fast reader of a lock's package blocks, for locks as `dump_lock` writes them.

Two parts: `load_toml` parses the text, cutting the package blocks out with regular expressions
before the TOML parser sees the rest, and `read_packages_fast` turns a target's parsed packages
into the model without building a key path per table. Both decline anything laid out otherwise,
which then goes to the TOML parser and the validating reader (`envlock.lock.read`).
"""

from __future__ import annotations

import re
from typing import Any

from envlock import _toml
from envlock.lock.model import Artifact, LockedPackage

# A lock of 500 packages per target is thousands of small tables; the validating reader's
# `_Reader` builds a key path for each before it is needed. `read_packages_fast` reads the
# packages of a target as `dump_lock` writes them (exactly its keys, none of its omitted defaults
# spelt out) and gives up with `Irregular` on anything else, leaving that target to the validating
# reader. Because it takes only that layout, a target it read contributes to the canonical content
# exactly its parsed TOML, which lets the reader's shape hash check the content hash without
# rebuilding the content.

_PACKAGE_KEYS = frozenset(k.key for k in LockedPackage.KEYS if k.kind != "source")
_ARTIFACT_KEYS = frozenset(k.key for k in Artifact.KEYS)
_ARTIFACT_REQUIRED = frozenset({*(k.key for k in Artifact.KEYS if k.required), "url"})


class Irregular(Exception):
    """The fast reader met something `dump_lock` does not write; the validating reader decides."""


def read_packages_fast(value: object) -> tuple[LockedPackage, ...]:
    """The packages of one target from their parsed TOML; `Irregular` for any other layout."""
    if type(value) is not list:
        raise Irregular
    packages = []
    for p in value:
        if type(p) is not dict or p.keys() != _PACKAGE_KEYS:
            raise Irregular
        name, version, index, items = p["name"], p["version"], p["index"], p["artifacts"]
        if (
            type(name) is not str
            or type(version) is not str
            or type(index) is not str
            or type(items) is not list
        ):
            raise Irregular
        artifacts = []
        for a in items:
            if type(a) is not dict or not (_ARTIFACT_REQUIRED <= a.keys() <= _ARTIFACT_KEYS):
                raise Irregular
            filename, url, size, sha256 = a["file"], a["url"], a["size"], a["sha256"]
            hash_source, upload_time, yanked = a.get("hash-source"), a.get("upload-time"), a.get("yanked")
            if (
                type(filename) is not str
                or type(url) is not str
                or type(size) is not int
                or type(sha256) is not str
                # dump_lock leaves out the defaults: hash-source "index", yanked false
                or (
                    hash_source is not None and (type(hash_source) is not str or hash_source in ("", "index"))
                )
                or (upload_time is not None and type(upload_time) is not str)
                or (yanked is not None and yanked is not True)
            ):
                raise Irregular
            artifacts.append(
                Artifact(
                    filename=filename,
                    url=url,
                    size=size,
                    sha256=sha256,
                    hash_source=hash_source or "index",
                    upload_time=upload_time,
                    yanked=yanked is True,
                )
            )
        packages.append(LockedPackage(name=name, version=version, index=index, artifacts=tuple(artifacts)))
    return tuple(packages)


# Reading the TOML. Nearly all of a lock is package blocks, and a TOML parser spends most of its
# time on them. `load_toml` cuts every block written exactly as `dump_lock` writes it (strings
# without escapes, plain integers) out of the text with two regular expressions, leaving in its
# place the same table header with one placeholder key; the TOML parser reads the rest (every
# other key, every table header, anything written differently) and the blocks are put back where
# their placeholders landed. A block is a whole table: the placeholder table must come back with
# no other key, else some later line added to that table and the whole text goes to the parser.
# The result is the parser's own for every text (tests/lock compare them); a text the parser
# refuses is refused by the parser itself, with its own message.

_PLACEHOLDER = "__envlock_package_block__"
_STRING = r'"([^"\\\x00-\x1f\x7f]*)"'  # a basic string without escapes or control characters
_INTEGER = r"(0|[1-9][0-9]{0,17})"


def _artifact_line(string: str, integer: str, flag: str) -> str:
    return (
        rf"    \{{ file = {string}, url = {string}, size = {integer}, sha256 = {string}"
        rf"(?:, hash-source = {string})?(?:, upload-time = {string})?{flag} \}},\n"
    )


_ARTIFACT_RE = re.compile(_artifact_line(_STRING, _INTEGER, "(, yanked = true)?"))
# the artifact lines again, without capturing groups: a block needs only their span
_ARTIFACT_SPAN = _artifact_line(
    _STRING.replace("(", "(?:"), _INTEGER.replace("(", "(?:"), "(?:, yanked = true)?"
)
_BLOCK_RE = re.compile(
    rf"\n\[\[targets\.packages\]\]\nname = {_STRING}\nversion = {_STRING}\nindex = {_STRING}\n"
    rf"artifacts = \[\n((?:{_ARTIFACT_SPAN})*)\]\n"
)


def load_toml(text: str) -> dict[str, Any]:
    """`_toml.loads(text)`, faster for the package blocks of a lock as `dump_lock` writes them."""
    data = load_package_blocks(text)
    return data if data is not None else _toml.loads(text)


def load_package_blocks(text: str) -> dict[str, Any] | None:
    if _PLACEHOLDER in text or '"""' in text or "'''" in text:
        return None  # multi-line strings could hold lines that look like blocks
    # Consecutive blocks (a target's packages) become one run with one placeholder table.
    runs: list[list[dict[str, Any]]] = []
    pieces: list[str] = []
    done = 0
    for m in _BLOCK_RE.finditer(text):
        if m.start() != done or not runs:
            pieces.append(text[done : m.start()])
            pieces.append(f"\n[[targets.packages]]\n{_PLACEHOLDER} = {len(runs)}\n")
            runs.append([])
        artifacts = []
        for a in _ARTIFACT_RE.finditer(text, m.start(4), m.end(4)):
            filename, url, size, sha256, hash_source, upload_time, yanked = a.groups()
            artifact: dict[str, Any] = {"file": filename, "url": url, "size": int(size), "sha256": sha256}
            if hash_source is not None:
                artifact["hash-source"] = hash_source
            if upload_time is not None:
                artifact["upload-time"] = upload_time
            if yanked is not None:
                artifact["yanked"] = True
            artifacts.append(artifact)
        name, version, index = m.group(1, 2, 3)
        runs[-1].append({"name": name, "version": version, "index": index, "artifacts": artifacts})
        done = m.end()
    if not runs:
        return None
    pieces.append(text[done:])
    try:
        data = _toml.loads("".join(pieces))
    except _toml.TOMLDecodeError:
        return None
    seen = 0
    targets = data.get("targets")
    for target in targets if type(targets) is list else ():
        packages = target.get("packages") if type(target) is dict else None
        if type(packages) is not list or not any(type(p) is dict and _PLACEHOLDER in p for p in packages):
            continue
        spliced: list[Any] = []
        for table in packages:
            if type(table) is dict and _PLACEHOLDER in table:
                number = table[_PLACEHOLDER]
                if seen == len(runs) or len(table) != 1 or type(number) is not int or number != seen:
                    return None
                spliced += runs[seen]
                seen += 1
            else:
                spliced.append(table)
        target["packages"] = spliced
    return data if seen == len(runs) else None
