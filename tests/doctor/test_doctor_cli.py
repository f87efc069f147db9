"""`envlock doctor` verdicts, pass and fail, on nodes described by ENVLOCK_GPUS/DRIVER/GLIBC.

CI has no GPU and no NVIDIA driver, so the node comes from the documented overrides; the real
detection layers are tested in tests/node and on real hardware (docs/hardware-validation.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from envlock.cli.main import main
from envlock.lock.model import LockedTarget

Capsys = pytest.CaptureFixture[str]


def doctor(capsys: Capsys, lock: Path, *args: str) -> tuple[int, str, str]:
    code = main(["doctor", "-l", str(lock), *args])
    out, err = capsys.readouterr()
    return code, out, err


def line(out: str, name: str) -> str:
    """The verdict line of check `name`."""
    for text in out.splitlines():
        parts = text.split(None, 1)
        if len(parts) == 2 and parts[0] in ("ok", "warn", "FAIL") and parts[1].startswith(name + " "):
            return text
    raise AssertionError(f"no {name!r} line in:\n{out}")


def test_driver_native_and_gpu_with_kernels(
    write_lock: Callable[..., Path], node: Callable[..., None], capsys: Capsys
) -> None:
    node(gpus="H100,H100", driver="580.95.05")
    code, out, _ = doctor(capsys, write_lock(), "--target", "h100-cu130")
    assert code == 0, out
    assert line(out, "driver").startswith("ok")
    assert "runs CUDA 13.0 natively (needs >= 580.65.06)" in line(out, "driver")
    assert line(out, "gpu 0").startswith("ok") and "sm_90" in line(out, "gpu 1")
    assert line(out, "glibc").startswith("ok")
    assert out.rstrip().endswith("this node can run target h100-cu130")


def test_driver_minor_version_compat_as_locked_is_ok(
    write_lock: Callable[..., Path], node: Callable[..., None], capsys: Capsys
) -> None:
    node(gpus="H100", driver="550.54.15")
    code, out, _ = doctor(capsys, write_lock(), "--target", "v100-cu126")
    assert code == 0, out
    assert line(out, "driver").startswith("ok")
    assert "through minor-version compatibility (family floor 525.60.13; native needs 560.28.03)" in out


def test_driver_minor_version_when_locked_native_warns(
    write_lock: Callable[..., Path],
    node: Callable[..., None],
    targets: dict[str, LockedTarget],
    capsys: Capsys,
) -> None:
    native = replace(targets["v100-cu126"], compat="native")
    node(gpus="H100", driver="550.54.15")
    code, out, _ = doctor(capsys, write_lock(native), "--target", "v100-cu126")
    assert code == 0, out
    assert line(out, "driver").startswith("warn")
    assert "upgrade the driver to >= 560.28.03" in out


def test_driver_too_old_fails(
    write_lock: Callable[..., Path], node: Callable[..., None], capsys: Capsys
) -> None:
    node(gpus="H100", driver="535.104.05")
    code, out, _ = doctor(capsys, write_lock(), "--target", "h100-cu130")
    assert code == 1
    assert line(out, "driver").startswith("FAIL")
    assert "driver 535.104.05 is older than the CUDA 13.x floor 580" in out
    assert "hint: upgrade the NVIDIA driver to >= 580" in out
    assert "this node cannot run target h100-cu130: 1 check(s) failed" in out


def test_gpu_without_kernels_fails(
    write_lock: Callable[..., Path], node: Callable[..., None], capsys: Capsys
) -> None:
    node(gpus="sm_61", driver="580.95.05")  # Pascal: CUDA 13 builds start at sm_75
    code, out, _ = doctor(capsys, write_lock(), "--target", "h100-cu130")
    assert code == 1
    assert line(out, "gpu 0").startswith("FAIL")
    assert "has no kernel image for sm_61 (SASS sm_75 sm_80 sm_86 sm_90 sm_100 sm_120)" in out


def test_gpu_driver_limit_fails(
    write_lock: Callable[..., Path], node: Callable[..., None], capsys: Capsys
) -> None:
    node(gpus="V100", driver="590.48.01")  # Volta ends with the R580 branch
    code, out, _ = doctor(capsys, write_lock(), "--target", "v100-cu126")
    assert code == 1
    assert line(out, "gpu 0").startswith("ok")
    assert line(out, "gpu limits").startswith("FAIL")
    assert "not supported by drivers after the R580 branch" in out


def test_glibc_ok_and_too_old(
    write_lock: Callable[..., Path], node: Callable[..., None], capsys: Capsys
) -> None:
    lock = write_lock()
    node(gpus="H100", driver="580.95.05", glibc="2.28")
    code, out, _ = doctor(capsys, lock, "--target", "h100-cu130")
    assert code == 0 and line(out, "glibc").startswith("ok")
    assert "glibc 2.28 (the wheels need >= 2.28)" in out
    node(gpus="H100", driver="580.95.05", glibc="2.17")
    code, out, _ = doctor(capsys, lock, "--target", "h100-cu130")
    assert code == 1
    assert "glibc 2.17 is older than 2.28, which torch 2.11.0+cu130 need(s)" in line(out, "glibc")


def test_no_driver_is_said_plainly(
    write_lock: Callable[..., Path], node: Callable[..., None], capsys: Capsys
) -> None:
    node(gpus="none", driver="none")
    code, out, _ = doctor(capsys, write_lock(), "--target", "h100-cu130")
    assert code == 1
    verdict = line(out, "driver")
    assert verdict.startswith("FAIL") and verdict.endswith("  no NVIDIA driver found on this node")
    assert "no NVIDIA driver" in out.splitlines()[0]


def test_auto_takes_the_first_target_that_fits(
    write_lock: Callable[..., Path], node: Callable[..., None], capsys: Capsys
) -> None:
    lock = write_lock()
    node(gpus="H100", driver="550.54.15")  # too old for cu130, fine for cu126 under minor-version
    code, out, _ = doctor(capsys, lock)
    assert code == 0
    assert "target: v100-cu126 (auto: " in out
    node(gpus="none", driver="none")  # a login node: only the CPU target fits
    code, out, _ = doctor(capsys, lock)
    assert code == 0 and "target: cpu (auto: a CPU target on a node without NVIDIA GPUs)" in out


def test_auto_without_a_fit_reports_the_closest(
    write_lock: Callable[..., Path],
    node: Callable[..., None],
    targets: dict[str, LockedTarget],
    capsys: Capsys,
) -> None:
    lock = write_lock(targets["h100-cu130"], targets["v100-cu126"])
    node(gpus="sm_61", driver="470.256.02")
    code, out, _ = doctor(capsys, lock)
    assert code == 1
    assert "(no target fits; the closest)" in out
    assert "this node cannot run target" in out


def test_unknown_target_is_a_usage_error(
    write_lock: Callable[..., Path], node: Callable[..., None], capsys: Capsys
) -> None:
    node(gpus="H100", driver="580.95.05")
    code, _, err = doctor(capsys, write_lock(), "--target", "a100")
    assert code == 2
    assert "has no target 'a100'; its targets are: h100-cu130, v100-cu126, cpu" in err


def test_smoke_without_a_gpu_exits_1(
    write_lock: Callable[..., Path], node: Callable[..., None], capsys: Capsys
) -> None:
    node(gpus="none", driver="none")
    code, _, err = doctor(capsys, write_lock(), "--target", "cpu", "--smoke")
    assert code == 1
    assert "no GPU on this node: --smoke needs one" in err


def test_json_document(write_lock: Callable[..., Path], node: Callable[..., None], capsys: Capsys) -> None:
    node(gpus="sm_61", driver="580.95.05")
    code, out, _ = doctor(capsys, write_lock(), "--target", "h100-cu130", "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False and doc["target"] == "h100-cu130" and doc["chosen"] == "named"
    assert doc["node"]["gpus"][0]["sm"] == "sm_61" and doc["node"]["source"] == "env"
    statuses = {c["name"]: c["status"] for c in doc["checks"]}
    assert statuses["gpu 0"] == "fail" and statuses["driver"] == "ok"


def test_installed_environment_without_cuda_code(
    write_lock: Callable[..., Path], node: Callable[..., None], tmp_path: Path, capsys: Capsys
) -> None:
    env = tmp_path / "env"
    (env / "lib").mkdir(parents=True)
    (env / "lib" / "README").write_text("not a library")
    node(gpus="H100", driver="580.95.05")
    code, out, _ = doctor(capsys, write_lock(), "--target", "h100-cu130", "--prefix", str(env))
    assert code == 0
    assert line(out, "environment").startswith("warn")
    assert "no library with CUDA code found" in out
