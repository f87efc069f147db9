"""Benchmark the `[conda]` part: envlock against py-rattler alone, on the same local channel and specs.

Builds the test suite's local conda channel (fixtures/conda.py: a python package made from this
machine's Debian interpreter, ~12 MB, and small native packages) and serves the fixture PyPI index
on 127.0.0.1 (fixtures/server.py). Three specs, one `linux-x86_64` target without GPUs each:

* `conda`: `[conda]` python 3.11.* + libenvlockdemo, an empty PyPI part (envlock then starts no
  process: no uv, no `uv --version`; it reads no PyPI index and makes no HTTP client), so that the
  rows paired with rattler alone compare like with like;
* `mixed`: the same `[conda]` part + `filelock` from the fixture index (uv solves and installs it);
* `venv`: no `[conda]` part, `filelock` only: a venv, for the store-hit comparison.

Each side does the same work where the rows pair up (same channel URL, specs, subdirs `linux-64` +
`noarch`, virtual packages `__archspec`/`__linux`/`__glibc`/`__unix`, the same records):

* solve, warm (repodata already cached on disk): `envlock solve` of `conda` vs a Python process that
  runs `rattler.solve` with a new Gateway on its own warm cache; and, in-process, envlock's conda step
  (`solve_conda`: virtual packages from the target, `rattler.solve`, the lock's records) vs
  `rattler.solve` alone, each called in a loop in one process (no start-up in these two rows);
* install into a new store / prefix: `envlock install` of `conda` (copies each package from the
  channel into the store's artifact area, sha256 checked, then rattler extracts and links them,
  then the record and the seal) vs a Python process that reads the same lock and runs
  `rattler.install` of the same records (the same file:// URLs and sha256) into a new prefix with a
  new package cache;
* what envlock does by design and rattler does not, as rows of their own: the seal's tree hash of
  the built prefix (every installed file's sha256, which `envlock verify` checks later), timed
  in-process, and the `mixed` install (the PyPI part by uv, byte-compiled);
* store hit: `envlock install` of `conda` again, and of `venv` again.

Every command runs with byte-compiled modules, as an installed envlock and rattler have: the
benchmark drops PYTHONDONTWRITEBYTECODE and points PYTHONPYCACHEPREFIX at its temporary directory
(untimed warm-up runs write the `.pyc` files). py-rattler 0.28 sometimes crashes while the
interpreter shuts down after its work is done (exit 134/139); the rattler-alone scripts end with
`os._exit(0)` once their work is done, which skips that shutdown (in rattler's favour).

Each row has the median and minimum wall time and the median CPU time (user + system of the
process and its threads; for the in-process rows, of the calls), which moves far less with the
machine's load. The load average is printed before and after: wall times mean little on a loaded
machine.

Usage: python bench/bench_conda.py [--repeat 5] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import os
import resource
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
from fixtures.server import FixtureIndexServer  # noqa: E402  # after the sys.path line

SPEC = """[env]
name = "condabench-{kind}"
python = "3.11"
dependencies = {deps}

[[target]]
name = "cpu"
platform = "linux-x86_64"

[indexes]
pytorch = false
default = "{index}"
"""
CONDA = """
[conda]
channels = ["{channel}"]
dependencies = ["python 3.11.*", "libenvlockdemo"]
"""

RATTLER_SOLVE = """
import asyncio, os, sys, rattler
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
assert len(records) == 2, records
sys.stdout.flush()
os._exit(0)
"""

# The records of the lock's conda part, as envlock's materializer builds them (but with the lock's
# own file:// URLs: rattler reads the channel's files, envlock its store copies).
RATTLER_INSTALL = """
import asyncio, os, sys, tomllib, rattler
from pathlib import Path
lock = tomllib.loads(Path(sys.argv[1]).read_text())
records = []
for c in lock["targets"][0]["conda"]:
    art = c["artifact"] if "artifact" in c else c
    package = rattler.PackageRecord(
        name=c["name"], version=c["version"], build=rattler.BuildString(c["build"]),
        build_number=c["build-number"], subdir=c["subdir"], noarch=c.get("noarch"),
        depends=list(c.get("depends", [])), constrains=list(c.get("constrains", [])),
        sha256=bytes.fromhex(art["sha256"]), md5=bytes.fromhex(c["md5"]) if c.get("md5") else None,
        size=art["size"],
    )
    records.append(rattler.RepoDataRecord(
        package_record=package, file_name=art["file"], url=art["url"], channel=c["channel"]))
asyncio.run(rattler.install(records, target_prefix=sys.argv[2], cache_dir=Path(sys.argv[3]),
                            installed_packages=[], execute_link_scripts=False, show_progress=False))
