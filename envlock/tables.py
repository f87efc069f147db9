"""Typed reading of parsed TOML tables: each bad value is reported under its dotted key path.

The spec reader (`envlock.spec.parse`), the knowledge-base reader (`envlock.kb.files`) and the lock
reader (`envlock.lock.read`) build on `TableReader`: it holds the checks every such file needs (unknown
keys with a did-you-mean, a key that must hold a table) and the way a value is quoted in a message,
while each subclass says in `fail` how its errors look (which file, a line, which exception). Every
message names the dotted key path of the value (`targets[0].packages[3].version`), what is wrong
with it and what fits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from envlock.errors import EnvlockError

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def show(value: object, *, list_items: bool = False) -> str:
    """A value as a message quotes it: TOML-like, cut short when long. A list reads "a list", or
    with `list_items` as its items."""
    if isinstance(value, str):
        text = f'"{value}"'
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, list) and not list_items:
        text = "a list"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def quote_key(key: str) -> str:
    """A table key as a dotted path writes it: quoted unless it is a bare key."""
    return key if _BARE_KEY.match(key) else f'"{key}"'


def did_you_mean(word: str, choices: Sequence[str], *, cutoff: float = 0.6) -> str | None:
    """The hint naming the choice closest to `word`, or None when none is close."""
    import difflib  # only a misspelt key or value needs it, and every `envlock check` reads a spec

    close = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    return f"did you mean {close[0]!r}?" if close else None


class TableReader:
    """The checks shared by the readers of envlock's TOML files; `fail` builds a subclass's error."""

    list_items = False  # how `quote` shows a list: "a list", or its items

    def quote(self, value: object) -> str:
        """A value as this reader's messages quote it (see `show`)."""
        return show(value, list_items=self.list_items)

    def fail(self, path: str, what: str, expected: str, hint: str | None = None) -> EnvlockError:
        """The error for the value at key path `path`: `what` is wrong with it, `expected` what fits."""
        raise NotImplementedError

    def table_name(self, path: str) -> str:
        """The table at `path` as the file names it in a header (a reader of a nested table prefixes it)."""
        return path

    def keys_place(self, path: str) -> str | None:
        """Where the keys of the table at `path` are allowed, for the unknown-key message; None: unsaid."""
        return None

    def check_keys(self, path: str, table: Mapping[str, Any], allowed: Sequence[str]) -> None:
        """Every key of `table` (at `path`, "" for the top level) is one of `allowed`."""
        for key in table:
            if key in allowed:
                continue
            full = f"{path}.{key}" if path else key
            expected = "one of " + ", ".join(allowed)
            place = self.keys_place(path)
            if place is not None:
                expected += f" in {place}"
            raise self.fail(full, "unknown key", expected, hint=did_you_mean(key, allowed))

    def table(self, path: str, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        """The table under key `path` of `raw`; empty when the key is absent."""
        value = raw.get(path, {})
        if not isinstance(value, dict):
            raise self.fail(path, f"{self.quote(value)} is not a table", f"a [{self.table_name(path)}] table")
        return value
