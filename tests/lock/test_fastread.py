"""The fast reader's TOML front end (`envlock.lock.fastread`): whatever the text, it gives what the
TOML parser gives, or declines and leaves the text to the parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lockfactory import make_lock

from envlock import _toml
from envlock.lock.fastread import load_package_blocks, load_toml
from envlock.lock.write import dump_lock

# The reader's own TOML front end (`load_toml`) must give what the TOML parser gives, for every
# text: the same tables for a text it reads, and a refusal for a text the parser refuses. It is
# exercised on the writer's layout and on that layout damaged at random.

_SNIPPETS = [
    "\n",
    " ",
    "\t",
    "\r\n",
    '"',
    "'",
    "\\",
    "#",
    "[",
    "]",
    "{",
    "}",
    ",",
    "=",
    "x",
    "0",
    "1_0",
    "+1",
    '"""',
    "'''",
    "\\u0041",
    "\\n",
    "\x7f",
    "\x00",
    "é",
    "\n[[targets.packages]]\n",
    "\n[targets.packages.x]\n",
    "\n[targets.packages]\n",
    "\nx = 1\n",
    "\n[[targets]]\n",
    "\n[inputs]\n",
    "packages = []\n",
    "\n__envlock_package_block__ = 0\n",
    '\n"__envlock_package_block__" = 1\n',
    "\n[[targets.packages]]\n__envlock_package_block__ = 0\n",
    ", yanked = false",
    ", yanked = true",
    ', hash-source = "index"',
    "size = 01, ",
    "artifacts = [\n",
]


def _tables_or_refusal(load: object, text: str) -> object:
    try:
        return load(text)  # type: ignore[operator]
    except _toml.TOMLDecodeError:
        return "refused"


def _edit_points(text: str) -> list[int]:
    """Where edits matter most: line starts and ends, after `= `, inside `{ ... }` and strings."""
    points = {0, len(text)}
    for i, ch in enumerate(text):
        if ch == "\n":
            points.update((i, i + 1))
        elif ch in '"{}[]' or text.startswith("= ", i):
            points.update((i, i + 1, i + 2))
    return sorted(p for p in points if p <= len(text))


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_toml_front_end_gives_what_the_parser_gives(data: st.DataObject) -> None:
    text = dump_lock(make_lock())
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.sampled_from(_edit_points(text)))
        snippet = data.draw(st.sampled_from(_SNIPPETS))
        cut = data.draw(st.integers(0, 2))
        text = text[:at] + snippet + text[at + cut :]
    expected = _tables_or_refusal(_toml.loads, text)
    assert _tables_or_refusal(load_toml, text) == expected
    quick = load_package_blocks(text)
    if expected == "refused":
        assert quick is None
    else:
        assert quick is None or quick == expected


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # a multi-line string holding what looks like package blocks
        ("rejected = [\n", 'note = """\n'),
        ("rejected = [\n", "note = '''\n"),
        # a key after the last package of a target belongs to that package
        (']\n\n[[targets]]\nname = "login"', ']\nextra = 1\n\n[[targets]]\nname = "login"'),
        # a subtable of the last package
        (']\n\n[[targets]]\nname = "login"', ']\n[targets.packages.x]\n\n[[targets]]\nname = "login"'),
        # not TOML: a leading zero, a control character
        ("size = 1008,", "size = 01008,"),
        ('name = "numpy"', 'name = "num\x7fpy"'),
        # the placeholder the front end uses, written by hand
        (
            '[[targets]]\nname = "login"',
            '[[targets.packages]]\n__envlock_package_block__ = 0\n[[targets]]\nname = "login"',
        ),
        (
            '[[targets]]\nname = "login"',
            '[[targets.packages]]\n"__envlock_package\\u005fblock__" = 1\n[[targets]]\nname = "login"',
        ),
    ],
)
def test_toml_front_end_on_tricky_texts(old: str, new: str) -> None:
    text = dump_lock(make_lock())
    assert old in text
    text = text.replace(old, new, 1)
    if new.startswith("note = "):  # close the string after the packages
        quotes = new[7:10]
        text = text.replace('[[targets]]\nname = "login"', f'{quotes}\n[[targets]]\nname = "login"')
    expected = _tables_or_refusal(_toml.loads, text)
    assert _tables_or_refusal(load_toml, text) == expected
    quick = load_package_blocks(text)
    assert quick is None or quick == expected


def test_toml_front_end_takes_the_writers_layout() -> None:
    text = dump_lock(make_lock())
    assert load_package_blocks(text) == _toml.loads(text)
    assert load_package_blocks(text.replace("\n", "\r\n")) is None  # another layout: the parser reads it
