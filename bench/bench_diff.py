"""Benchmark `envlock diff` on two multi-target locks of 500 packages per target.

Generates the locks (3 targets x 500 packages; the new lock moves torch from cu124 to cu128, upgrades
every tenth package, adds and removes a few, changes one hash), then prints the median of several
runs of the whole command as a process and of the in-process steps.

The process rows run with this shell's environment (bytecode writing and the user's knowledge-base
cache as they are), except two rows that change one thing each: "bytecode cached" lets Python keep
compiled modules (in a temporary PYTHONPYCACHEPREFIX, as an installed envlock has them) and "cold
knowledge-base cache" gives every run an empty ENVLOCK_CACHE_DIR.

    python bench/bench_diff.py [--runs 9] [--targets 3] [--packages 500]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from envlock.diff.archs import KnowledgeBaseSass
from envlock.diff.compute import diff_locks
from envlock.diff.render import render_markdown, render_text, to_json
from envlock.diff.source import read_for_diff
from envlock.kb import load_kb, loader
from envlock.lock.digest import env_hash
from envlock.lock.model import Artifact, Lock, LockedPackage, LockedTarget, LockInputs, TargetInputs
from envlock.lock.toml import dump_lock, seal

INDEX = "https://mirror.example/simple"
PYTORCH = "https://download.pytorch.org/whl"


def _pkg(name: str, version: str, index: str, salt: str = "") -> LockedPackage:
    filename = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    digest = hashlib.sha256(f"{filename}{salt}".encode()).hexdigest()
    size = int(digest[:6], 16) * 16
    return LockedPackage(
        name=name,
        version=version,
        index=index,
        artifacts=(Artifact(filename=filename, url=f"{index}/{filename}", size=size, sha256=digest),),
    )


def _target(name: str, n: int, *, new: bool) -> LockedTarget:
    variant, torch = ("cu128", "2.7.0+cu128") if new else ("cu124", "2.5.1+cu124")
    pkgs = [_pkg("torch", torch, f"{PYTORCH}/{variant}")]
    for i in range(n - 1):
        if new and i % 97 == 0:
            continue  # removed
        version = f"1.{i % 7}.{i % 13 + (1 if new and i % 10 == 0 else 0)}"
        pkgs.append(_pkg(f"pkg-{i:04d}", version, INDEX, salt="x" if new and i == 5 else ""))
    if new:
        pkgs += [_pkg(f"added-{i}", "0.1.0", INDEX) for i in range(5)]
    pkgs.sort(key=lambda p: p.name)
    return LockedTarget(
        name=name,
        platform="linux-x86_64",
        glibc="2.28",
        python="3.11",
        gpus=("sm_90",),
        driver="570.86.15",
        variant=variant,
        torch=torch,
        cuda="12.8" if new else "12.4",
        cudnn="9.7.1.26" if new else "9.1.0.70",
        nccl="2.26.2" if new else "2.21.5",
        requires_driver="570.26" if new else "550.54.14",
        compat="native",
        kb_status="confirmed",
        env_hash=env_hash(python="3.11", platform="linux-x86_64", packages=pkgs),
        packages=tuple(pkgs),
        rejected=(),
    )


def make_lock(targets: int, packages: int, *, new: bool) -> Lock:
    names = [f"node-{i}" for i in range(targets)]
    inputs = LockInputs(
        name="bench",
        python="3.11",
        dependencies=("torch>=2.7" if new else "torch>=2.5", "numpy<2"),
        cuda_version=None,
        cudnn=None,
        nccl=None,
        driver_compat="prefer-native",
        allow_ptx=False,
        default_index=INDEX,
        pytorch_index=PYTORCH,
        extra_indexes=(),
        exclude_newer=None,
        targets=tuple(
            TargetInputs(name=n, platform="linux-x86_64", glibc="2.28", gpus=("sm_90",), driver="570.86.15")
            for n in names
        ),
        knowledge_base="sha256:" + "0" * 64,
    )
    lock = Lock(
        lock_version=1,
        envlock_version="0.1.0",
        uv_version="0.13.9",
        spec_hash="sha256:" + ("1" if new else "2") * 64,
        inputs=inputs,
        targets=tuple(_target(n, packages, new=new) for n in names),
        content_hash="",
    )
    return seal(lock)


def _median(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm caches (imports, file cache)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _interleaved(fns: list[Callable[[], object]], runs: int) -> list[float]:
    """The median of each of `fns`, run round-robin so that a busy moment of the machine hits them alike."""
    for fn in fns:
        fn()  # warm caches
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, into in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            into.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def _kb_from_disk() -> object:
    loader._builtin_kb.cache_clear()  # the in-memory copy; the disk cache stays
    return load_kb()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--targets", type=int, default=3)
    ap.add_argument("--packages", type=int, default=500)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        old_path, new_path = d / "old.lock", d / "new.lock"
        old_path.write_text(dump_lock(make_lock(args.targets, args.packages, new=False)))
        new_path.write_text(dump_lock(make_lock(args.targets, args.packages, new=True)))
        env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "ENVLOCK_KB")}
        bytecode_env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        bytecode_env["PYTHONPYCACHEPREFIX"] = str(d / "pycache")

        def command(*extra: str, environ: dict[str, str] = env) -> Callable[[], object]:
            argv = [sys.executable, "-m", "envlock", "diff", str(old_path), str(new_path), *extra]
            return lambda: subprocess.run(argv, env=environ, stdout=subprocess.DEVNULL, check=True)

        cold_runs = iter(range(1_000_000))

        def cold_kb() -> object:
            cold = {**env, "ENVLOCK_CACHE_DIR": str(d / f"cache-{next(cold_runs)}")}
            return command(environ=cold)()

        old = read_for_diff(str(old_path), cwd=d)
        new = read_for_diff(str(new_path), cwd=d)
        verified = (old.hash_matches, new.hash_matches)
        sass = KnowledgeBaseSass(load_kb())
        diff = diff_locks(old.lock, new.lock, sass=sass, hash_matches=verified)
        processes = [
            ("process: envlock diff (text)", command()),
            ("process: envlock diff --format markdown", command("--format", "markdown")),
            ("process: envlock diff --format json", command("--format", "json")),
            ("process: envlock diff (text), bytecode cached", command(environ=bytecode_env)),
            ("process: envlock diff (text), cold knowledge-base cache", cold_kb),
            (
                "process: python -c pass (interpreter floor)",
                lambda: subprocess.run([sys.executable, "-c", "pass"], check=True),
            ),
        ]
        medians = _interleaved([fn for _, fn in processes], args.runs)
        rows = [(label, m) for (label, _), m in zip(processes, medians, strict=True)]
        rows += [
            (
                "in-process: read + parse + hash-check both locks",
                _median(
                    lambda: (read_for_diff(str(old_path), cwd=d), read_for_diff(str(new_path), cwd=d)),
                    args.runs,
                ),
            ),
            ("in-process: load_kb (disk cache)", _median(_kb_from_disk, args.runs)),
            (
                "in-process: diff_locks",
                _median(lambda: diff_locks(old.lock, new.lock, sass=sass, hash_matches=verified), args.runs),
            ),
            ("in-process: render text", _median(lambda: render_text(diff), args.runs)),
            ("in-process: render markdown", _median(lambda: render_markdown(diff), args.runs)),
            ("in-process: to_json", _median(lambda: to_json(diff), args.runs)),
        ]
        changes = sum(len(t.packages) for t in diff.targets)
        size = old_path.stat().st_size // 1024
        print(
            f"envlock diff: {args.targets} targets x {args.packages} packages per lock ({size} KiB each), "
            f"{changes} package changes; median of {args.runs} runs"
        )
        print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs\n")
        print("| step | median |")
        print("|---|---:|")
        for label, secs in rows:
            print(f"| {label} | {secs * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
