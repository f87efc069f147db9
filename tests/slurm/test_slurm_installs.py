"""Concurrent installs from Slurm job arrays into one shared store, on a real single-node cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "install"))

from lockmaker import FileServer, TargetDef, make_lock

pytestmark = pytest.mark.slurm

# Two GPU targets that the node overrides tell apart: no torch is locked, so only the archs each
# target was solved for count as covered.
H100 = TargetDef(
    name="h100", gpus=("sm_90",), variant="cu124", cuda="12.4", requires_driver="550.54.14", compat="native"
)
A100 = TargetDef(
    name="a100", gpus=("sm_80",), variant="cu124", cuda="12.4", requires_driver="550.54.14", compat="native"
)

SCRIPT = """#!/bin/sh
# All tasks start installing at the same second, like an array released by the scheduler.
now=$(date +%s)
[ "$now" -lt "$START_AT" ] && sleep $((START_AT - now))
if [ -n "${{GPUS_BY_TASK:-}}" ]; then
    if [ $((SLURM_ARRAY_TASK_ID % 2)) -eq 0 ]; then gpu=H100; else gpu=A100; fi
    export ENVLOCK_GPUS=$gpu
fi
{python} -m envlock install -l "$LOCK" --target auto --store "$STORE" --json
echo "exit=$?"
"""


def _sbatch(
    cluster: dict[str, str], tmp: Path, name: str, array: str | None, env: dict[str, str]
) -> dict[int, str]:
    script = tmp / f"{name}.sh"
    script.write_text(SCRIPT.format(python=sys.executable))
    script.chmod(0o755)
    out = tmp / f"{name}-%a.out" if array else tmp / f"{name}-0.out"
    args = ["sbatch", "--wait", "--job-name", name, "--output", str(out), "--chdir", str(tmp)]
    if array:
        args += ["--array", array]
    full = dict(os.environ, **cluster, **env, START_AT=str(int(time.time()) + 3))
    done = subprocess.run(
        [*args, str(script)], capture_output=True, text=True, env=full, timeout=600, check=False
    )
    outputs = {int(p.stem.rsplit("-", 1)[1]): p.read_text() for p in tmp.glob(f"{name}-*.out")}
    assert outputs, f"sbatch wrote nothing: {done.stdout}{done.stderr}"
    return outputs


def _result(output: str) -> tuple[int, dict[str, object] | None]:
    code = int(output.rsplit("exit=", 1)[1].strip())
    start = output.find("{")
    doc = json.loads(output[start : output.rindex("}") + 1]) if start >= 0 else None
    return code, doc


@pytest.fixture
def shared(tmp_path: Path) -> tuple[Path, Path, FileServer]:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    server = FileServer(wheels)
    lock = make_lock(tmp_path / "envlock.lock", wheels, server.url, [H100, A100])
    return lock, tmp_path / "shared-store", server


def test_array_of_16_builds_once_into_a_shared_store(
    slurm_cluster: dict[str, str], shared: tuple[Path, Path, FileServer], tmp_path: Path
) -> None:
    lock, store, server = shared
    env = {
        "LOCK": str(lock),
        "STORE": str(store),
        "ENVLOCK_GPUS": "H100",
        "ENVLOCK_DRIVER": "560.35.03",
        "ENVLOCK_TEST_BUILD_PAUSE": "2",  # keep the build open long enough for every task to collide
    }
    outputs = _sbatch(slurm_cluster, tmp_path, "same", "0-15", env)
    assert len(outputs) == 16
    results = [_result(o) for o in outputs.values()]
    assert [code for code, _ in results] == [0] * 16, outputs
    paths = {str(doc["path"]) for _, doc in results if doc}
    assert len(paths) == 1
    assert sum(1 for _, doc in results if doc and doc["built"]) == 1
    assert (store / "v1" / "builds.log").read_text().count("published") == 1
    assert list((store / "v1" / "scratch").iterdir()) == []
    assert list((store / "v1" / "leases").iterdir()) == []
    assert Path(paths.pop()).name.endswith("-demo-h100")
    assert sorted(server.requests) == sorted(set(server.requests))  # each file downloaded once
    server.close()


def test_array_over_two_targets_gets_two_environments(
    slurm_cluster: dict[str, str], shared: tuple[Path, Path, FileServer], tmp_path: Path
) -> None:
    lock, store, server = shared
    env = {"LOCK": str(lock), "STORE": str(store), "GPUS_BY_TASK": "1", "ENVLOCK_DRIVER": "560.35.03"}
    outputs = _sbatch(slurm_cluster, tmp_path, "two", "0-7", env)
    results = {task: _result(o) for task, o in outputs.items()}
    assert all(code == 0 for code, _ in results.values()), outputs
    by_target = {str(doc["target"]): str(doc["path"]) for _, doc in results.values() if doc}
    assert set(by_target) == {"h100", "a100"}
    assert all(results[t][1]["target"] == ("h100" if t % 2 == 0 else "a100") for t in results)  # type: ignore[index]
    assert len({doc["path"] for _, doc in results.values() if doc}) == 2
    assert (store / "v1" / "builds.log").read_text().count("published") == 2
    server.close()


def test_task_with_a_too_old_driver_fails_fast_with_the_reason(
    slurm_cluster: dict[str, str], shared: tuple[Path, Path, FileServer], tmp_path: Path
) -> None:
    lock, store, server = shared
    env = {"LOCK": str(lock), "STORE": str(store), "ENVLOCK_GPUS": "H100", "ENVLOCK_DRIVER": "470.57.02"}
    outputs = _sbatch(slurm_cluster, tmp_path, "old", None, env)
    code, doc = _result(outputs[0])
    assert code == 1
    assert doc is not None
    error = doc["error"]
    assert isinstance(error, dict)
    assert error["kind"] == "node"
    assert "470.57.02 is older than the CUDA 12.x floor 525.60.13" in str(error["message"])
    assert not (store / "v1" / "envs").exists() or list((store / "v1" / "envs").iterdir()) == []
    assert server.requests == []
    server.close()


def test_array_job_logs_show_one_line_per_phase(
    slurm_cluster: dict[str, str], shared: tuple[Path, Path, FileServer], tmp_path: Path
) -> None:
    lock, store, server = shared
    env = {
        "LOCK": str(lock),
        "STORE": str(store),
        "ENVLOCK_GPUS": "H100",
        "ENVLOCK_DRIVER": "560.35.03",
        "ENVLOCK_TEST_BUILD_PAUSE": "2",  # the other tasks find the build under way
    }
    outputs = _sbatch(slurm_cluster, tmp_path, "logs", "0-3", env)
    assert all(_result(o)[0] == 0 for o in outputs.values()), outputs
    phases = {
        task: [ln for ln in out.splitlines() if ln.startswith("envlock: [")] for task, out in outputs.items()
    }
    builders = [t for t, lines in phases.items() if any("lease won: building" in ln for ln in lines)]
    assert len(builders) == 1, outputs
    built = phases[builders[0]]
    for word in ("lease won: building", "downloading 2 files / ", "installing 2 packages", "published at "):
        assert sum(word in ln for ln in built) == 1, built
    waiters = [t for t, lines in phases.items() if any("waiting on pid " in ln for ln in lines)]
    assert waiters, outputs  # "waiting on pid N on host H: it is building ..."
    for task in waiters:
        assert any(f"on host {os.uname().nodename}" in ln for ln in phases[task])
    for lines in phases.values():
        for line in lines:
            assert line.split("]", 1)[0].removeprefix("envlock: [").endswith("s")  # elapsed seconds
    server.close()
