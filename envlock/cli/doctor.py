"""Check whether this node can run a lock target, before a job burns hours finding out.

Detects the node (NVML, then nvidia-smi, then /proc) and judges it against a target of the lock:
the driver against the locked CUDA (native, minor-version compatibility, or too old), every GPU's
compute capability against the SASS of the locked torch build, each GPU's own driver limits, and
glibc against the wheels' manylinux tags. A target without gpus is a CPU target: no driver needed.
With --prefix it also reads the installed environment's real CUDA binaries. Without --target (or
with `--target auto`) it judges the target `install --target auto` would take, with the same
checks and the same preference (declared GPUs equal to the node's, then covering them with the
fewest extra archs, then lock order), or the closest one when none fits. The knowledge base is
envlock's own plus the files ENVLOCK_KB names; a lock solved with a private row
(knowledge-base-row = "user") has its GPUs checked only when ENVLOCK_KB names that file (otherwise
a warning says they were not checked).

Node overrides (containers, CI, tests): ENVLOCK_GPUS=H100,H100 (GPU names or compute
capabilities, one per GPU; "none": no GPUs), ENVLOCK_DRIVER=580.65.06 (MAJOR.MINOR[.PATCH];
"none": no driver), ENVLOCK_GLIBC=2.28 (MAJOR.MINOR). A malformed value is a usage error (exit 2).

--smoke runs real work with the environment's Python (--prefix, else this Python): a PTX kernel
through the CUDA driver API on every GPU; with torch, fp32 and bf16-autocast matmuls checked against
the CPU, and an NCCL all-reduce across every local GPU.

exit codes: 0 the node can run the target; 1 it cannot (every FAIL line says why); 2 usage error
(e.g. an unknown --target).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from envlock.cli.output import Console, print_json
from envlock.doctor.checks import FAIL, Check, DoctorReport, diagnose
from envlock.errors import ExitCode, IncompatibleNodeError, UsageError
from envlock.node.model import NodeInfo

_STATUS = {"ok": "ok", "warn": "warn", "fail": "FAIL"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from envlock.cli.locations import LOCK_HELP

    parser.add_argument(
        "-l", "--lock", type=Path, default=Path("envlock.lock"), metavar="LOCK", help=LOCK_HELP
    )
    parser.add_argument(
        "--target",
        metavar="NAME|auto",
        help="the target to judge; `auto` (the default) chooses as `install --target auto` does",
    )
    parser.add_argument(
        "--prefix",
        type=Path,
        metavar="ENV",
        help="an installed environment of the target: check its real CUDA binaries; --smoke uses its Python",
    )
    parser.add_argument("--smoke", action="store_true", help="run a kernel, matmuls and an NCCL all-reduce")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _python_of(prefix: Path | None) -> Path:
    if prefix is None:
        return Path(sys.executable)
    for candidate in (prefix / "bin" / "python", prefix / "Scripts" / "python.exe", prefix / "python.exe"):
        if candidate.exists():
            return candidate
    raise UsageError(
        f"{prefix}: no Python interpreter in this environment (looked for bin/python)",
        hint="pass the root of an installed environment to --prefix",
    )


def _describe_node(node: NodeInfo) -> str:
    gpus = ", ".join(f"{g.index}: {g.name} {g.cc.sm}" for g in node.gpus) or "no GPUs"
    driver = node.driver or "no NVIDIA driver"
    cuda = f" (CUDA {node.cuda_driver_api})" if node.cuda_driver_api else ""
    return (
        f"node: {node.platform}, glibc {node.glibc or 'none'}, driver {driver}{cuda}, {gpus} "
        f"[from {node.source}]"
    )


def _node_json(node: NodeInfo) -> dict[str, object]:
    return {
        "platform": node.platform,
        "glibc": node.glibc,
        "driver": node.driver,
        "cuda-driver-api": node.cuda_driver_api,
        "source": node.source,
        "gpus": [
            {"index": g.index, "name": g.name, "cc": g.cc.dotted, "sm": g.cc.sm, "memory-mib": g.memory_mib}
            for g in node.gpus
        ],
        "notes": list(node.notes),
    }


def _print_checks(checks: tuple[Check, ...]) -> None:
    width = max((len(c.name) for c in checks), default=0)
    for c in checks:
        print(f"{_STATUS[c.status]:<4}  {c.name:<{width}}  {c.message}")
        if c.hint and c.status != "ok":
            print(f"{'':<4}  {'':<{width}}  hint: {c.hint}")


def run(args: argparse.Namespace, console: Console) -> int:
    from envlock.kb.knowledge import load_kb
    from envlock.lock.toml import load_lock
    from envlock.node import detect_node

    lock = load_lock(args.lock)
    node = detect_node()
    report: DoctorReport = diagnose(
        lock, node, load_kb(), target=args.target, env_root=args.prefix, source=str(args.lock)
    )
    smoke_raw = None
    if args.smoke:
        if not node.gpus:
            raise IncompatibleNodeError(
                "no GPU on this node: --smoke needs one",
                hint="run doctor --smoke on a GPU node; without --smoke doctor still checks the lock",
            )
        from envlock.doctor.smoke import run_smoke

        console.step(f"running the smoke test on {len(node.gpus)} GPU(s)")
        smoke = run_smoke(_python_of(args.prefix))
        smoke_raw = smoke.raw
        report = report.with_checks(smoke.checks)
    t = report.target
    how = {"named": "named", "auto": "auto", "closest": "no target fits; the closest"}[report.chosen]
    if report.chosen == "auto" and report.why:
        how += f": {report.why}"
    if args.json:
        print_json(
            {
                "ok": report.ok,
                "target": t.name,
                "chosen": report.chosen,
                "node": _node_json(node),
                "checks": [c.to_json() for c in report.checks],
                "other-targets": {name: list(fails) for name, fails in report.others},
                "notes": list(report.notes),
                "why": report.why or None,
                "smoke": smoke_raw,
            }
        )
    else:
        print(_describe_node(node))
        print(
            f"target: {t.name} ({how}): {t.platform}, torch {t.torch or '-'}, "
            f"variant {t.variant}, CUDA {t.cuda or '-'}"
        )
        _print_checks(report.checks)
        for note in report.notes:
            console.warn(note)
        fails = sum(c.status == FAIL for c in report.checks)
        if report.ok:
            print(f"this node can run target {t.name}")
        else:
            print(f"this node cannot run target {t.name}: {fails} check(s) failed")
            for name, reasons in report.others:
                if reasons:
                    print(f"  {name}: " + "; ".join(reasons))
        if console.verbose:
            for note in node.notes:
                console.info(f"detection: {note}")
    return ExitCode.OK if report.ok else ExitCode.INPUTS
