"""The fit rules of node/fit.py as a user meets them: CPU targets on driverless nodes, `auto` picking
the target whose declared GPUs match the node, and `doctor` agreeing with `install`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from lockmaker import FileServer, TargetDef, make_lock, run_envlock

from envlock.install.targets import choose_auto
from envlock.kb import load_kb
from envlock.kb.model import ComputeCapability
from envlock.lock.read import load_lock
from envlock.node.model import DetectedGpu, NodeInfo

# A CPU target (no gpus) whose resolved set pins CUDA wheels, as the default index's Linux torch does.
CPU_WITH_CUDA_WHEELS = TargetDef(name="cpu", variant="cu126", torch="2.7.1", cuda="12.6", compat="native")
A100 = TargetDef(
    name="a100",
    gpus=("sm_80", "sm_90"),  # an A100 target whose build also carries sm_90
    variant="cu124",
    torch="2.5.1+cu124",
    cuda="12.4",
    requires_driver="550.54.14",
    compat="native",
    driver="550.54.15",
)
H100 = replace(A100, name="h100", gpus=("sm_90",))
AH = replace(A100, name="a100-h100-l40", gpus=("sm_80", "sm_89", "sm_90"))


def _node(*ccs: str, driver: str | None = "560.35.03") -> NodeInfo:
    return NodeInfo(
        platform="linux-x86_64",
        glibc="2.35",
        gpus=tuple(
            DetectedGpu(index=i, name=cc, cc=ComputeCapability.parse(cc), memory_mib=None)
            for i, cc in enumerate(ccs)
        ),
        driver=driver,
        cuda_driver_api=None,
        source="env",
    )


def test_cpu_target_pinning_cuda_wheels_installs_and_runs_on_a_driverless_node(
    tmp_path: Path, wheels: Path, server: FileServer, store: Path
) -> None:
    lock = make_lock(tmp_path / "envlock.lock", wheels, server.url, [CPU_WITH_CUDA_WHEELS])
    node_env = {"ENVLOCK_GPUS": "none", "ENVLOCK_DRIVER": "none"}  # the node check stays on
    done = run_envlock(["install", "-l", str(lock), "--store", str(store), "--json"], env=node_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["target"] == "cpu"
    ran = run_envlock(
        [
            "run",
            "-l",
            str(lock),
            "--store",
            str(store),
            "--",
            "python",
            "-c",
            "import alpha, beta; print('ok')",
        ],
        env=node_env,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "ok"
    doctor = run_envlock(["doctor", "-l", str(lock)], env=node_env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "no NVIDIA driver needed" in doctor.stdout
    assert "no NVIDIA GPU found" not in doctor.stdout


def test_auto_picks_the_h100_target_on_an_h100_node_though_a100_comes_first(
    tmp_path: Path, wheels: Path, server: FileServer, store: Path
) -> None:
    lock = make_lock(tmp_path / "envlock.lock", wheels, server.url, [A100, H100])
    node_env = {"ENVLOCK_GPUS": "H100,H100", "ENVLOCK_DRIVER": "560.35.03"}
    done = run_envlock(
        ["install", "-l", str(lock), "--target", "auto", "--store", str(store), "--json"], env=node_env
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["target"] == "h100"
    assert "exactly this node's" in done.stderr  # it says why
    doctor = run_envlock(["doctor", "-l", str(lock), "--target", "auto", "--json"], env=node_env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    report = json.loads(doctor.stdout)
    assert report["target"] == "h100" and "exactly" in report["why"]


def test_auto_prefers_fewest_extra_archs_then_lock_order(tmp_path: Path, wheels: Path) -> None:
    lock = load_lock(make_lock(tmp_path / "envlock.lock", wheels, "file:///unused/", [AH, A100, H100]))
    kb = load_kb()
    # sm_80 + sm_90 node: a100 declares exactly these
    assert choose_auto(lock, _node("sm_80", "sm_90"), kb, source="l").target.name == "a100"
    # sm_86 node: covered by sm_80 in a100-h100-l40 (3 archs it lacks) and in a100 (2): a100
    choice = choose_auto(lock, _node("sm_86"), kb, source="l")
    assert choice.target.name == "a100"
    assert "2 other arch(s): sm_80 sm_90" in choice.why
    # ties keep lock order
    twin = load_lock(
        make_lock(tmp_path / "twin.lock", wheels, "file:///unused/", [H100, replace(H100, name="h2")])
    )
    assert choose_auto(twin, _node("sm_90"), kb, source="l").target.name == "h100"