assert (Path(sys.argv[2]) / "bin" / "python").exists()
sys.stdout.flush()
os._exit(0)
"""

# Both conda steps in one process, alternating, N calls each; prints median, min and median CPU time
# (of the whole process: rattler's threads too) of each (seconds).
IN_PROCESS = """
import asyncio, statistics, sys, time, rattler
from pathlib import Path
from envlock.kb import load_kb
from envlock.solve.conda import solve_conda
from envlock.spec.model import CondaSpec
channel, cache, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
kb = load_kb()
spec = CondaSpec(channels=(channel,), dependencies=("python 3.11.*", "libenvlockdemo"))
virtual = [("__archspec", "1", "x86_64"), ("__linux", "4.18", "0"), ("__glibc", "2.28", "0"),
           ("__unix", "0", "0")]
def envlock_step():
    out = solve_conda(spec, platform="linux-x86_64", glibc="2.28", driver=None, kb=kb, cache_dir=cache)
    assert len(out) == 2, out
def rattler_alone():
    vp = [rattler.GenericVirtualPackage(rattler.PackageName(a), rattler.Version(b), rattler.BuildString(c))
          for a, b, c in virtual]
    records = asyncio.run(rattler.solve(
        sources=[rattler.Channel(channel)], specs=["python 3.11.*", "libenvlockdemo"],
        gateway=rattler.Gateway(cache_dir=cache),
        platforms=[rattler.Subdir("linux-64"), rattler.Subdir("noarch")], virtual_packages=vp))
    assert len(records) == 2, records
envlock_step(); rattler_alone()
times = {envlock_step: [], rattler_alone: []}
cpu = {envlock_step: [], rattler_alone: []}
for _ in range(n):
    for f in times:
        t, c = time.perf_counter(), time.process_time(); f()
        times[f].append(time.perf_counter() - t); cpu[f].append(time.process_time() - c)
print(*(x for f in times for x in (statistics.median(times[f]), min(times[f]), statistics.median(cpu[f]))))
sys.stdout.flush()
import os; os._exit(0)
"""


# The seal's tree hash of one built environment, in-process; prints wall and CPU seconds.
TREE_HASH = """
import sys, time
from pathlib import Path
from envlock.store.tree import UNHASHED, manifest_text, scan_tree, tree_hash
env = next((Path(sys.argv[1]) / "v1" / "envs").iterdir())
t, c = time.perf_counter(), time.process_time()
tree_hash(manifest_text(scan_tree(env, exclude=UNHASHED)))
print(time.perf_counter() - t, time.process_time() - c)
"""


# Every module `envlock solve` of a conda-only spec imports (from `python -X importtime`), nothing run.
SOLVE_IMPORTS = (
    "import envlock.cli.main, envlock.cli.solve, envlock.index.config, envlock.kb.loader, "
    "envlock.kb.cache, envlock.lock.drift, envlock.lock.read, envlock.lock.write, envlock.resolvers.uv, "
    "envlock.spec.parse, envlock.solve.conda, envlock.solve.solver, envlock.solve.archs, rattler, os; "
    "os._exit(0)"
)


def _remove(path: Path) -> None:
    """Remove a tree that may hold read-only store environments (published environments are 0555)."""
    if path.exists():
        subprocess.run(["chmod", "-R", "u+w", str(path)], check=False)
    shutil.rmtree(path, ignore_errors=True)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of `cmd`."""
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {done.returncode}):\n{done.stderr}{done.stdout}")
    return elapsed, _children_cpu() - cpu, done.stdout


CPU: dict[str, list[float]] = {}  # row -> CPU seconds of its runs, filled by `_time`


def _time(cmd: list[str], env: dict[str, str], row: str | None = None) -> float:
    elapsed, cpu, _ = _run(cmd, env)
    if row is not None:
        CPU.setdefault(row, []).append(cpu)
    return elapsed


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _row(name: str, samples: list[float], cpu: list[float], digits: int = 2) -> str:
    return (
        f"| {name} | {statistics.median(samples):.{digits}f} | {min(samples):.{digits}f} | "
        f"{statistics.median(cpu):.{digits}f} |"
    )


