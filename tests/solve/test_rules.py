"""architecture.md §4: each variant-selection rule, seen through `envlock solve` on the fixture indexes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.solve.conftest import Run, target_block

Envlock = Callable[..., Run]


def _solve(envlock: Envlock, spec: Path) -> Run:
    return envlock("solve", "-s", str(spec), "--json")


def _solve_text(envlock: Envlock, spec: Path) -> Run:
    return envlock("solve", "-s", str(spec))


def _target(run: Run, name: str) -> dict:  # type: ignore[type-arg]
    assert run.code == 0, run.err
    return next(t for t in run.json()["targets"] if t["name"] == name)


def _rejected(target: dict, variant: str) -> str:  # type: ignore[type-arg]
    return next(r["reason"] for r in target["rejected"] if r["variant"] == variant)


def test_rule1_variant_needs_a_wheel_for_the_platform(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    # Only cu128 publishes aarch64 CUDA wheels of torch 2.7.1 in the fixtures (as on download.pytorch.org).
    spec = write_spec(targets=target_block("gh200", "linux-aarch64", ("GH200",), "570.86.10"))
    t = _target(_solve(envlock, spec), "gh200")
    assert t["variant"] == "cu128"
    assert t["packages"][0]["url"].endswith(".whl")
    assert "no torch wheel for Python 3.11 on linux-aarch64" in _rejected(t, "cu118")


def test_rule1_glibc_floor_limits_the_wheels(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    # torch 2.7 wheels are manylinux_2_28; a glibc 2.17 fleet gets the newest manylinux1 build.
    spec = write_spec(targets=target_block("old", gpus=("A100",), driver="550.54.15", glibc="2.17"))
    t = _target(_solve(envlock, spec), "old")
    assert t["torch"].startswith("2.6.0+")
    assert t["glibc"] == "2.17"


def test_rule2_sass_for_every_gpu(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    # A P100 (sm_60) beside an RTX 5090 (sm_120): no torch 2.7 build carries both.
    spec = write_spec(
        targets=target_block("mixed", gpus=("Tesla P100", "GeForce RTX 5090"), driver="575.51.03")
    )
    run = _solve_text(envlock, spec)
    assert run.code == 1
    assert "cu128: torch 2.7.1+cu128 carries no SASS for sm_60" in run.err
    assert "cu126: torch 2.7.1+cu126 carries no SASS for sm_120" in run.err
    assert "drop sm_60" in run.err


def test_rule2_blackwell_gets_a_build_with_its_sass(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    spec = write_spec(targets=target_block("ws", gpus=("GeForce RTX 5090",), driver="575.51.03"))
    t = _target(_solve(envlock, spec), "ws")
    assert t["variant"] == "cu128"
    assert t["gpus"] == ["sm_120"]


def test_rule3_driver_floor_of_the_cuda_family(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        deps=("torch==2.9.1",), targets=target_block("h100", gpus=("H100",), driver="550.54.15")
    )
    t = _target(_solve(envlock, spec), "h100")
    assert "older than the CUDA 13.x floor 580" in _rejected(t, "cu130")
    assert t["variant"] != "cu130"


def test_rule3_blackwell_driver_limit(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(targets=target_block("b200", gpus=("B200",), driver="560.35.03"))
    run = _solve_text(envlock, spec)
    assert run.code == 1
    assert "570.26" in run.err
    assert _solve(envlock, spec).json()["error"]["kind"] == "resolution"


def test_rule4_constraints_hold_for_what_is_locked(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    # cuDNN >= 9.5 rules out every build pinning 9.1.0.70, whatever its variant name says.
    spec = write_spec(
        targets=target_block("h100", gpus=("H100",), driver="570.124.06"), cuda='cudnn = ">=9.5"'
    )
    t = _target(_solve(envlock, spec), "h100")
    assert t["cudnn"] in ("9.5.1.17", "9.7.1.26")
    assert "cuDNN 9.1.0.70 does not satisfy [cuda].cudnn '>=9.5'" in _rejected(t, "cu118")


def test_rule4_cuda_major_is_one_across_the_set(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        deps=("torch>=2.5,<2.8", "cupy-cuda11x"),
        targets=target_block("h100", gpus=("H100",), driver="570.124.06"),
    )
    t = _target(_solve(envlock, spec), "h100")
    assert t["variant"] == "cu118"
    assert "mixes CUDA majors" in _rejected(t, "cu128")


def test_rule5_native_mode_drops_minor_version_candidates(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    spec = write_spec(
        deps=("torch==2.7.1",),
        targets=target_block("h100", gpus=("H100",), driver="550.54.15"),
        cuda='version = ">=12"\ndriver-compat = "native"',
    )
    run = _solve_text(envlock, spec)
    assert run.code == 1
    assert "rules out minor-version compatibility" in run.err


def test_rule5_prefer_native_falls_back_and_records_it(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    spec = write_spec(
        deps=("torch==2.7.1",),
        targets=target_block("h100", gpus=("H100",), driver="550.54.15"),
        cuda='version = ">=12"',
    )
    t = _target(_solve(envlock, spec), "h100")
    assert t["compat"] == "minor-version"
    assert t["variant"] == "cu128"  # both cu126 and cu128 are minor-version only: the higher CUDA wins
    assert t["requires-driver"] == "525.60.13"  # the CUDA 12 family floor: what it needs under MVC


def test_rule5_minor_version_mode_treats_candidates_as_equal(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    spec = write_spec(
        deps=("torch==2.7.1",),
        targets=target_block("h100", gpus=("H100",), driver="560.35.03"),
        cuda='driver-compat = "minor-version"',
    )
    t = _target(_solve(envlock, spec), "h100")
    assert t["variant"] == "cu128"  # prefer-native would take cu126 (native on 560)


def test_rule5_prefer_native_prefers_native(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        deps=("torch==2.7.1",), targets=target_block("h100", gpus=("H100",), driver="560.35.03")
    )
    t = _target(_solve(envlock, spec), "h100")
    assert (t["variant"], t["compat"]) == ("cu126", "native")
    assert "minor-version compatibility" in _rejected(t, "cu128")


def test_rule6_newest_torch_then_highest_cuda(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(deps=("torch>=2.5",), targets=target_block("h100", gpus=("H100",), driver="580.95.05"))
    t = _target(_solve(envlock, spec), "h100")
    assert t["torch"] == "2.9.1+cu130"
    assert "older than 2.9.1" not in _rejected(t, "cu128")  # same torch: lost on CUDA
    assert "CUDA 12.8 is lower than 13.0" in _rejected(t, "cu128")


def test_rule7_cpu_target_gets_the_cpu_variant(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(targets=target_block("ci"))
    t = _target(_solve(envlock, spec), "ci")
    assert t["variant"] == "cpu"
    assert t["torch"].endswith("+cpu")
    assert not any(p["name"].startswith("nvidia-") for p in t["packages"])


def test_rule7_gpu_target_never_gets_a_cpu_build(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(targets=target_block("h100", gpus=("H100",), driver="550.54.15"))
    t = _target(_solve(envlock, spec), "h100")
    assert t["variant"] != "cpu"
    assert "rule 7" in _rejected(t, "cpu")


def test_rule8_unsatisfiable_lists_every_variant_with_reason(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    spec = write_spec(targets=target_block("k80", gpus=("Tesla K80",), driver="440.33.01"))
    run = _solve(envlock, spec)
    assert run.code == 1
    rejected = run.json()["error"]["targets"][0]["rejected"]
    variants = {r["variant"] for r in rejected}
    assert {"cpu", "cu118", "cu121", "cu124", "cu126", "cu128", "cu130"} <= variants
    assert all(r["reason"] for r in rejected)
    assert any(r["fix"] for r in rejected)


def test_a_floating_nvjitlink_does_not_raise_the_driver_need(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    # torch 2.5.1+cu121 leaves nvjitlink unpinned and these fixtures have no 12.1 nvjitlink to hold it to,
    # so it floats to 12.9. nvJitLink links in-process: the driver need is still the 12.1 runtime's.
    spec = write_spec(
        deps=("torch==2.5.1",),
        targets=target_block("a100", gpus=("A100",), driver="535.54.03"),
        cuda='version = "==12.1"\ndriver-compat = "native"',
    )
    run = _solve(envlock, spec)
    t = _target(run, "a100")
    assert "nvidia-nvjitlink-cu12 floats to 12.9.86; holding it to 12.1.* does not resolve" in run.err
    assert t["variant"] == "cu121"
    assert t["cuda"] == "12.1"
    assert any(p["name"] == "nvidia-nvjitlink-cu12" and p["version"] == "12.9.86" for p in t["packages"])
    assert (t["requires-driver"], t["compat"]) == ("530.30.02", "native")
    assert t["requires-driver-from"] == "nvidia-cuda-runtime-cu12 12.1.105"
    assert t["held"] == []


def test_user_knowledge_base_rows_change_the_choice(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    # A private rebuild of torch 2.7.1 cu128 without sm_90: the H100 target must not get it.
    spec = write_spec(
        deps=("torch==2.7.1",),
        targets=target_block("h100", gpus=("H100",), driver="575.51.03"),
        extra='\n[resolution]\nknowledge-base = ["private.toml"]\n',
    )
    (spec.parent / "private.toml").write_text(
        'format = 1\n[[torch]]\nrelease = "2.7.1"\nvariant = "cu128"\nplatform = "linux-x86_64"\n'
        'sass = ["sm_80", "sm_100", "sm_120"]\nsource = "our build farm"\n'
    )
    t = _target(_solve(envlock, spec), "h100")
    assert t["variant"] == "cu126"
    assert "carries no SASS for sm_90" in _rejected(t, "cu128")
    (spec.parent / "private.toml").write_text(
        'format = 1\n[[torch]]\nrelease = "2.7.1"\nvariant = "cu128"\nplatform = "linux-x86_64"\n'
        'sass = ["sm_90"]\nsource = "our build farm"\n'
    )
    t = _target(_solve(envlock, spec), "h100")
    assert (t["variant"], t["knowledge-base-row"]) == ("cu128", "user")
