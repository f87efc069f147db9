"""`--target auto`: which lock target fits a node, and what the closest one lacks when none does."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from lockmaker import FileServer, TargetDef, make_lock, run_envlock

from envlock.errors import IncompatibleNodeError
from envlock.install.targets import choose_auto, choose_target
from envlock.kb import load_kb
from envlock.kb.model import ComputeCapability
from envlock.lock.model import LockedTarget
from envlock.lock.read import load_lock
from envlock.node.fit import judge_fit as judge_target
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
    return choose_auto(load_lock(lock), node, load_kb(), source="envlock.lock").target.name


def test_gpu_node_gets_the_gpu_target_even_when_cpu_is_listed_first(targets_lock: Path) -> None:
    assert _pick(targets_lock, _node("sm_90", "sm_90")) == "h100"


def test_node_without_driver_gets_only_the_cpu_target(targets_lock: Path) -> None:
    assert _pick(targets_lock, _node(driver=None)) == "cpu"


def test_gpus_without_a_driver_are_refused_not_given_the_cpu_target(targets_lock: Path) -> None:
    # a GPU node whose driver is missing (a container without pass-through) must not train on its CPUs
    with pytest.raises(IncompatibleNodeError) as info:
        _pick(targets_lock, _node("sm_90", driver=None))
    assert "no NVIDIA driver" in info.value.message


def test_gpu_covered_by_the_locked_sass_fits_though_not_solved_for(targets_lock: Path) -> None:
    # sm_86 is in neither target's gpus list, but torch 2.5.1+cu124 ships sm_86 cubins (per the KB)
    lock = load_lock(targets_lock)
    fit = judge_target(lock.targets[1], _node("sm_86"), load_kb())
    assert fit.fits, fit.missing


def test_gpu_without_kernels_does_not_fit(targets_lock: Path) -> None:
    lock = load_lock(targets_lock)
    fit = judge_target(lock.targets[1], _node("sm_100"), load_kb())
    assert any("no kernel image for sm_100" in m for m in fit.missing)


def test_family_floor_fits_minor_version_cleanly_and_native_with_a_warning(targets_lock: Path) -> None:
    lock = load_lock(targets_lock)
    kb = load_kb()
    node = _node("sm_80", driver="535.54.03")  # >= 525.60.13 (12.x floor), < 550.54.14 (12.4 native)
    a100 = judge_target(lock.targets[2], node, kb)  # minor-version
    assert a100.fits and not a100.warnings
    h100 = judge_target(lock.targets[1], node, kb)  # native: runs through minor-version compatibility
    assert h100.fits
    assert [c.name for c in h100.warnings] == ["driver"]
    assert "solved for native" in h100.warnings[0].message
    # auto prefers the target that fits without a warning, though h100 comes first in the lock
    assert _pick(targets_lock, node) == "a100"


def test_below_the_family_floor_nothing_fits(targets_lock: Path) -> None:
    lock = load_lock(targets_lock)
    h100 = judge_target(lock.targets[1], _node("sm_90", driver="520.61.05"), load_kb())
    assert any("520.61.05 is older than the CUDA 12.x floor 525.60.13" in m for m in h100.missing)


def test_no_fit_names_the_closest_target_and_what_it_lacks(targets_lock: Path, tmp_path: Path) -> None:
    lock = make_lock(tmp_path / "gpu-only.lock", tmp_path / "wheels", "file:///unused/", [H100, A100_MVC])
    with pytest.raises(IncompatibleNodeError) as info:
        _pick(lock, _node("sm_90", driver="470.57.02"))
    assert info.value.exit_code == 1
    assert "closest is h100" in info.value.message
    assert "470.57.02" in info.value.message
    assert set(info.value.details["targets"]) == {"h100", "a100"}  # type: ignore[arg-type]


def test_glibc_below_the_declared_floor_but_enough_for_the_wheels_warns(targets_lock: Path) -> None:
    # the fixture wheels are py3-none-any: no manylinux floor; doctor's rule (warn) holds for install too
    lock = load_lock(targets_lock)
    fit = judge_target(lock.targets[0], _node(glibc="2.12"), load_kb())
    assert fit.fits
    assert [c.message for c in fit.warnings] == [
        "glibc 2.12 is older than the target's declared floor 2.17, though the locked wheels accept it"
    ]


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
    assert "470.57.02 is older than the CUDA 12.x floor 525.60.13" in err["message"]
    assert server.requests == []  # refused before any download


def test_cli_auto_installs_the_fitting_target(targets_lock: Path, store: Path) -> None:
    done = run_envlock(
        ["install", "-l", str(targets_lock), "--target", "auto", "--store", str(store), "--json"],
        env={"ENVLOCK_GPUS": "A100", "ENVLOCK_DRIVER": "535.54.03"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["target"] == "a100"


# ---------------------------------------------------- one judgement for install and doctor (node.fit)

CLUSTER_LOCK = Path(__file__).resolve().parents[2] / "locks" / "cluster" / "envlock.lock"

NODES = [
    _node("sm_90", driver="535.104.05"),  # the reviewer's repro: native target on the 12.x floor
    _node("sm_90", driver="560.35.03"),
    _node("sm_80", "sm_90", driver="550.54.15"),
    _node("sm_90", driver="470.57.02"),  # below every floor
    _node("sm_100", driver="560.35.03"),  # Blackwell below its own driver floor 570.26
    _node("sm_61", driver="590.10.01"),  # Pascal past its last branch, no kernels either
    _node(driver=None),
    _node(driver=None, glibc="2.17"),
    replace(_node(driver="550.54.15"), source="proc"),  # a driver, GPUs unknown
]


@pytest.mark.parametrize("node", NODES, ids=lambda n: f"{[g.cc.sm for g in n.gpus]}-{n.driver}-{n.source}")
def test_install_auto_and_doctor_agree_on_the_cluster_lock(node: NodeInfo) -> None:
    from envlock.doctor.checks import diagnose

    lock = load_lock(CLUSTER_LOCK)
    kb = load_kb()
    report = diagnose(lock, node, kb)
    try:
        picked: str | None = choose_auto(lock, node, kb, source="envlock.lock").target.name
    except IncompatibleNodeError as exc:
        picked = None
        assert exc.details["closest"] == report.target.name
    if report.ok:
        assert picked == report.target.name
    else:
        assert picked is None
    # a node with GPUs (or a driver) is never given the CPU-only `ci` target of this lock
    if node.driver is not None:
        assert picked != "ci"


def test_cluster_repro_native_target_on_the_family_floor_fits_with_a_warning() -> None:
    lock = load_lock(CLUSTER_LOCK)
    choice = choose_auto(lock, _node("sm_90", driver="535.104.05"), load_kb(), source="envlock.lock")
    assert choice.target.name == "x86-a100-h100"
    assert any("minor-version compatibility" in w for w in choice.warnings)


def test_gpu_driver_limits_count_for_install() -> None:
    lock = load_lock(CLUSTER_LOCK)
    with pytest.raises(IncompatibleNodeError) as info:
        choose_auto(lock, _node("sm_100", driver="560.35.03"), load_kb(), source="envlock.lock")
    assert "570.26" in info.value.message


def test_cli_gpu_node_is_refused_rather_than_given_the_cpu_target(
    tmp_path: Path, wheels: Path, server: FileServer, store: Path
) -> None:
    lock = make_lock(tmp_path / "mixed.lock", wheels, server.url, [CPU, H100])
    done = run_envlock(
        ["install", "-l", str(lock), "--target", "auto", "--store", str(store), "--json"],
        env={"ENVLOCK_GPUS": "H100", "ENVLOCK_DRIVER": "470.57.02"},
    )
    assert done.returncode == 1, done.stdout
    err = json.loads(done.stdout)["error"]
    assert err["closest"] == "h100"
    assert server.requests == []


def test_cli_gpu_node_takes_a_cpu_only_lock_with_a_warning(
    tmp_path: Path, wheels: Path, server: FileServer, store: Path
) -> None:
    lock = make_lock(tmp_path / "cpu.lock", wheels, server.url, [CPU, replace(CPU, name="cpu2")])
    done = run_envlock(
        ["install", "-l", str(lock), "--target", "auto", "--store", str(store), "--json"],
        env={"ENVLOCK_GPUS": "H100", "ENVLOCK_DRIVER": "560.35.03"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["target"] == "cpu"
    assert "has no GPU target" in done.stderr


def test_cli_doctor_and_install_agree_on_the_cluster_repro(store: Path) -> None:
    env = {"ENVLOCK_GPUS": "H100", "ENVLOCK_DRIVER": "535.104.05"}
    doctor = run_envlock(["doctor", "-l", str(CLUSTER_LOCK), "--json"], env=env)
    assert doctor.returncode == 0, doctor.stdout
    assert json.loads(doctor.stdout)["target"] == "x86-a100-h100"
    # install would download the real torch: offline with an empty store it chooses (and warns about
    # its choice) and then stops for want of the artifacts, not for want of a fitting target
    install = run_envlock(
        ["install", "-l", str(CLUSTER_LOCK), "--target", "auto", "--store", str(store), "--offline"],
        env=env,
    )
    assert "warning: x86-a100-h100: driver 535.104.05 runs CUDA 12.4 through minor-version" in install.stderr
    assert "is not in the store and no bundle was given" in install.stderr, install.stderr


# ------------------------------------------------------ a single target, or a named one, is judged too


def test_cli_single_target_lock_is_judged_without_target(
    tmp_path: Path, wheels: Path, server: FileServer, store: Path
) -> None:
    lock = make_lock(tmp_path / "gpu.lock", wheels, server.url, [H100])
    done = run_envlock(["install", "-l", str(lock), "--store", str(store), "--json"])  # no GPU, no driver
    assert done.returncode == 1, done.stdout
    err = json.loads(done.stdout)["error"]
    assert err["kind"] == "node" and "no NVIDIA driver" in err["message"]
    assert server.requests == []


def test_cli_named_target_that_does_not_fit_is_refused_unless_no_node_check(
    tmp_path: Path, wheels: Path, server: FileServer, store: Path
) -> None:
    lock = make_lock(tmp_path / "mixed.lock", wheels, server.url, [CPU, H100])
    args = ["install", "-l", str(lock), "--target", "h100", "--store", str(store)]
    refused = run_envlock([*args, "--json"])
    assert refused.returncode == 1, refused.stdout
    err = json.loads(refused.stdout)["error"]
    assert "target h100" in err["message"] and "no NVIDIA driver" in err["message"]
    assert "--no-node-check" in err["hint"]
    assert server.requests == []
    forced = run_envlock([*args, "--no-node-check", "--json"])
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["target"] == "h100"
    assert "warning: h100 does not fit this node: no NVIDIA driver found" in forced.stderr


# ------------------------------------------ a lock solved with a private knowledge-base row ("user")

PRIVATE_KB = """
[[torch]]
release = "2.5.1"
variant = "cu124"
platform = "linux-aarch64"
cuda = "12.4"
sass = ["sm_80", "sm_90"]
cudnn = "9.1.0.70"
nccl = "2.21.5"
source = "our build farm"
"""


def _private_lock(tmp_path: Path, wheels: Path, server: FileServer) -> tuple[object, LockedTarget]:
    path = make_lock(tmp_path / "private.lock", wheels, server.url, [replace(H100, platform="linux-aarch64")])
    lock = load_lock(path)
    target = replace(lock.targets[0], kb_status="user")
    return replace(lock, targets=(target,)), target


def _arm_node(cc: str) -> NodeInfo:
    return replace(_node(cc), platform="linux-aarch64")


def test_private_row_unknown_here_warns_instead_of_refusing(
    tmp_path: Path, wheels: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ENVLOCK_KB", raising=False)
    lock, target = _private_lock(tmp_path, wheels, server)
    # the built-in row for 2.5.1+cu124 on aarch64 has only sm_90; the private build has sm_80 too
    fit = judge_target(target, _arm_node("sm_80"), load_kb())
    assert fit.fits, fit.missing
    assert any("private knowledge base" in c.message and "ENVLOCK_KB" in (c.hint or "") for c in fit.warnings)
    choice = choose_target(lock, None, source="envlock.lock", node=_arm_node("sm_80"), kb=load_kb())  # type: ignore[arg-type]
    assert choice.target.name == "h100"
    assert any("were not checked" in w for w in choice.warnings)


def test_envlock_kb_lets_install_check_a_private_row(
    tmp_path: Path, wheels: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb_file = tmp_path / "private-kb.toml"
    kb_file.write_text(PRIVATE_KB, encoding="utf-8")
    monkeypatch.setenv("ENVLOCK_KB", str(kb_file))
    lock, target = _private_lock(tmp_path, wheels, server)
    kb = load_kb()
    good = judge_target(target, _arm_node("sm_80"), kb)
    assert good.fits and not good.warnings
    with pytest.raises(IncompatibleNodeError) as info:
        choose_target(lock, None, source="envlock.lock", node=_arm_node("sm_75"), kb=kb)  # type: ignore[arg-type]
    assert "no kernel image for sm_75 (SASS sm_80 sm_90)" in info.value.message
