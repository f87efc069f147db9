"""Benchmark the `[conda]` part: envlock against py-rattler alone, on the same local channel and specs.

Builds the test suite's local conda channel (fixtures/conda.py: a python package made from this
machine's Debian interpreter, ~12 MB, and small native packages) and a spec with only a conda part
(`python 3.11.*`, `libenvlockdemo`, an empty PyPI part). Side by side, as whole processes:

* solve, warm (repodata cached): `envlock solve` vs a Python process that runs `rattler.solve` with the
  same channel, specs, platform and virtual packages;
* install into a new store / prefix: `envlock install` vs a Python process that runs `rattler.install`
  of the same records into a fresh prefix with a fresh package cache (envlock also extracts into a
  fresh per-build cache, then verifies, records and seals the environment);
* store hit: `envlock install` of the conda target again, and of a venv target, for comparison.

Usage: python bench/bench_conda.py [--repeat 5] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.conda import build_channel, standard_recipes  # noqa: E402  # after the sys.path line

SPEC = """[env]
name = "condabench"
python = "3.11"
dependencies = []

[[target]]
name = "cpu"
platform = "linux-x86_64"

[indexes]
pytorch = false
default = "{index}"

[conda]
channels = ["{channel}"]
dependencies = ["python 3.11.*", "libenvlockdemo"]
"""

RATTLER_SOLVE = """
import asyncio, sys, rattler
from pathlib import Path
virtual = [("__archspec", "1", "x86_64"), ("__linux", "4.18", "0"), ("__glibc", "2.28", "0"),
           ("__unix", "0", "0")]
vp = [rattler.GenericVirtualPackage(rattler.PackageName(n), rattler.Version(v), rattler.BuildString(b))
      for n, v, b in virtual]
records = asyncio.run(rattler.solve(
    sources=[rattler.Channel(sys.argv[1])],
    specs=["python 3.11.*", "libenvlockdemo"],
    gateway=rattler.Gateway(cache_dir=Path(sys.argv[2])),
    platforms=[rattler.Subdir("linux-64"), rattler.Subdir("noarch")],
    virtual_packages=vp,
))
if len(sys.argv) > 3:
    prefix, cache = sys.argv[3], Path(sys.argv[4])
    asyncio.run(rattler.install(records, target_prefix=prefix, cache_dir=cache, show_progress=False))
"""


def _time(cmd: list[str], env: dict[str, str], before: object = None) -> float:
    if callable(before):
        before()
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {done.returncode}):\n{done.stderr}{done.stdout}")
    return elapsed


def _row(name: str, samples: list[float]) -> str:
    return f"| {name} | {statistics.median(samples):.2f} | {min(samples):.2f} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="envlock-bench-conda-"))
    try:
        recipes_dir = work / "recipes"
        recipes_dir.mkdir()
        channel = build_channel(work / "channel", standard_recipes(recipes_dir))
        (work / "index").mkdir()
        spec = work / "envlock.toml"
        spec.write_text(SPEC.format(index=(work / "index").as_uri(), channel=channel.as_uri()))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_", "ENVLOCK_"))}
        env |= {
            "ENVLOCK_CACHE_DIR": str(work / "cache"),
            "ENVLOCK_GPUS": "none",
            "ENVLOCK_DRIVER": "none",
            "PYTHONPATH": str(ROOT),
        }
        envlock = [sys.executable, "-m", "envlock"]
        solve = [*envlock, "solve", "-s", str(spec), "-q"]
        rattler_solve = [sys.executable, "-c", RATTLER_SOLVE, channel.as_uri(), str(work / "rattler-cache")]
        _time(solve, env)  # warm both caches
        _time(rattler_solve, env)
        rows: dict[str, list[float]] = {
            k: [] for k in ("solve", "rattler-solve", "install", "rattler-install", "hit-conda")
        }
        lock = spec.with_name("envlock.lock")
        for i in range(args.repeat):
            rows["solve"].append(_time(solve, env))
            rows["rattler-solve"].append(_time(rattler_solve, env))
            store = work / f"store{i}"
            rows["install"].append(
                _time([*envlock, "install", "-l", str(lock), "-q"], env | {"ENVLOCK_STORE": str(store)})
            )
            prefix, pkgs = work / f"prefix{i}", work / f"pkgs{i}"
            rows["rattler-install"].append(_time([*rattler_solve, str(prefix), str(pkgs)], env))
            rows["hit-conda"].append(
                _time([*envlock, "install", "-l", str(lock), "-q"], env | {"ENVLOCK_STORE": str(store)})
            )
        load = os.getloadavg()
        lines = [
            f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} CPUs; "
            f"{args.repeat} runs each, seconds",
            "",
            "| work | median | min |",
            "|---|---:|---:|",
            _row("`envlock solve` (conda part only, warm)", rows["solve"]),
            _row("`rattler.solve` alone, same inputs (warm)", rows["rattler-solve"]),
            _row("`envlock install` into a new store", rows["install"]),
            _row(
                "`rattler.solve` + `rattler.install` into a new prefix, fresh package cache",
                rows["rattler-install"],
            ),
            _row("`envlock install` again (store hit)", rows["hit-conda"]),
        ]
        text = "\n".join(lines) + "\n"
        print(text)
        if args.markdown:
            args.markdown.write_text(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
