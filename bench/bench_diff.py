"""Benchmark `envlock diff` and `envlock check` on two locks of 500 packages per target, and `--help`.

Generates the locks (3 targets x 500 packages; the new lock moves torch from cu124 to cu128, upgrades
every tenth package, adds and removes a few, changes one hash) and a spec each lock is fresh for, then
prints the median and minimum of several runs of whole commands as processes, round-robin (a busy
moment of the machine hits every row alike), and the median of the in-process steps. The aims: diff
and check under 0.3 s, `envlock --help` under 0.1 s (whole processes).

The process rows run as an installed envlock does: Python keeps compiled modules (in a temporary
PYTHONPYCACHEPREFIX; the first, uncounted round writes them) and the knowledge-base cache is warm.
Two rows change one thing each: "no bytecode cache" (PYTHONDONTWRITEBYTECODE, as this development
VM sets it: every run compiles envlock from source) and "cold knowledge-base cache" (an empty
ENVLOCK_CACHE_DIR each run, as a CI job without a cache has). The load average is printed before and
after; the table also goes to bench/results/diff.md (or --markdown FILE).

    python bench/bench_diff.py [--runs 9] [--targets 3] [--packages 500] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the locks are built with the tests' lock factory

from lockfactory import make_inputs, make_target  # noqa: E402 -- path set just above
from lockfactory import make_lock as factory_lock  # noqa: E402

from envlock.diff.archs import KnowledgeBaseSass  # noqa: E402
from envlock.diff.compute import diff_locks  # noqa: E402
from envlock.diff.render import render_markdown, render_text, to_json  # noqa: E402
from envlock.diff.source import read_for_diff  # noqa: E402
from envlock.kb import load_kb, loader  # noqa: E402
from envlock.lock.digest import seal  # noqa: E402
from envlock.lock.model import Artifact, Lock, LockedPackage, LockedTarget  # noqa: E402
from envlock.lock.write import dump_lock  # noqa: E402

RESULTS = REPO / "bench" / "results" / "diff.md"
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
    return make_target(
        name,
        driver="570.86.15",
        variant=variant,
        torch=torch,
        cuda="12.8" if new else "12.4",
        cudnn="9.7.1.26" if new else "9.1.0.70",
        nccl="2.26.2" if new else "2.21.5",
        requires_driver="570.26" if new else "550.54.14",
        packages=tuple(pkgs),
        rejected=(),
    )


def make_lock(targets: int, packages: int, *, new: bool) -> Lock:
    """A lock of `targets` H100 nodes with `packages` packages each: the old one or the `new` one."""
    locked = tuple(_target(f"node-{i}", packages, new=new) for i in range(targets))
    inputs = make_inputs(
        locked, name="bench", dependencies=("torch>=2.7" if new else "torch>=2.5", "numpy<2")
    )
    return factory_lock(
        targets=locked, inputs=inputs, uv_version="0.13.9", spec_hash="sha256:" + ("1" if new else "2") * 64
    )


def _median(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm caches (imports, file cache)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _interleaved(fns: list[Callable[[], object]], runs: int) -> tuple[list[list[float]], list[list[float]]]:
    """The wall and CPU times (user + system of the child) of each of `fns`, run round-robin so that a
    busy moment of the machine hits them alike. CPU time moves far less than wall time under load."""
    for fn in fns:
        fn()  # warm caches (bytecode, knowledge-base cache, file cache); not counted
    times: list[list[float]] = [[] for _ in fns]
    cpu: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, into, cpu_into in zip(fns, times, cpu, strict=True):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            fn()
            into.append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_into.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return times, cpu


def write_spec(path: Path, targets: int) -> None:
    """A spec whose targets carry the generated locks' target names."""
    lines = ["[env]", 'name = "bench"', 'python = "3.11"', 'dependencies = ["torch>=2.5", "numpy<2"]']
    for i in range(targets):
        lines += ["", "[[target]]", f'name = "node-{i}"', 'platform = "linux-x86_64"']
        lines += ['gpus = ["H100"]', 'driver = "570.86.15"']
    lines += ["", "[indexes]", f'default = "{INDEX}"', f'pytorch = "{PYTORCH}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def fresh_for(spec_path: Path, lock: Lock) -> Lock:
    """`lock` with the inputs `spec_path` gives, re-sealed: `envlock check` finds it fresh."""
    import dataclasses

    from envlock.index.config import default_index_url
    from envlock.solve.inputs import lock_inputs
    from envlock.spec.parse import load_spec

    spec = load_spec(spec_path)
    assert spec.indexes.default is not None
    inputs = lock_inputs(
        spec,
        default_index=default_index_url(spec.indexes.default),
        kb_digest=load_kb(spec.knowledge_base).digest,
    )
    return seal(dataclasses.replace(lock, inputs=inputs))


def _kb_from_disk() -> object:
    loader._builtin_kb.cache_clear()  # the in-memory copy; the disk cache stays
    return load_kb()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--targets", type=int, default=3)
    ap.add_argument("--packages", type=int, default=500)
    ap.add_argument(
        "--markdown", type=Path, default=RESULTS, help=f"write the table here (default {RESULTS})"
    )
    args = ap.parse_args()
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for name in ("old", "new"):
            (d / name).mkdir()
            write_spec(d / name / "envlock.toml", args.targets)
        old_path, new_path = d / "old" / "envlock.lock", d / "new" / "envlock.lock"
        old_lock = fresh_for(d / "old" / "envlock.toml", make_lock(args.targets, args.packages, new=False))
        new_lock = fresh_for(d / "new" / "envlock.toml", make_lock(args.targets, args.packages, new=True))
        old_path.write_text(dump_lock(old_lock))
        new_path.write_text(dump_lock(new_lock))
        base = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "ENVLOCK_KB")}
        base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), base.get("PYTHONPATH", "")]))
        env = {k: v for k, v in base.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(d / "pycache")
        no_bytecode = {k: v for k, v in base.items() if k != "PYTHONPYCACHEPREFIX"}
        no_bytecode["PYTHONDONTWRITEBYTECODE"] = "1"

        def command(*argv: str, environ: dict[str, str] = env, ok: int = 0) -> Callable[[], object]:
            full = [sys.executable, "-m", "envlock", *argv]

            def run() -> object:
                done = subprocess.run(full, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                if done.returncode != ok:
                    raise SystemExit(
                        f"`envlock {' '.join(argv)}` exited {done.returncode}:\n{done.stderr.decode()}"
                    )
                return done

            return run

        cold_runs = iter(range(1_000_000))

        def cold_kb() -> object:
            cold = {**env, "ENVLOCK_CACHE_DIR": str(d / f"cache-{next(cold_runs)}")}
            return command("diff", str(old_path), str(new_path), environ=cold)()

        old = read_for_diff(str(old_path), cwd=d)
        new = read_for_diff(str(new_path), cwd=d)
        verified = (old.hash_matches, new.hash_matches)
        sass = KnowledgeBaseSass(load_kb())
        diff = diff_locks(old.lock, new.lock, sass=sass, hash_matches=verified)
        diff_args = ("diff", str(old_path), str(new_path))
        processes = [
            ("envlock diff OLD NEW (text)", "0.3", command(*diff_args)),
            ("envlock diff --format markdown", "0.3", command(*diff_args, "--format", "markdown")),
            ("envlock diff --format json", "0.3", command(*diff_args, "--format", "json")),
            (
                "envlock check, old lock (fresh)",
                "0.3",
                command("check", "-s", str(d / "old" / "envlock.toml")),
            ),
            (
                "envlock check, new lock (fresh)",
                "0.3",
                command("check", "-s", str(d / "new" / "envlock.toml")),
            ),
            ("envlock --help", "0.1", command("--help")),
            ("envlock diff (text), no bytecode cache", "", command(*diff_args, environ=no_bytecode)),
            ("envlock diff (text), cold knowledge-base cache", "", cold_kb),
            (
                "python -c pass (interpreter floor)",
                "",
                lambda: subprocess.run([sys.executable, "-c", "pass"], env=env, check=True),
            ),
        ]
        times, cpu = _interleaved([fn for _, _, fn in processes], args.runs)
        steps = [
            (
                "read + parse + hash-check both locks",
                _median(
                    lambda: (read_for_diff(str(old_path), cwd=d), read_for_diff(str(new_path), cwd=d)),
                    args.runs,
                ),
            ),
            ("load_kb (disk cache)", _median(_kb_from_disk, args.runs)),
            (
                "diff_locks",
                _median(lambda: diff_locks(old.lock, new.lock, sass=sass, hash_matches=verified), args.runs),
            ),
            ("render text", _median(lambda: render_text(diff), args.runs)),
            ("render markdown", _median(lambda: render_markdown(diff), args.runs)),
            ("to_json", _median(lambda: to_json(diff), args.runs)),
        ]
        changes = sum(len(t.packages) for t in diff.targets)
        size = old_path.stat().st_size // 1024
    load_after = os.getloadavg()
    lines = [
        f"envlock diff / check: {args.targets} targets x {args.packages} packages per lock "
        f"({size} KiB each), "
        f"{changes} package changes; {args.runs} runs per row, round-robin",
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; load average "
        f"(1 / 5 / 15 min) before {_load(load_before)}, after {_load(load_after)}",
        "",
        "| whole process | median | min | CPU median | aim | met (median) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for (label, aim, _), runs, cpu_runs in zip(processes, times, cpu, strict=True):
        med = statistics.median(runs)
        met = ("yes" if med < float(aim) else "no") if aim else ""
        shown_aim = f"< {aim} s" if aim else ""
        lines.append(
            f"| {label} | {med * 1000:.0f} ms | {min(runs) * 1000:.0f} ms | "
            f"{statistics.median(cpu_runs) * 1000:.0f} ms | {shown_aim} | {met} |"
        )
    lines += ["", "| in-process step | median |", "|---|---:|"]
    lines += [f"| {label} | {secs * 1000:.1f} ms |" for label, secs in steps]
    text = "\n".join(lines) + "\n"
    print(text)
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(text, encoding="utf-8")


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


if __name__ == "__main__":
    main()
