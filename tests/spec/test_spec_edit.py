"""`envlock init [--from-node]`, `envlock add`, `envlock remove`: specs written and edited from the
command line, keeping the user's comments and layout."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from envlock.cli.main import main
from envlock.spec import load_spec

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def envlock(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_init_from_node_writes_the_nodes_gpus_and_driver(
    envlock: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ENVLOCK_GPUS/ENVLOCK_DRIVER stand in for the GPUs this test machine does not have
    monkeypatch.setenv("ENVLOCK_GPUS", "NVIDIA H100 80GB HBM3,NVIDIA H100 80GB HBM3")
    monkeypatch.setenv("ENVLOCK_DRIVER", "550.54.15")
    code, _, err = envlock("init", "--from-node", "--name", "vit-train", "--python", "3.11")
    assert code == 0, err
    spec = load_spec(tmp_path / "envlock.toml")
    assert (spec.name, spec.python, spec.dependencies) == ("vit-train", "3.11", ())
    (target,) = spec.targets
    assert [g.cc.sm for g in target.gpus] == ["sm_90"] and target.driver == "550.54.15"
    text = (tmp_path / "envlock.toml").read_text()
    assert "# the lowest NVIDIA driver on these nodes" in text and "# [cuda]" in text
    assert "driver 550.54.15" in err
    again, _, err = envlock("init")
    assert again == 2 and "exists" in err


def test_init_from_node_refuses_a_driver_branch(envlock: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVLOCK_GPUS", "A100")
    monkeypatch.setenv("ENVLOCK_DRIVER", "535")
    code, _, err = envlock("init", "--from-node")
    assert code == 2 and "driver branch" in err


def test_init_without_a_node_is_a_cpu_spec_that_reads_back(envlock: Run, tmp_path: Path) -> None:
    code, _, err = envlock("init", "--name", "demo")
    assert code == 0, err
    spec = load_spec(tmp_path / "envlock.toml")
    assert spec.name == "demo" and not spec.targets[0].has_gpus


SPEC = """\
# our training env: keep this comment
[env]
name = "demo"   # short name
python = "3.11"
dependencies = [
    "torch>=2.5,<2.8",  # the GPU stack
    # numpy 2 breaks our C extension
    "numpy<2",
]

[[target]]
name = "ci"
platform = "linux-x86_64"
"""


def test_add_keeps_comments_and_layout(envlock: Run, tmp_path: Path) -> None:
    path = tmp_path / "envlock.toml"
    path.write_text(SPEC)
    code, _, err = envlock("add", "rich>=13", "Torch>=2.6")
    assert code == 0, err
    assert path.read_text() == SPEC.replace(
        '"torch>=2.5,<2.8",  # the GPU stack', '"Torch>=2.6",  # the GPU stack'
    ).replace('    "numpy<2",\n', '    "numpy<2",\n    "rich>=13",\n')
    assert "replaced torch>=2.5,<2.8 with Torch>=2.6" in err and "added rich>=13" in err
    assert load_spec(path).dependencies == ("Torch>=2.6", "numpy<2", "rich>=13")


def test_add_refuses_what_is_not_a_requirement_and_changes_nothing(envlock: Run, tmp_path: Path) -> None:
    path = tmp_path / "envlock.toml"
    path.write_text(SPEC)
    code, _, err = envlock("add", "numpy<<2")
    assert code == 2 and "not a PEP 508 requirement" in err
    assert path.read_text() == SPEC


def test_remove_keeps_the_rest_and_names_what_is_missing(envlock: Run, tmp_path: Path) -> None:
    path = tmp_path / "envlock.toml"
    path.write_text(SPEC)
    code, _, err = envlock("remove", "NumPy")
    assert code == 0, err
    assert path.read_text() == SPEC.replace('    "numpy<2",\n', "")
    code, _, err = envlock("remove", "scipy")
    assert code == 2 and "scipy: not in [env].dependencies" in err and "listed: torch>=2.5,<2.8" in err


def test_add_and_remove_in_pyproject_edit_tool_envlock_env(envlock: Run, tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(
        '[project]\nname = "demo"\nversion = "0"\ndependencies = ["numpy<2"]\n\n'
        '[tool.envlock.env]\npython = "3.11"  # the cluster default\n\n'
        '[[tool.envlock.target]]\nname = "ci"\nplatform = "linux-x86_64"\n'
    )
    code, _, err = envlock("add", "rich")
    assert code == 0, err
    assert load_spec(path).dependencies == ("numpy<2", "rich")
    assert "# the cluster default" in path.read_text()
    code, _, err = envlock("remove", "numpy")
    assert code == 2 and "[tool.envlock.env].dependencies" in err and "[project]" in err
    assert json.dumps(load_spec(path).dependencies) == '["numpy<2", "rich"]'


@pytest.mark.parametrize("command", ["add", "remove"])
def test_editing_a_spec_that_is_not_there_is_a_usage_error(command: str, tmp_path: Path) -> None:
    assert main([command, "numpy", "-s", str(tmp_path / "missing.toml")]) == 2
    assert main([command, "numpy", "-s", str(tmp_path)]) == 2
