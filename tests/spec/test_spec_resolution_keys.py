"""`[resolution] build` and `[resolution] uniform`: parsed, validated with a located error, and
entering the spec hash only when set (older specs keep their hash)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envlock.errors import SpecError
from envlock.spec import load_spec, spec_hash

HEAD = """\
[env]
name = "vit-train"
python = "3.11"
dependencies = ["mylib @ ./dist/mylib-0.1-py3-none-any.whl"]

[[target]]
name = "ci"
platform = "linux-x86_64"
"""


def _load(tmp_path: Path, resolution: str) -> Path:
    path = tmp_path / "envlock.toml"
    path.write_text(HEAD + ("\n[resolution]\n" + resolution if resolution else ""), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "build", "allows"),
    [
        ("", "never", False),
        ('build = "never"', "never", False),
        ('build = "allowed"', "allowed", True),
        ('build = ["MyLib", "flash_attn"]', ("flash-attn", "mylib"), True),
        ('build = ["flash-attn"]', ("flash-attn",), False),
    ],
)
def test_build_policy(tmp_path: Path, text: str, build: object, allows: bool) -> None:
    spec = load_spec(_load(tmp_path, text))
    assert spec.build == build
    assert spec.may_build("mylib") is allows


def test_a_bad_build_policy_is_located_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(_load(tmp_path, 'build = "allow"'))
    assert 'envlock.toml:11: resolution.build: "allow" is not a build policy' in str(info.value)
    assert info.value.hint == "did you mean 'allowed'?"


def test_uniform_must_be_a_boolean(tmp_path: Path) -> None:
    assert load_spec(_load(tmp_path, "uniform = true")).uniform is True
    with pytest.raises(SpecError) as info:
        load_spec(_load(tmp_path, 'uniform = "yes"'))
    assert "resolution.uniform" in str(info.value) and "true or false" in str(info.value)


def test_new_keys_change_the_hash_only_when_set(tmp_path: Path) -> None:
    plain = spec_hash(load_spec(_load(tmp_path, "")))
    assert spec_hash(load_spec(_load(tmp_path, 'build = "never"\nuniform = false'))) == plain
    assert spec_hash(load_spec(_load(tmp_path, 'build = "allowed"'))) != plain
    assert spec_hash(load_spec(_load(tmp_path, "uniform = true"))) != plain
