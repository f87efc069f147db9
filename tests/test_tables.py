"""The typed TOML table reader that the spec and knowledge-base readers share: errors name the key path."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from envlock.errors import SpecError
from envlock.kb import load_kb
from envlock.tables import TableReader, quote_key, show


class _Reader(TableReader):
    def fail(self, path: str, what: str, expected: str, hint: str | None = None) -> SpecError:
        return SpecError(f"file.toml: {path}: {what}, expected {expected}", hint=hint)


def test_an_unknown_key_is_named_by_its_path_with_the_closest_allowed_one() -> None:
    raw: Mapping[str, Any] = {"env": {"pyhton": "3.11"}}
    with pytest.raises(SpecError) as info:
        _Reader().check_keys("env", raw["env"], ("python", "name"))
    assert str(info.value) == "file.toml: env.pyhton: unknown key, expected one of python, name"
    assert info.value.hint == "did you mean 'python'?"


def test_a_key_that_must_hold_a_table_says_what_it_holds() -> None:
    with pytest.raises(SpecError) as info:
        _Reader().table("cuda", {"cuda": "12.4"})
    assert str(info.value) == 'file.toml: cuda: "12.4" is not a table, expected a [cuda] table'
    assert _Reader().table("cuda", {}) == {}


def test_values_are_quoted_as_toml_writes_them() -> None:
    assert show("x") == '"x"' and show(True) == "true" and show({}) == "a table"
    assert show([1]) == "a list" and show([1], list_items=True) == "[1]"
    assert show("y" * 100) == '"' + "y" * 56 + "..."
    assert quote_key("12.4") == '"12.4"' and quote_key("H100") == "H100"


def test_the_spec_and_the_knowledge_base_report_an_unknown_key_alike(tmp_path: Path) -> None:
    kb_file = tmp_path / "kb.toml"
    kb_file.write_text("[cudas]\n")
    with pytest.raises(SpecError) as kb_error:
        load_kb([kb_file])
    assert f"{kb_file}: cudas: unknown key, expected one of format, sources" in str(kb_error.value)
    assert kb_error.value.hint == "did you mean 'cuda'?"
