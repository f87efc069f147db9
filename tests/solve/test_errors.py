"""Errors that explain: one explanation per failure, uv's whole words, no hints that do not help."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.solve.conftest import Run, target_block

Envlock = Callable[..., Run]
# a driver too old for CUDA 13: the old message ended with "hint: one of: driver >= 580; ..."
CLUSTER = target_block("h100", gpus=("H100",), driver="535.104.05") + target_block("ci")
NUMPY_CONFLICT = (
    "Because you require numpy<2 and numpy>=2.1, we can conclude that your requirements are unsatisfiable."
)


def _no_gpu_advice(text: str) -> None:
    assert "driver >=" not in text and "drop sm_" not in text
    assert "envlock-resolution" not in text


def test_a_plain_conflict_is_said_once_with_uvs_whole_explanation(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    spec = write_spec(deps=("torch>=2.5,<2.8", "numpy<2", "numpy>=2.1"), targets=CLUSTER)
    run = envlock("solve", "-s", str(spec))
    assert run.code == 1
    assert run.err.count(NUMPY_CONFLICT) == 1, run.err
    assert "targets h100, ci" in run.err and "cu126" not in run.err
    assert "hint: relax the conflicting requirements in [env].dependencies" in run.err
    _no_gpu_advice(run.err)
    as_json = envlock("solve", "-s", str(spec), "--json").json()["error"]
    assert as_json["message"].count(NUMPY_CONFLICT) == 1
    assert all(t["variant-independent"] for t in as_json["targets"])
    assert as_json["targets"][0]["explanation"] == NUMPY_CONFLICT
    _no_gpu_advice(as_json["hint"])
    verbose = envlock("solve", "-s", str(spec), "-v")
    message = verbose.err.split("Traceback", 1)[0]  # -v adds the traceback, which repeats it
    assert message.count(NUMPY_CONFLICT) == 1 and "hint: relax" in message


def test_an_unknown_package_is_said_once_and_the_hint_says_what_to_check(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    run = envlock("solve", "-s", str(write_spec(deps=("torch", "nosuchpkg"), targets=CLUSTER)))
    assert run.code == 1
    assert run.err.count("nosuchpkg was not found in the package registry") == 1, run.err
    assert "hint: check the package's name" in run.err
    _no_gpu_advice(run.err)


def test_a_torch_range_that_admits_nothing_is_said_once(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    run = envlock("solve", "-s", str(write_spec(deps=("torch>=2.6,<2.5",), targets=CLUSTER)))
    assert run.code == 1
    assert run.err.startswith(
        "error: torch<2.5,>=2.6 admits no version (from torch>=2.6,<2.5 in [env].dependencies)"
    )
    assert run.err.count("admits no version") == 1
    _no_gpu_advice(run.err)


def test_a_conflict_that_depends_on_the_variant_says_per_variant_what_differs(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    spec = write_spec(deps=("torch>=2.7,<2.8", "nvidia-cudnn-cu12==9.1.0.70"), targets=CLUSTER)
    run = envlock("solve", "-s", str(spec))
    assert run.code == 1
    # each variant's pin is named, and uv's explanation is whole (its second line too)
    assert "cu126: dependencies conflict:" in run.err and "==9.5.1.17" in run.err
    assert "cu128: dependencies conflict:" in run.err and "==9.7.1.26" in run.err
    assert run.err.count("And because you require nvidia-cudnn-cu12==9.1.0.70") == 2
    assert "envlock-resolution" not in run.err


def test_pyproject_specs_get_hints_in_their_own_terms(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    spec = write_spec(deps=("numpy<2", "numpy>=2.1"), targets=target_block("ci"))
    body = spec.read_text()
    for table in ("env", "indexes"):
        body = body.replace(f"[{table}]", f"[tool.envlock.{table}]")
    body = body.replace("[[target]]", "[[tool.envlock.target]]")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "demo"\nversion = "0"\n\n' + body)
    spec.unlink()
    run = envlock("solve", "-s", str(pyproject))
    assert run.code == 1
    assert "hint: relax the conflicting requirements in [tool.envlock.env].dependencies" in run.err


@pytest.mark.parametrize("driver", ["550", "550.0"])
def test_a_driver_branch_is_a_spec_error_not_a_minor_version_lock(
    envlock: Envlock, write_spec: Callable[..., Path], driver: str
) -> None:
    run = envlock("solve", "-s", str(write_spec(targets=target_block("h100", gpus=("H100",), driver=driver))))
    if driver == "550":
        assert run.code == 2 and "driver branch, not a full version" in run.err
    else:  # a two-part version is a full one
        assert run.code == 0, run.err


def test_pyproject_per_variant_fixes_name_tool_envlock_tables(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    spec = write_spec(deps=("torch==2.6.0", "cupy-cuda11x"), targets=CLUSTER, cuda='version = ">=12"')
    body = spec.read_text()
    for table in ("env", "indexes", "cuda"):
        body = body.replace(f"[{table}]", f"[tool.envlock.{table}]")
    body = body.replace("[[target]]", "[[tool.envlock.target]]")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "demo"\nversion = "0"\n\n' + body)
    run = envlock("solve", "-s", str(pyproject))
    assert run.code == 1
    assert "[tool.envlock.cuda] allow-mixed" in run.err
    assert "[cuda]" not in run.err.replace("[tool.envlock.cuda]", "")
