"""`[tool.envlock]` in pyproject.toml reuses the project's own dependency tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from envlock.errors import SpecError
from envlock.spec import load_spec, spec_hash

PYPROJECT = """\
[project]
name = "My_Trainer"
version = "0.1.0"
dependencies = ["torch>=2.5", "numpy<2"]

[project.optional-dependencies]
train = ["accelerate>=1.0"]
all = ["My-Trainer[train]", "wandb"]

[dependency-groups]
test = ["pytest>=8"]
dev = [{include-group = "test"}, "ruff"]

[tool.envlock.env]
python = "3.11"
{env_extra}

[[tool.envlock.target]]
name = "h100"
platform = "linux-x86_64"
gpus = ["H100"]
driver = "550.54.15"
"""


def write(tmp_path: Path, env_extra: str = "") -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT.replace("{env_extra}", env_extra), encoding="utf-8")
    return path


def test_project_dependencies_and_name_are_reused(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path))
    assert spec.name == "my-trainer"
    assert spec.dependencies == ("torch>=2.5", "numpy<2")


def test_extras_and_groups_add_their_requirements(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, 'extras = ["all"]\ngroups = ["dev"]\ndependencies = ["rich"]'))
    assert spec.dependencies == (
        "torch>=2.5",
        "numpy<2",
        "wandb",
        "accelerate>=1.0",
        "pytest>=8",
        "ruff",
        "rich",
    )


def test_a_change_to_project_dependencies_changes_the_spec_hash(tmp_path: Path) -> None:
    path = write(tmp_path)
    before = spec_hash(load_spec(path))
    path.write_text(path.read_text().replace('"numpy<2"', '"numpy<3"'))
    assert spec_hash(load_spec(path)) != before


def test_unknown_extra_names_the_known_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, 'extras = ["trian"]'))
    assert str(info.value).startswith("pyproject.toml:16: tool.envlock.env.extras[0]: ")
    assert "all, train" in str(info.value) and info.value.hint == "did you mean 'train'?"


def test_a_bad_requirement_in_project_is_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path)
    path.write_text(path.read_text().replace('"numpy<2"', '"numpy<<2"'))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith("pyproject.toml:4: project.dependencies[1]: ")
