"""`doctor --smoke`: run real work on the GPUs with the environment's Python and judge the result.

The work itself is `smoke_worker.py`, a standalone script (the environment need not have envlock);
this module starts it, reads its JSON and turns it into doctor checks.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from envlock import processes
from envlock.doctor.checks import FAIL, OK, WARN, Check

SMOKE_WORKER = Path(__file__).with_name("smoke_worker.py")
DEFAULT_TIMEOUT_S = 540.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SmokeResult:
    """The checks a smoke run produced and the worker's raw JSON document (None if it printed none)."""

    checks: tuple[Check, ...]
    raw: Mapping[str, object] | None

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[dict[str, object]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def interpret(raw: Mapping[str, object]) -> tuple[Check, ...]:
    """Doctor checks from the worker's JSON document (pure)."""
    checks: list[Check] = []
    kernel = _dict(raw.get("kernel"))
    if "error" in kernel:
        checks.append(Check(name="smoke kernel", status=FAIL, message=str(kernel["error"])))
    for dev in _list(kernel.get("devices")):
        name = f"smoke kernel {dev.get('index')}"
        if dev.get("ok"):
            msg = (
                f"PTX kernel JIT-compiled for {dev.get('cc')} and ran correctly "
                f"(driver CUDA {kernel.get('driver-cuda')})"
            )
            checks.append(Check(name=name, status=OK, message=msg))
        else:
            checks.append(
                Check(
                    name=name,
                    status=FAIL,
                    message=str(dev.get("error")),
                    hint="the driver cannot run a kernel",
                )
            )
    if "devices" in kernel and not _list(kernel.get("devices")):
        checks.append(Check(name="smoke kernel", status=FAIL, message="the CUDA driver reports no device"))
    torch = _dict(raw.get("torch"))
    if "skipped" in torch:
        checks.append(
            Check(
                name="smoke torch",
                status=WARN,
                message=f"{torch['skipped']}: matmul and NCCL checks skipped",
                hint="pass --prefix with an installed environment that holds torch",
            )
        )
    elif "error" in torch:
        checks.append(Check(name="smoke torch", status=FAIL, message=str(torch["error"])))
    else:
        for dev in _list(torch.get("devices")):
            name = f"smoke matmul {dev.get('index')}"
            if dev.get("ok"):
                msg = (
                    f"torch {torch.get('version')}: fp32 {dev.get('fp32-tflops')} TFLOP/s, bf16 autocast "
                    f"{dev.get('bf16-tflops')} TFLOP/s on {dev.get('name')}; results match the CPU"
                )
                checks.append(Check(name=name, status=OK, message=msg))
            else:
                detail = dev.get("error") or (
                    f"results differ from the CPU: fp32 {dev.get('fp32-rel-error')}, "
                    f"bf16 {dev.get('bf16-rel-error')}"
                )
                checks.append(Check(name=name, status=FAIL, message=f"{dev.get('name')}: {detail}"))
    nccl = _dict(raw.get("nccl"))
    if "error" in nccl:
        checks.append(Check(name="smoke nccl", status=FAIL, message=str(nccl["error"])))
    elif "ok" in nccl:
        world = nccl.get("world")
        size = int(str(nccl.get("bytes", 0))) >> 20
        if world == 1:
            # one rank moves nothing between GPUs: a bandwidth figure would be meaningless
            msg = (
                f"all-reduce of {size} MiB on one GPU (NCCL {nccl.get('nccl')}); "
                "bandwidth test skipped: one GPU"
            )
        else:
            msg = (
                f"all-reduce of {size} MiB across {world} GPU(s): bus bandwidth {nccl.get('busbw-gbps')} "
                f"GB/s, algorithm bandwidth {nccl.get('algbw-gbps')} GB/s (NCCL {nccl.get('nccl')})"
            )
        if nccl.get("ok"):
            checks.append(Check(name="smoke nccl", status=OK, message=msg))
        else:
            checks.append(Check(name="smoke nccl", status=FAIL, message="wrong all-reduce result; " + msg))
    return tuple(checks)


def run_smoke(python: Path | str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> SmokeResult:
    """Run the smoke worker with `python` (the environment's interpreter) and judge what it prints."""
    try:
        done = processes.run(
            [str(python), str(SMOKE_WORKER)], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        check = Check(
            name="smoke",
            status=FAIL,
            message=f"the smoke run did not finish within {timeout_s:.0f} s",
            hint="a hung GPU or NCCL transport; check `nvidia-smi` and NCCL_DEBUG=INFO",
        )
        return SmokeResult(checks=(check,), raw=None)
    except OSError as exc:
        check = Check(name="smoke", status=FAIL, message=f"cannot start {python}: {exc}")
        return SmokeResult(checks=(check,), raw=None)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    try:
        raw = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        raw = None
    if not isinstance(raw, dict):
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        check = Check(
            name="smoke",
            status=FAIL,
            message=f"the smoke worker exited {done.returncode} without a result: " + " | ".join(tail),
        )
        return SmokeResult(checks=(check,), raw=None)
    return SmokeResult(checks=interpret(raw), raw=raw)
