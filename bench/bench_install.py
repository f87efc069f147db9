"""Benchmark `envlock install` against `uv pip sync` and `pip install --require-hashes` on the same files.

Builds N fixture wheels, serves them on 127.0.0.1, writes a lock (and the same set as hashed
requirements), then times, as whole commands in fresh processes:

* envlock install: cold (empty store and uv cache), warm (artifacts + uv cache present, env not
  built), into a new store while another store holds the files (what the 1.3x-of-uv-warm aim is
  about), store hit (the environment exists);
* `uv venv` + `uv pip sync` (cold / warm uv cache), `python -m venv` + `pip install --require-hashes`;
* 1, 8 and 16 concurrent `envlock install` of one lock into one fresh store (warm uv cache), and
  16 concurrent store hits (what 16 Python processes cost here before any install work);
* `python -c pass`: this interpreter's start-up alone (site-packages `.pth` files included);
* imports of generated packages (12 x 60 modules of ordinary code) in a store environment, in a
  venv of `uv pip install --compile-bytecode` and in one without bytecode, run alternately with
  PYTHONDONTWRITEBYTECODE (each environment's own bytecode only).

Each row has the median and minimum wall time and the median CPU time (user + system of every
process the run started, children included: it moves far less with the machine's load than wall
time). The table ends with the aims read from this run's medians; the load average before and after the
run is in its first line; it is also written to bench/results/install.md (or --markdown FILE).

Every command runs with byte-compiled modules, as an installed envlock has: the benchmark drops
PYTHONDONTWRITEBYTECODE and points PYTHONPYCACHEPREFIX at its temporary directory (the first,
untimed run writes the `.pyc` files). uv is the binary envlock itself runs.

`--baseline DIR` also times the envlock of another checkout (for example
`git worktree add ../before <rev>`), with its own store and caches, alternating with this one
run by run so that both see the same load; its columns follow this checkout's.

Usage: python bench/bench_install.py [--packages 30] [--kib 256] [--repeat 3] [--markdown FILE]
                                     [--baseline DIR] [--no-imports]
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "install.md"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "install"))
sys.path.insert(0, str(ROOT / "tests"))  # lockmaker builds its locks with tests/lockfactory.py

from lockmaker import FileServer, TargetDef, make_lock  # noqa: E402 -- paths set just above

from envlock.lock.read import load_lock  # noqa: E402
from envlock.materialize.uvinstall import uv_binary  # noqa: E402


def _remove(path: Path) -> None:
    """Remove a tree that may hold read-only store environments (published environments are 0555)."""
    if path.exists():
        subprocess.run(["chmod", "-R", "u+w", str(path)], check=False)
    shutil.rmtree(path, ignore_errors=True)


def _env(tmp: Path, uv_cache: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("UV_", "PIP_", "ENVLOCK_", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"))
    }
    env |= {
        "PYTHONPYCACHEPREFIX": str(tmp / "pycache"),
        "UV_CACHE_DIR": str(uv_cache),
        "UV_NO_CONFIG": "1",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_CACHE_DIR": "1",
        "ENVLOCK_CACHE_DIR": str(tmp / "envlock-cache"),
        "ENVLOCK_GPUS": "none",
        "ENVLOCK_DRIVER": "none",
        "NO_PROXY": "127.0.0.1",
    }
    return env


def _time(cmds: list[list[str]], env: dict[str, str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    for cmd in cmds:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=cwd)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return time.perf_counter() - start


_counter = iter(range(1_000_000))

# (median, min, median CPU seconds): on a shared machine the minimum is the least disturbed run, and
# CPU time (user + system of every process the run started) moves far less with load than wall time
Stats = tuple[float, float, float]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measured(fn: Callable[[], float]) -> tuple[float, float]:
    """(what `fn` returns: its wall time, the CPU time of the processes it ran)."""
    before = _children_cpu()
    wall = fn()
    return wall, _children_cpu() - before


def _stats(runs: list[float], cpu: list[float] | None = None) -> Stats:
    return statistics.median(runs), min(runs), statistics.median(cpu) if cpu else math.nan


def _median(fn: Callable[[], float], repeat: int) -> Stats:
    pairs = [_measured(fn) for _ in range(repeat)]
    return _stats([w for w, _ in pairs], [c for _, c in pairs])


class Envlock:
    """One envlock checkout under test: `python -m envlock` run from `root`, with its own store,
    uv cache and bytecode, so that two checkouts never share a cache."""

    def __init__(self, root: Path, tmp: Path, lock_path: Path) -> None:
        self.root = root
        self.tmp = tmp
        self.lock = lock_path
        tmp.mkdir(parents=True, exist_ok=True)

    def env(self, uv_cache: Path) -> dict[str, str]:
        return _env(self.tmp, uv_cache) | {"PYTHONPYCACHEPREFIX": str(self.tmp / "pycache")}

    def install(self, store: Path, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "envlock",
            "install",
            "-l",
            str(self.lock),
            "--store",
            str(store),
            *extra,
        ]

    def fresh(self, name: str) -> Path:
        path = self.tmp / name
        _remove(path)
        return path

    def cold(self) -> float:
        store, cache = self.fresh("store"), self.fresh("uvcache")
        return _time([self.install(store)], self.env(cache), self.root)

    def warm(self) -> float:
        store = self.tmp / "store"
        _remove(store / "v1" / "envs")
        _remove(store / "v1" / "roots")
        return _time([self.install(store)], self.env(self.tmp / "uvcache"), self.root)

    def new_store(self) -> float:
        """Into a store never used before, while the store of `warm` holds every file (and uv's
        cache is warm): what a second project or a new store path on the same machine costs."""
        store = self.fresh(f"store-new-{next(_counter)}")
        return _time([self.install(store)], self.env(self.tmp / "uvcache"), self.root)

    def hit(self) -> float:
        return _time([self.install(self.tmp / "store")], self.env(self.tmp / "uvcache"), self.root)

    def run_hit(self) -> float:
        cmd = [
            sys.executable,
            "-m",
            "envlock",
            "run",
            "-l",
            str(self.lock),
            "--store",
            str(self.tmp / "store"),
        ]
        return _time([[*cmd, "--", "true"]], self.env(self.tmp / "uvcache"), self.root)

    def concurrent(self, n: int, *, fresh_store: bool) -> float:
        store = self.fresh("store-conc") if fresh_store else self.tmp / "store-conc"
        env = self.env(self.tmp / "uvcache")
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                self.install(store),
                env=env,
                cwd=self.root,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(n)
        ]
        codes = [p.wait() for p in procs]
        elapsed = time.perf_counter() - start
        assert codes == [0] * n, codes
        assert (store / "v1" / "builds.log").read_text().count("published") == 1
        return elapsed


def _module_source(pkg: str, i: int) -> bytes:
    """A module of ordinary shape (classes, functions, constants), about 10 KB of source."""
    lines = [
        f'"""Module {i} of {pkg}."""',
        "import os",
        "import re",
        "",
        f"PATTERN = re.compile(r'{pkg}_{i}_[a-z]+')",
    ]
    for k in range(12):
        lines += [
            "",
            f"class Thing{k}:",
            f'    """Thing {k}."""',
            "    def __init__(self, value: int = 0) -> None:",
            "        self.value = value",
            "    def scaled(self, factor: float) -> float:",
            f"        return self.value * factor + {k}",
            "",
            f"def helper_{k}(items: list[int]) -> dict[str, int]:",
            f"    out = {{str(n): n * {k} for n in items if n % 3}}",
            f"    return {{**out, 'path': len(os.sep) + {k}}}",
        ]
    return ("\n".join(lines) + "\n").encode()


def imports_part(
    tmp: Path, server_url: str, repeat: int, packages: int = 12, modules: int = 60
) -> list[tuple[str, Stats]]:
    """Import time of the same packages in a store environment and in a venv that
    `uv pip install --compile-bytecode` made, run alternately; and without bytecode for scale."""
    wheels = tmp / "imports-wheels"
    wheels.mkdir()
    (tmp / "imports").mkdir()
    server = FileServer(wheels)
    names = [f"mod{i:02d}" for i in range(packages)]
    payload = {
        n: {
            f"{n}/__init__.py": "".join(f"from {n} import m{j:03d}\n" for j in range(modules)).encode(),
            **{f"{n}/m{j:03d}.py": _module_source(n, j) for j in range(modules)},
        }
        for n in names
    }
    lock_path = make_lock(
        tmp / "imports" / "envlock.lock",
        wheels,
        server.url,
        [TargetDef(name="cpu", packages=tuple((n, "1.0") for n in names))],
        payloads=payload,
    )
    lock = load_lock(lock_path)
    reqs = tmp / "imports" / "requirements.txt"
    reqs.write_text(
        "".join(
            f"{p.name} @ {a.url} --hash=sha256:{a.sha256}\n"
            for p in lock.targets[0].packages
            for a in p.artifacts
        )
    )
    env = _env(tmp, tmp / "uvcache-imports")
    done = subprocess.run(
        [sys.executable, "-m", "envlock", "install", "-l", str(lock_path), "--json",
         "--store", str(tmp / "store-imports")],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    store_env = Path(json.loads(done.stdout)["path"])
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    # Bytecode only in the environments themselves: no PYTHONPYCACHEPREFIX (uv's compile step would
    # write there), and nothing written on import.
    run_env = {k: v for k, v in env.items() if k != "PYTHONPYCACHEPREFIX"} | {"PYTHONDONTWRITEBYTECODE": "1"}
    venvs = {}
    for label, extra in (("compiled", ["--compile-bytecode"]), ("plain", [])):
        venv = tmp / f"imports-venv-{label}"
        _time(
            [
                [uv_binary(), "venv", "-q", "--python", py, str(venv)],
                [uv_binary(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                 "--require-hashes", *extra, "-r", str(reqs)],
            ],
            run_env,
        )  # fmt: skip
        venvs[label] = venv / "bin" / "python"
    server.close()
    code = "import " + ", ".join(names)
    pythons = [store_env / "bin" / "python", venvs["compiled"], venvs["plain"]]
    times: list[list[float]] = [[] for _ in pythons]
    cpu: list[list[float]] = [[] for _ in pythons]
    for python in pythons:
        _time([[str(python), "-c", code]], run_env)  # the OS file cache, not counted
    for _ in range(max(repeat, 5)):
        for python, into, cpu_into in zip(pythons, times, cpu, strict=True):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            into.append(_time([[str(python), "-c", code]], run_env))
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_into.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    what = f"{packages} packages x {modules} modules"
    where = (
        "in the store env (envlock install)",
        "in a `uv pip install --compile-bytecode` venv",
        "in a venv without bytecode (uv default, nothing written)",
    )
    # CPU time (user + system) as well: on a loaded machine it moves far less than wall time.
    return [(f"imports of {what} {w}", _stats(t)) for w, t in zip(where, times, strict=True)] + [
        (f"CPU time of those imports {w}", _stats(c)) for w, c in zip(where, cpu, strict=True)
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packages", type=int, default=30)
    ap.add_argument("--kib", type=int, default=256, help="payload per wheel")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--markdown", type=Path, default=RESULTS, help=f"write the table to this file ({RESULTS})"
    )
    ap.add_argument("--no-imports", action="store_true", help="skip the import-time rows")
    ap.add_argument("--baseline", type=Path, default=None, help="another envlock checkout to time alongside")
    args = ap.parse_args()
    load_before = os.getloadavg()

    tmp = Path(tempfile.mkdtemp(prefix="envlock-bench-"))
    wheels = tmp / "wheels"
    wheels.mkdir()
    server = FileServer(wheels)
    names = [f"pkg{i:03d}" for i in range(args.packages)]
    payload = {n: {f"{n}/__init__.py": b"", f"{n}/data.bin": os.urandom(args.kib * 1024)} for n in names}
    lock_path = make_lock(
        tmp / "envlock.lock",
        wheels,
        server.url,
        [TargetDef(name="cpu", packages=tuple((n, "1.0") for n in names))],
        payloads=payload,
    )
    lock = load_lock(lock_path)
    reqs = tmp / "requirements.txt"
    reqs.write_text(
        "".join(
            f"{p.name} @ {a.url} --hash=sha256:{a.sha256}\n"
            for p in lock.targets[0].packages
            for a in p.artifacts
        )
    )
    local_reqs = tmp / "requirements-local.txt"
    local_reqs.write_text(
        "".join(
            f"{p.name} @ {(wheels / a.filename).as_uri()} --hash=sha256:{a.sha256}\n"
            for p in lock.targets[0].packages
            for a in p.artifacts
        )
    )
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    uv = uv_binary()
    checkouts = [Envlock(ROOT, tmp / "this", lock_path)]
    if args.baseline is not None:
        checkouts.append(Envlock(args.baseline.resolve(), tmp / "baseline", lock_path))
    rows: list[tuple[str, list[Stats]]] = []

    def envlock_row(name: str, fn: Callable[[Envlock], float]) -> None:
        runs: list[list[float]] = [[] for _ in checkouts]
        cpu: list[list[float]] = [[] for _ in checkouts]
        for i in range(args.repeat):  # alternate which checkout goes first
            order = list(enumerate(checkouts)) if i % 2 == 0 else list(enumerate(checkouts))[::-1]
            for k, checkout in order:
                wall, used = _measured(functools.partial(fn, checkout))
                runs[k].append(wall)
                cpu[k].append(used)
        rows.append((name, [_stats(r, c) for r, c in zip(runs, cpu, strict=True)]))

    def fresh(name: str) -> Path:
        path = tmp / name
        _remove(path)
        return path

    made = iter(range(1_000_000))

    def uv_sync(
        cold: bool, requirements: Path = reqs, new_dir: bool = False, compile_bytecode: bool = False
    ) -> Callable[[], float]:
        def run() -> float:
            venv = fresh(f"uv-venv-{next(made)}" if new_dir else "uv-venv")
            cache = fresh("uvcache-u") if cold else tmp / "uvcache-u"
            return _time(
                [
                    [uv, "venv", "-q", "--python", py, str(venv)],
                    [uv, "pip", "sync", "-q", "--python", str(venv / "bin" / "python"), "--require-hashes",
                     *(["--compile-bytecode"] if compile_bytecode else []), str(requirements)],
                ],
                _env(tmp, cache),
            )  # fmt: skip

        return run

    def pip_install() -> float:
        venv = fresh("pip-venv")
        return _time(
            [
                [sys.executable, "-m", "venv", "--without-pip", str(venv)],
                [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                 "--no-deps", "--require-hashes", "-r", str(reqs)],
            ],
            _env(tmp, tmp / "uvcache-p"),
        )  # fmt: skip

    def bare_python() -> float:
        return _time([[sys.executable, "-c", "pass"]], _env(tmp, tmp / "uvcache-p"))

    for checkout in checkouts:  # warms the OS page cache and writes Python bytecode
        checkout.cold()
        checkout.concurrent(1, fresh_store=True)
    rows.append(("python -c pass (interpreter start-up alone)", [_median(bare_python, args.repeat)]))
    envlock_row("envlock install, cold (empty store, empty uv cache)", Envlock.cold)
    envlock_row("envlock install, warm (artifacts + uv cache, env not built)", Envlock.warm)
    envlock_row(
        "envlock install into a new store, another store holds the files, warm uv cache", Envlock.new_store
    )
    envlock_row("envlock install, store hit", Envlock.hit)
    envlock_row("envlock run, store hit (`-- true`)", Envlock.run_hit)
    rows.append(("uv venv + uv pip sync, cold uv cache", [_median(uv_sync(True), args.repeat)]))
    uv_sync(False)()
    rows.append(("uv venv + uv pip sync, warm uv cache", [_median(uv_sync(False), args.repeat)]))
    rows.append(("uv venv + uv pip sync --compile-bytecode, warm uv cache (the work envlock does)",
                 [_median(uv_sync(False, compile_bytecode=True), args.repeat)]))  # fmt: skip
    rows.append(("uv venv + uv pip sync of the same local files, warm uv cache",
                 [_median(uv_sync(False, local_reqs), args.repeat)]))  # fmt: skip
    rows.append(("the same, into a new directory each time (uv queries the new venv's python)",
                 [_median(uv_sync(False, local_reqs, new_dir=True), args.repeat)]))  # fmt: skip
    rows.append(("python -m venv + pip install --require-hashes", [_median(pip_install, args.repeat)]))
    for n in (1, 8, 16):
        envlock_row(
            f"{n} concurrent envlock installs of one lock, fresh store",
            functools.partial(Envlock.concurrent, n=n, fresh_store=True),
        )
    envlock_row(
        "16 concurrent envlock store hits (start-up floor of 16 processes)",
        lambda c: c.concurrent(16, fresh_store=False),
    )
    if not args.no_imports:
        rows.extend((label, [stats]) for label, stats in imports_part(tmp, server.url, args.repeat))
    server.close()
    _remove(tmp)
    load_after = os.getloadavg()

    size_mb = args.packages * args.kib / 1024
    header = "| scenario | median s | min s | CPU s |"
    rule = "|---|---:|---:|---:|"
    if args.baseline is not None:
        header += " baseline median s | baseline min s | baseline CPU s |"
        rule += "---:|---:|---:|"
    lines = [
        f"{args.packages} wheels x {args.kib} KiB ({size_mb:.1f} MB), served on 127.0.0.1; "
        f"{args.repeat} runs each; Python {py}; {len(os.sched_getaffinity(0))} CPUs"
        + (f"; baseline: {args.baseline}" if args.baseline is not None else "")
        + f"; load average (1 / 5 / 15 min) before {_load(load_before)}, after {_load(load_after)}",
        "",
        header,
        rule,
        *[
            f"| {name} | "
            + " | ".join(
                f"{med:.3f} | {low:.3f} | " + ("" if math.isnan(cpu) else f"{cpu:.3f}")
                for med, low, cpu in stats
            )
            + " |" * (1 + 3 * (len(checkouts) - len(stats)))
            for name, stats in rows
        ],
    ]
    lines += ["", *_aims({name: stats[0] for name, stats in rows})]
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n")
    return 0


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


def _aims(medians: dict[str, Stats]) -> list[str]:
    """The issue's aims, read from this run's medians (this checkout's columns)."""

    def med(prefix: str) -> float:
        return next(stats[0] for name, stats in medians.items() if name.startswith(prefix))

    out = ["| aim | measured (medians) | met |", "|---|---|---|"]
    hit = med("envlock install, store hit")
    out.append(f"| store hit < 0.2 s | {hit:.3f} s | {'yes' if hit < 0.2 else 'no'} |")
    one, sixteen = med("1 concurrent"), med("16 concurrent envlock installs")
    cpu_one, cpu_sixteen = (
        next(stats[2] for name, stats in medians.items() if name.startswith(prefix))
        for prefix in ("1 concurrent", "16 concurrent envlock installs")
    )
    ratio = sixteen / one
    verdict = "yes" if ratio <= 1.3 else "no"
    out.append(f"| 16 concurrent installs within 1.3x of one | {sixteen:.3f} / {one:.3f} s = {ratio:.2f}x "
               f"(CPU {cpu_sixteen:.3f} / {cpu_one:.3f} s) | {verdict} |")  # fmt: skip
    new, uv = med("envlock install into a new store"), med("uv venv + uv pip sync, warm uv cache")
    out.append(f"| new store, warm, within 1.3x of uv warm | {new:.3f} / {uv:.3f} s = {new / uv:.2f}x | "
               f"{'yes' if new / uv <= 1.3 else 'no'} |")  # fmt: skip
    for kind in ("imports of", "CPU time of those imports"):
        imports = [stats[0] for name, stats in medians.items() if name.startswith(kind)]
        if imports:
            store, compiled = imports[0], imports[1]
            what = kind.split(" of")[0]
            out.append(f"| {what} in a store env within 1.1x of a `--compile-bytecode` venv | "
                       f"{store:.3f} / {compiled:.3f} s = {store / compiled:.2f}x | "
                       f"{'yes' if store / compiled <= 1.1 else 'no'} |")  # fmt: skip
    return out


if __name__ == "__main__":
    raise SystemExit(main())
