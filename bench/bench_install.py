"""Benchmark `envlock install` against `uv pip sync` and `pip install --require-hashes` on the same files.

Builds N fixture wheels, serves them on 127.0.0.1, writes a lock (and the same set as hashed
requirements), then times, as whole commands in fresh processes:

* envlock install: cold (empty store and uv cache), warm (artifacts + uv cache present, env not
  built), store hit (the environment exists);
* `uv venv` + `uv pip sync` (cold / warm uv cache), `python -m venv` + `pip install --require-hashes`;
* 1, 8 and 16 concurrent `envlock install` of one lock into one fresh store (warm uv cache), and
  16 concurrent store hits (what 16 Python processes cost here before any install work);
* `python -c pass`: this interpreter's start-up alone (site-packages `.pth` files included).

Every command runs with byte-compiled modules, as an installed envlock has: the benchmark drops
PYTHONDONTWRITEBYTECODE and points PYTHONPYCACHEPREFIX at its temporary directory (the first,
untimed run writes the `.pyc` files). uv is the binary envlock itself runs.

Usage: python bench/bench_install.py [--packages 30] [--kib 256] [--repeat 3] [--markdown FILE]
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
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "install"))

from lockmaker import FileServer, TargetDef, make_lock  # noqa: E402 -- paths set just above

from envlock.lock.toml import load_lock  # noqa: E402
from envlock.materialize.uvinstall import uv_binary  # noqa: E402


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


def _time(cmds: list[list[str]], env: dict[str, str]) -> float:
    start = time.perf_counter()
    for cmd in cmds:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return time.perf_counter() - start


def _median(fn: Callable[[], float], repeat: int) -> tuple[float, float]:
    """(median, min) of `repeat` runs: on a shared machine the minimum is the least disturbed run."""
    runs = [fn() for _ in range(repeat)]
    return statistics.median(runs), min(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packages", type=int, default=30)
    ap.add_argument("--kib", type=int, default=256, help="payload per wheel")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--markdown", type=Path, default=None, help="write the table to this file")
    args = ap.parse_args()

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
    envlock = [sys.executable, "-m", "envlock"]
    uv = uv_binary()
    rows: list[tuple[str, tuple[float, float]]] = []

    def fresh(name: str) -> Path:
        path = tmp / name
        shutil.rmtree(path, ignore_errors=True)
        return path

    def envlock_cold() -> float:
        store, cache = fresh("store"), fresh("uvcache-e")
        return _time([[*envlock, "install", "-l", str(lock_path), "--store", str(store)]], _env(tmp, cache))

    def envlock_warm() -> float:
        store, cache = tmp / "store", tmp / "uvcache-e"
        shutil.rmtree(store / "v1" / "envs", ignore_errors=True)
        shutil.rmtree(store / "v1" / "roots", ignore_errors=True)
        return _time([[*envlock, "install", "-l", str(lock_path), "--store", str(store)]], _env(tmp, cache))

    def envlock_hit() -> float:
        store, cache = tmp / "store", tmp / "uvcache-e"
        return _time([[*envlock, "install", "-l", str(lock_path), "--store", str(store)]], _env(tmp, cache))

    made = iter(range(1_000_000))

    def uv_sync(cold: bool, requirements: Path = reqs, new_dir: bool = False) -> Callable[[], float]:
        def run() -> float:
            venv = fresh(f"uv-venv-{next(made)}" if new_dir else "uv-venv")
            cache = fresh("uvcache-u") if cold else tmp / "uvcache-u"
            return _time(
                [
                    [uv, "venv", "-q", "--python", py, str(venv)],
                    [uv, "pip", "sync", "-q", "--python", str(venv / "bin" / "python"), "--require-hashes",
                     str(requirements)],
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

    envlock_cold()  # first run warms the OS page cache and writes Python bytecode

    def bare_python() -> float:
        return _time([[sys.executable, "-c", "pass"]], _env(tmp, tmp / "uvcache-p"))

    rows.append(("python -c pass (interpreter start-up alone)", _median(bare_python, args.repeat)))
    rows.append(("envlock install, cold (empty store, empty uv cache)", _median(envlock_cold, args.repeat)))
    rows.append(
        ("envlock install, warm (artifacts + uv cache, env not built)", _median(envlock_warm, args.repeat))
    )
    rows.append(("envlock install, store hit", _median(envlock_hit, args.repeat)))
    rows.append(("envlock run, store hit (`-- true`)", _median(
        lambda: _time([[*envlock, "run", "-l", str(lock_path), "--store", str(tmp / "store"), "--", "true"]],
                      _env(tmp, tmp / "uvcache-e")), args.repeat)))  # fmt: skip
    rows.append(("uv venv + uv pip sync, cold uv cache", _median(uv_sync(True), args.repeat)))
    uv_sync(False)()
    rows.append(("uv venv + uv pip sync, warm uv cache", _median(uv_sync(False), args.repeat)))
    rows.append(("uv venv + uv pip sync of the same local files, warm uv cache",
                 _median(uv_sync(False, local_reqs), args.repeat)))  # fmt: skip
    rows.append(("the same, into a new directory each time (uv queries the new venv's python)",
                 _median(uv_sync(False, local_reqs, new_dir=True), args.repeat)))  # fmt: skip
    rows.append(("python -m venv + pip install --require-hashes", _median(pip_install, args.repeat)))

    for n in (1, 8, 16):

        def concurrent(n: int = n) -> float:
            store = fresh("store-conc")
            env = _env(tmp, tmp / "uvcache-e")
            cmd = [*envlock, "install", "-l", str(lock_path), "--store", str(store)]
            start = time.perf_counter()
            procs = [
                subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for _ in range(n)
            ]
            codes = [p.wait() for p in procs]
            elapsed = time.perf_counter() - start
            assert codes == [0] * n, codes
            assert (store / "v1" / "builds.log").read_text().count("published") == 1
            return elapsed

        rows.append(
            (f"{n} concurrent envlock installs of one lock, fresh store", _median(concurrent, args.repeat))
        )

    def concurrent_hits(n: int = 16) -> float:
        env = _env(tmp, tmp / "uvcache-e")
        cmd = [*envlock, "install", "-l", str(lock_path), "--store", str(tmp / "store-conc")]
        start = time.perf_counter()
        procs = [
            subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(n)
        ]
        codes = [p.wait() for p in procs]
        assert codes == [0] * n, codes
        return time.perf_counter() - start

    rows.append(
        (
            "16 concurrent envlock store hits (start-up floor of 16 processes)",
            _median(concurrent_hits, args.repeat),
        )
    )
    server.close()
    shutil.rmtree(tmp, ignore_errors=True)

    size_mb = args.packages * args.kib / 1024
    lines = [
        f"{args.packages} wheels x {args.kib} KiB ({size_mb:.1f} MB), served on 127.0.0.1; "
        f"median of {args.repeat}; Python {py}; {len(os.sched_getaffinity(0))} CPUs",
        "",
        "| scenario | median s | min s |",
        "|---|---:|---:|",
        *[f"| {name} | {med:.3f} | {low:.3f} |" for name, (med, low) in rows],
    ]
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
