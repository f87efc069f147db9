"""Golden files: each review situation rendered as text, Markdown and JSON, byte for byte.

Refresh with `pytest tests/diff --update-goldens`, then read `git diff tests/diff/golden/`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envlock.diff.compute import diff_locks
from envlock.diff.render import render_markdown, render_text, render_textconv, to_json

from .conftest import GOLDEN, SASS
from .scenarios import NEW_SOURCE, OLD_SOURCE, SCENARIOS


def _check(path: Path, actual: str, update: bool) -> None:
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"missing golden {path.name}: run pytest tests/diff --update-goldens"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path.name} differs; if the change is intended, run --update-goldens"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("fmt", ["txt", "md", "json"])
def test_golden_review(name: str, fmt: str, update_goldens: bool) -> None:
    old, new = SCENARIOS[name]()
    diff = diff_locks(old, new, old_source=OLD_SOURCE, new_source=NEW_SOURCE, sass=SASS)
    if fmt == "txt":
        actual = render_text(diff)
    elif fmt == "md":
        actual = render_markdown(diff)
    else:
        actual = json.dumps(to_json(diff), indent=2) + "\n"
    _check(GOLDEN / f"{name}.{fmt}", actual, update_goldens)


@pytest.mark.parametrize("side", ["old", "new"])
def test_golden_textconv(side: str, update_goldens: bool) -> None:
    old, new = SCENARIOS["torch_upgrade"]()
    lock = old if side == "old" else new
    _check(GOLDEN / f"textconv_{side}.txt", render_textconv(lock, sass=SASS), update_goldens)


def test_goldens_are_not_stale_leftovers() -> None:
    """Every golden file belongs to a scenario, so a renamed scenario cannot leave a dead file."""
    expected = {f"{n}.{e}" for n in SCENARIOS for e in ("txt", "md", "json")}
    expected |= {"textconv_old.txt", "textconv_new.txt"}
    present = {p.name for p in GOLDEN.iterdir()}
    assert present == expected
