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

With --prefix (or --verify) it reads the installed environment's record (`envlock-env.json`) and
says which lock built it (content hash, target, env hash); --verify re-hashes that environment (at
--prefix, else the target's store path) as `envlock verify` does, and fails when a file changed.

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
from envlock.display import escape_controls
from envlock.doctor.checks import FAIL, Check, DoctorReport, diagnose
from envlock.errors import ExitCode, IncompatibleNodeError, UsageError
from envlock.lock.model import Lock
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
    parser.add_argument(
        "--verify",
        action="store_true",
        help="also re-hash the installed environment (--prefix, else the store's) as `envlock verify` does",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="store root for --verify (default: $ENVLOCK_STORE or XDG data dir)",
    )
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
        # Messages name files of an installed environment (--verify): control characters escaped.
        print(f"{_STATUS[c.status]:<4}  {c.name:<{width}}  {escape_controls(c.message)}")
        if c.hint and c.status != "ok":
            print(f"{'':<4}  {'':<{width}}  hint: {c.hint}")


def _environment_record_checks(args: argparse.Namespace, lock: Lock, report: DoctorReport) -> list[Check]:
    """The installed environment's record against the lock; with --verify, its files too."""
    from envlock.doctor.checks import record_check, verify_check
    from envlock.store.layout import StoreLayout, default_store_root, env_dir_name
    from envlock.store.record import EnvRecord

    target = report.target
    layout = StoreLayout(root=(args.store or default_store_root()).absolute())
    if args.prefix is not None:
        env = args.prefix.absolute()
    else:
        from envlock.store.local import usable_env_name

        name = env_dir_name(env_hash=target.env_hash, env_name=lock.inputs.name, target=target.name)
        env = layout.env_path(usable_env_name(layout, name)[0])  # the one this user's installs run
        if not env.exists():
            return [
                Check(
                    name="verify",
                    status=FAIL,
                    message=f"target {target.name} is not installed in the store {layout.root}",
                    hint="install it (`envlock install`), or pass --store or --prefix",
                )
            ]
    record = EnvRecord.read(env)
    if record is None and not args.verify:
        return []  # --prefix of an environment envlock did not build: its binaries are still judged
    checks = [record_check(record, lock, target, env)]
    if args.verify:
        from envlock.cli.verify import verify_target

        checks.append(verify_check(verify_target(lock, target, env, layout)))
    return checks


def run(args: argparse.Namespace, console: Console) -> int:
    from envlock.kb.loader import load_kb
    from envlock.lock.read import load_lock
    from envlock.node import detect_node

    lock = load_lock(args.lock)
    node = detect_node()
    report: DoctorReport = diagnose(
        lock, node, load_kb(), target=args.target, env_root=args.prefix, source=str(args.lock)
    )
    if args.verify or args.prefix is not None:
        report = report.with_checks(_environment_record_checks(args, lock, report))
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