ROWS = {
    "python": "`python -c pass` (start-up of any Python process here)",
    "import-rattler": '`python -c "import rattler"`',
    "imports": "the modules `envlock solve` imports (rattler's too), imported in a process, nothing run",
    "solve": "`envlock solve`, conda part only (warm repodata)",
    "rattler-solve": "`rattler.solve` alone, same inputs, as a process (warm repodata)",
    "step": "envlock's conda step in-process (`solve_conda`: virtual packages, `rattler.solve`, records)",
    "rattler-step": "`rattler.solve` in-process, same inputs",
    "solve-mixed": "by design: `envlock solve` with a PyPI part too (`filelock`, resolved by uv)",
    "install": "`envlock install`, conda part only, new store",
    "rattler-install": "`rattler.install` of the same records, as a process, new prefix and package cache",
    "seal": "by design: the seal's tree hash of that prefix (every file's sha256; in-process)",
    "install-mixed": "by design: `envlock install` with the PyPI part (uv, bytecode), new store",
    "hit-conda": "`envlock install` again: store hit, conda prefix",
    "hit-venv": "`envlock install` again: store hit, venv (`filelock`)",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="envlock-bench-conda-"))
    load_before = _load()
    server = FixtureIndexServer(work / "index").start()
    try:
        recipes_dir = work / "recipes"
        recipes_dir.mkdir()
        channel = build_channel(work / "channel", standard_recipes(recipes_dir))
        specs: dict[str, Path] = {}
        for kind, deps, conda in (
            ("conda", "[]", True),
            ("mixed", '["filelock"]', True),
            ("venv", '["filelock"]', False),
        ):
            folder = work / kind
            folder.mkdir()
            text = SPEC.format(kind=kind, deps=deps, index=server.default)
            if conda:
                text += CONDA.format(channel=channel.as_uri())
            specs[kind] = folder / "envlock.toml"
            specs[kind].write_text(text)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("UV_", "PIP_", "ENVLOCK_", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"))
        }
        env |= {
            "ENVLOCK_CACHE_DIR": str(work / "cache"),
            "ENVLOCK_GPUS": "none",
            "ENVLOCK_DRIVER": "none",
            "PYTHONPATH": str(ROOT),
            "PYTHONPYCACHEPREFIX": str(work / "pycache"),
        }
        py = sys.executable
        envlock = [py, "-m", "envlock"]
        rattler_cache = work / "rattler-cache"
        rattler_solve = [py, "-c", RATTLER_SOLVE, channel.as_uri(), str(rattler_cache)]
        for kind in specs:  # warm-up: bytecode, repodata caches, the locks
            _time([*envlock, "solve", "-s", str(specs[kind]), "-q"], env)
        _time(rattler_solve, env)
        locks = {kind: spec.with_name("envlock.lock") for kind, spec in specs.items()}
        hit_store = work / "hit-store"
        for kind in ("conda", "venv"):
            _time([*envlock, "install", "-l", str(locks[kind]), "-q", "--store", str(hit_store)], env)
        rows: dict[str, list[float]] = {k: [] for k in ROWS}

        def timed(row: str, cmd: list[str]) -> None:
            rows[row].append(_time(cmd, env, row))

        for i in range(args.repeat):
            timed("python", [py, "-c", "pass"])
            timed("import-rattler", [py, "-c", "import rattler, os; os._exit(0)"])
            timed("imports", [py, "-c", SOLVE_IMPORTS])
            timed("solve", [*envlock, "solve", "-s", str(specs["conda"]), "-q"])
            timed("rattler-solve", rattler_solve)
            timed("solve-mixed", [*envlock, "solve", "-s", str(specs["mixed"]), "-q"])
            store = work / f"store{i}"
            timed("install", [*envlock, "install", "-l", str(locks["conda"]), "-q", "--store", str(store)])
            seal_wall, seal_cpu = (float(x) for x in _run([py, "-c", TREE_HASH, str(store)], env)[2].split())
            rows["seal"].append(seal_wall)
            CPU.setdefault("seal", []).append(seal_cpu)
            prefix, pkgs = work / f"prefix{i}", work / f"pkgs{i}"
            timed("rattler-install", [py, "-c", RATTLER_INSTALL, str(locks["conda"]), str(prefix), str(pkgs)])
            mixed_store = work / f"mixed-store{i}"
            timed(
                "install-mixed",
                [*envlock, "install", "-l", str(locks["mixed"]), "-q", "--store", str(mixed_store)],
            )
            for kind in ("conda", "venv"):
                timed(
                    f"hit-{kind}",
                    [*envlock, "install", "-l", str(locks[kind]), "-q", "--store", str(hit_store)],
                )
            for path in (store, prefix, pkgs, mixed_store):
                _remove(path)
        out = _run([py, "-c", IN_PROCESS, channel.as_uri(), str(rattler_cache), str(10 * args.repeat)], env)[
            2
        ]
        step = [float(x) for x in out.split()]
        load_after = _load()
        table = [_row(ROWS[k], v, CPU[k]) for k, v in rows.items() if k not in ("step", "rattler-step")]
        for at, (key, (med, low, cpu)) in enumerate((("step", step[:3]), ("rattler-step", step[3:])), 5):
            table.insert(at, f"| {ROWS[key]} | {med:.3f} | {low:.3f} | {cpu:.3f} |")
        lines = [
            f"load average (1, 5, 15 min) before: {load_before}; after: {load_after}; "
            f"{os.cpu_count()} CPUs; {args.repeat} runs each (the in-process rows: {10 * args.repeat} "
            "calls each), seconds",
            "",
            "| work | median | min | CPU (median) |",
            "|---|---:|---:|---:|",
            *table,
        ]
        text = "\n".join(lines) + "\n"
        print(text)
        if args.markdown:
            args.markdown.write_text(text)
    finally:
        server.stop()
        _remove(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
