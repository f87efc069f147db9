"""Where each key of a TOML document is written: key path -> line number, for error messages.

tomllib gives values but no positions, so this reads the text itself: it follows `[table]` and
`[[array]]` headers and `key = value` lines, and skips over values that span lines (arrays, inline
tables, multi-line strings). Keys inside inline tables or arrays are not located; their lookup falls
back to the line of the enclosing key, which is what an error message needs.
"""

from __future__ import annotations

import re

_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_KEYS = rf"{_PART}(?:\s*\.\s*{_PART})*"
_ARRAY_HEADER_RE = re.compile(rf"^\s*\[\[\s*({_KEYS})\s*\]\]")
_TABLE_HEADER_RE = re.compile(rf"^\s*\[\s*({_KEYS})\s*\]")
_KEY_RE = re.compile(rf"^\s*({_KEYS})\s*=")
_PART_RE = re.compile(_PART)
_INDEX_SUFFIX_RE = re.compile(r"\[\d+\]$")


class SourceMap:
    """Line numbers (1-based) of the tables and keys of one TOML text, by dotted key path.

    Paths look like `env.python`, `target[1].driver` (arrays of tables get 0-based indexes).
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[str, int] = {}
        self._scan(text)

    def line(self, path: str) -> int:
        """The line of `path`, or of its nearest located parent; 1 when nothing is known."""
        while path:
            if path in self._lines:
                return self._lines[path]
            path = _parent(path)
        return 1

    def _scan(self, text: str) -> None:
        array_counts: dict[str, int] = {}
        table = ""
        depth = 0
        multiline: str | None = None
        for lineno, line in enumerate(text.splitlines(), start=1):
            rest = line
            if depth == 0 and multiline is None:
                header = _ARRAY_HEADER_RE.match(line)
                if header:
                    raw = _join(_split(header.group(1)))
                    array_counts[raw] = array_counts.get(raw, -1) + 1
                    table = _resolve(raw, array_counts)
                    self._lines.setdefault(table, lineno)
                    # the array itself (`targets`) is where its first header is written
                    self._lines.setdefault(_INDEX_SUFFIX_RE.sub("", table), lineno)
                    continue
                header = _TABLE_HEADER_RE.match(line)
                if header:
                    table = _resolve(_join(_split(header.group(1))), array_counts)
                    self._lines.setdefault(table, lineno)
                    continue
                key = _KEY_RE.match(line)
                if key:
                    path = _join([table, *_split(key.group(1))] if table else _split(key.group(1)))
                    self._lines.setdefault(path, lineno)
                    rest = line[key.end() :]
                else:
                    rest = ""
            depth, multiline = _advance(rest, depth, multiline)


def _split(keys: str) -> list[str]:
    parts = []
    for part in _PART_RE.findall(keys):
        if part[:1] in ('"', "'"):
            part = part[1:-1]
        parts.append(part)
    return parts


def _join(parts: list[str]) -> str:
    return ".".join(p for p in parts if p)


def _resolve(raw: str, array_counts: dict[str, int]) -> str:
    """Insert the current index after every prefix of `raw` that is an array of tables."""
    parts = raw.split(".")
    out: list[str] = []
    for i, part in enumerate(parts):
        out.append(part)
        prefix = ".".join(parts[: i + 1])
        if prefix in array_counts:
            out[-1] = f"{part}[{array_counts[prefix]}]"
    return ".".join(out)


def _parent(path: str) -> str:
    if _INDEX_SUFFIX_RE.search(path):
        return _INDEX_SUFFIX_RE.sub("", path)
    head, _, _ = path.rpartition(".")
    return head


def _advance(text: str, depth: int, multiline: str | None) -> tuple[int, str | None]:
    """Bracket depth and open multi-line string after reading `text` (the value part of a line)."""
    i = 0
    n = len(text)
    while i < n:
        if multiline is not None:
            end = text.find(multiline, i)
            if end < 0:
                return depth, multiline
            i = end + 3
            multiline = None
            continue
        ch = text[i]
        if ch == "#":
            break
        if text.startswith('"""', i) or text.startswith("'''", i):
            multiline = text[i : i + 3]
            i += 3
            continue
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch == "'":
            end = text.find("'", i + 1)
            i = n if end < 0 else end
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(0, depth - 1)
        i += 1
    return depth, multiline
