"""`--target auto`: which lock target fits a node, and what the closest one lacks when none does."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from lockmaker import FileServer, TargetDef, make_lock, run_envlock

from envlock.errors import IncompatibleNodeError
from envlock.install.targets import choose_auto, judge_target
from envlock.kb import load_kb
from envlock.kb.model import ComputeCapability
from envlock.lock.toml import load_lock
from envlock.node.model import DetectedGpu, NodeInfo

H100 = TargetDef(
    name="h100",
    gpus=("sm_90",),
    variant="cu124",
    torch="2.5.1+cu124",
    cuda="12.4",
    requires_driver="550.54.14",
    compat="native",
    driver="550.54.15",
)
A100_MVC = replace(H100, name="a100", gpus=("sm_80",), compat="minor-version", driver="535.54.03")
CPU = TargetDef(name="cpu")


def _node(*ccs: str, driver: str | None = "560.35.03", glibc: str = "2.35") -> NodeInfo:
    return NodeInfo(
        platform="linux-x86_64",
        glibc=glibc,
        gpus=tuple(
            DetectedGpu(index=i, name=cc, cc=ComputeCapability.parse(cc), memory_mib=None)
            for i, cc in enumerate(ccs)
        ),
        driver=driver,
        cuda_driver_api=None,
        source="env",
    )


@pytest.fixture
def targets_lock(tmp_path: Path, wheels: Path, server: FileServer) -> Path:
    return make_lock(tmp_path / "envlock.lock", wheels, server.url, [CPU, H100, A100_MVC])


def _pick(lock: Path, node: NodeInfo) -> str:
    return choose_auto(load_lock(lock), node, load_kb(), source="envlock.lock").name


def test_gpu_node_gets_the_gpu_target_even_when_cpu_is_listed_first(targets_lock: Path) -> None:
    assert _pick(targets_lock, _node("sm_90", "sm_90")) == "h100"


def test_node_without_driver_gets_only_the_cpu_target(targets_lock: Path) -> None:
    assert _pick(targets_lock, _node(driver=None)) == "cpu"
    assert _pick(targets_lock, _node("sm_90", driver=None)) == "cpu"


def test_gpu_covered_by_the_locked_sass_fits_though_not_solved_for(targets_lock: Path) -> None:
    # sm_86 is in neither target's gpus list, but torch 2.5.1+cu124 ships sm_86 cubins (per the KB)
    lock = load_lock(targets_lock)
    fit = judge_target(lock.targets[1], _node("sm_86"), load_kb())
    assert fit.fits, fit.missing


def test_gpu_without_kernels_does_not_fit(targets_lock: Path) -> None:
    lock = load_lock(targets_lock)
    fit = judge_target(lock.targets[1], _node("sm_100"), load_kb())
    assert any("sm_100 has no kernels" in m for m in fit.missing)


def test_minor_version_target_accepts_the_family_floor_but_native_does_not(targets_lock: Path) -> None:
    lock = load_lock(targets_lock)
    kb = load_kb()
    node = _node("sm_80", driver="535.54.03")  # >= 525.60.13 (12.x floor), < 550.54.14 (12.4 native)
    assert judge_target(lock.targets[2], node, kb).fits  # a100: minor-version
    h100 = judge_target(lock.targets[1], node, kb)
    assert any("535.54.03 is older than 550.54.14" in m for m in h100.missing)


def test_no_fit_names_the_closest_target_and_what_it_lacks(targets_lock: Path, tmp_path: Path) -> None:
    lock = make_lock(tmp_path / "gpu-only.lock", tmp_path / "wheels", "file:///unused/", [H100, A100_MVC])
    with pytest.raises(IncompatibleNodeError) as info:
        _pick(lock, _node("sm_90", driver="470.57.02"))
    assert info.value.exit_code == 1
    assert "closest is h100" in info.value.message
    assert "470.57.02" in info.value.message
    assert set(info.value.details["targets"]) == {"h100", "a100"}  # type: ignore[arg-type]


def test_old_glibc_does_not_fit(targets_lock: Path) -> None:
    lock = load_lock(targets_lock)
    fit = judge_target(lock.targets[0], _node(glibc="2.12"), load_kb())
    assert fit.missing == ("needs glibc >= 2.17, this node has 2.12",)


def test_cli_auto_with_too_old_driver_fails_fast(
    tmp_path: Path, wheels: Path, server: FileServer, store: Path
) -> None:
    lock = make_lock(tmp_path / "gpu.lock", wheels, server.url, [H100])
    done = run_envlock(
        ["install", "-l", str(lock), "--target", "auto", "--store", str(store), "--json"],
        env={"ENVLOCK_GPUS": "H100", "ENVLOCK_DRIVER": "470.57.02"},
    )
    assert done.returncode == 1
    err = json.loads(done.stdout)["error"]
    assert err["kind"] == "node" and err["closest"] == "h100"
    assert "470.57.02 is older than 550.54.14" in err["message"]
    assert server.requests == []  # refused before any download


def test_cli_auto_installs_the_fitting_target(targets_lock: Path, store: Path) -> None:
    done = run_envlock(
        ["install", "-l", str(targets_lock), "--target", "auto", "--store", str(store), "--json"],
        env={"ENVLOCK_GPUS": "A100", "ENVLOCK_DRIVER": "535.54.03"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["target"] == "a100"
