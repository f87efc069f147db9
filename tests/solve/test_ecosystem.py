"""The GPU ecosystem beyond torch: packages that may carry another CUDA major, and the CUDA summary."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from envlock import _toml
from tests.solve.conftest import Run, target_block

Envlock = Callable[..., Run]
H100 = target_block("h100", gpus=("H100",), driver="560.35.03")


def test_vllm_like_set_with_a_cu13_jit_dsl_solves_and_records_the_allowance(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    spec = write_spec(deps=("vllmlike",), targets=H100)  # torch only through vllmlike, as with vllm
    run = envlock("solve", "-s", str(spec), "--json")
    assert run.code == 0, run.err
    target = run.json()["targets"][0]
    assert target["torch"].startswith("2.7.1+cu12")
    names = {p["name"]: p["version"] for p in target["packages"]}
    assert names["nvidia-cutlass-dsl-libs-cu13"] == "4.3.0"
    assert names["cuda-bindings"] == "13.0.3"
    allowed = {(m["name"], m["cuda-major"], m["by"]) for m in target["allowed-mixed"]}
    assert allowed == {("cuda-bindings", 13, "envlock"), ("nvidia-cutlass-dsl-libs-cu13", 13, "envlock")}
    lock = _toml.load(spec.parent / "envlock.lock")
    recorded = {m["name"] for m in lock["targets"][0]["allowed-mixed"]}
    assert recorded == {"cuda-bindings", "nvidia-cutlass-dsl-libs-cu13"}
    assert envlock("check", "-s", str(spec)).code == 0
    shown = envlock("show", "-l", str(spec.parent / "envlock.lock"))
    assert "allowed mixed    nvidia-cutlass-dsl-libs-cu13 4.3.0 (CUDA 13; known to differ)" in shown.out


def test_a_mixed_set_is_refused_unless_the_user_allows_it_by_name(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    deps = ("torch==2.6.0", "cupy-cuda11x")
    cuda12 = 'version = ">=12"'
    refused = envlock("solve", "-s", str(write_spec(deps=deps, targets=H100, cuda=cuda12)))
    assert refused.code == 1
    assert "mixes CUDA majors" in refused.err and "allow-mixed" in refused.err
    spec = write_spec(deps=deps, targets=H100, cuda=cuda12 + '\nallow-mixed = ["CuPy-CUDA11x"]')
    run = envlock("solve", "-s", str(spec), "--json")
    assert run.code == 0, run.err
    target = run.json()["targets"][0]
    assert target["torch"].startswith("2.6.0+cu12")
    assert target["allowed-mixed"] == [
        {"name": "cupy-cuda11x", "version": "13.3.0", "cuda-major": 11, "by": "spec"}
    ]
    lock = _toml.load(spec.parent / "envlock.lock")
    assert lock["inputs"]["allow-mixed"] == ["cupy-cuda11x"]
    # dropping the allowance makes the lock stale, and says why
    spec.write_text(spec.read_text().replace('allow-mixed = ["CuPy-CUDA11x"]', ""))
    stale = envlock("check", "-s", str(spec))
    assert stale.code == 1 and "cuda.allow-mixed changed" in stale.err


def test_jax_like_nvcc_shows_in_the_cuda_summary(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(deps=("jaxlike",), targets=H100)
    run = envlock("solve", "-s", str(spec), "--json")
    assert run.code == 0, run.err
    components = {c["name"]: c for c in run.json()["targets"][0]["cuda-components"]}
    assert components["nvidia-cuda-nvcc-cu12"] == {
        "name": "nvidia-cuda-nvcc-cu12",
        "version": "12.9.86",
        "cuda-major": 12,
    }
    assert "nvidia-cuda-runtime-cu12" in components
    lock = str(spec.parent / "envlock.lock")
    shown = envlock("show", "-l", lock).out
    summary = shown.split("CUDA components", 1)[1].split("  env hash", 1)[0]
    assert re.search(r"nvidia-cuda-nvcc-cu12 +12\.9\.86  \(CUDA 12\)", summary)
    as_json = envlock("show", "-l", lock, "--json").json()
    assert "nvidia-cuda-nvcc-cu12" in {c["name"] for c in as_json["targets"][0]["cuda-components"]}
