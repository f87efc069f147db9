"""Benchmark `envlock solve` against `uv pip compile` and `pip-compile`, and envlock's start-up.

    python bench/bench_solve.py [--quick] [--no-real] [--runs N] [--markdown FILE]

Every figure is the wall time of one whole process (start-up included), measured here with
`time.perf_counter` around `subprocess.run`; each row gives the median, min and max of its runs.

Two specs:

* fixture: the test suite's fixture indexes (`fixtures/server.py`, on 127.0.0.1 and a free port),
  `torch>=2.5,<2.8` + torchvision + numpy<2, for 1, 3 and 6 targets.
* real, from the default index of the user's pip/uv configuration (named to every tool explicitly)
  with `[indexes] pytorch = false` (like `examples/quickstart`), one H100 node (x86_64):
  `torch==2.5.1` (driver 550.54.15); torch 2.9 + numpy (26 packages) and torch 2.9 + transformers,
  datasets, scipy, pandas, scikit-learn, matplotlib, accelerate, pyarrow, tensorboard, statsmodels,
  evaluate (99 packages), both on driver 575.51.03. Needs the network; `--no-real` skips them.

envlock uses a cached index page without asking for 10 minutes when the index sends no validators
(the real default index sends none), so its warm rows read no page; the `--refresh` row asks for
every page again, as a solve after that window does.

"cold" empties every cache the tool uses before each run (envlock's HTTP cache and uv's cache for
envlock; uv's cache for uv; pip's and pip-tools' caches for pip-compile); "warm" runs after one
uncounted identical run that filled them. Every row starts with that uncounted run, so Python's
bytecode cache (kept in the benchmark's temporary folder) is always warm, as after any install.
The output file is deleted before every run (uv and pip-compile read an existing output as
preferences).

For one target, envlock's work is compared with the same work done by hand for the one variant
envlock locked: `uv pip compile` with the same Python, `--python-platform`, default index and
exclude-newer, the torch family pinned to the variant index through an explicit `[[tool.uv.index]]`
and `[tool.uv.sources]` (as envlock does), in plain requirements format (what envlock asks uv
for) and in `--format pylock.toml` (which makes uv hash every file its index gives no hash for).
`pip-compile --generate-hashes` gets the variant index as `--extra-index-url`: pip merges all
indexes, so it may pick a build from another index; it resolves for this host only.

Every tool is isolated from this machine's configuration: no `PIP_*`, `UV_*` or `ENVLOCK_*`
variables, `PIP_CONFIG_FILE` set to the null device, `UV_NO_CONFIG=1`, caches in a temporary
directory. envlock runs from this checkout (its root first on `PYTHONPATH`), whichever envlock is
installed. Index URLs are never printed: failures print the tool's output with them replaced.

The table (with the load average before and after the run and the aims read from its medians) is
printed and written to bench/results/solve.md (or --markdown FILE).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "solve.md"
sys.path.insert(0, str(REPO))

from envlock._toml import loads as toml_loads  # noqa: E402  (after the sys.path line)

EXCLUDE_NEWER = "2026-11-01T00:00:00Z"
TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
FIXTURE_DEPS = ("torch>=2.5,<2.8", "torchvision", "numpy<2")
REAL_DEPS = ("torch==2.5.1",)
REAL_26_DEPS = ("torch==2.9.*", "numpy")
REAL_99_DEPS = (
    "torch==2.9.*",
    "transformers",
    "datasets",
    "scipy",
    "pandas",
    "scikit-learn",
    "matplotlib",
    "accelerate",
    "pyarrow",
    "tensorboard",
    "statsmodels",
    "evaluate",
)
PYTHON = "3.11"
UV_PLATFORM = "x86_64-manylinux_2_28"  # envlock's linux-x86_64 with its default glibc 2.28

Target = dict[str, object]
H100: Target = {"name": "h100", "platform": "linux-x86_64", "gpus": ["H100"], "driver": "550.54.15"}
H100_575: Target = {"name": "h100", "platform": "linux-x86_64", "gpus": ["H100"], "driver": "575.51.03"}
THREE: list[Target] = [
    {"name": "x86-a100-h100", "platform": "linux-x86_64", "gpus": ["A100", "H100"], "driver": "550.54.15"},
    {"name": "gh200", "platform": "linux-aarch64", "gpus": ["GH200"], "driver": "570.86.10"},
    {"name": "ci", "platform": "linux-x86_64"},
]
SIX: list[Target] = [
    *THREE,
    {"name": "rtx5090", "platform": "linux-x86_64", "gpus": ["GeForce RTX 5090"], "driver": "575.51.03"},
    {"name": "l40s", "platform": "linux-x86_64", "gpus": ["L40S"], "driver": "535.104.05"},
    {"name": "windows", "platform": "windows-amd64"},
]


# ------------------------------------------------------------------------------------ helpers


@dataclass(slots=True)
class Row:
    """One measured scenario."""

    label: str
    times: list[float] = field(default_factory=list)
    note: str = ""

    def cells(self) -> tuple[str, str, str, str]:
        if not self.times:
            return ("-", "-", "-", "0")
        return (
            f"{statistics.median(self.times):.3f}",
            f"{min(self.times):.3f}",
            f"{max(self.times):.3f}",
            str(len(self.times)),
        )


class BenchError(Exception):
    """A benchmarked command failed; the message carries its (redacted) output."""


class Bench:
    """Runs whole commands in an isolated environment and keeps the rows."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.caches = work / "caches"
        self.secrets: list[str] = []  # URLs never to print
        self.rows: list[Row] = []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "ENVLOCK_"))}
        # Python's compiled bytecode stays cached between runs, as in any pip install, even where
        # the machine sets PYTHONDONTWRITEBYTECODE; it goes to a private folder, not the checkout.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(self.work / "pycache")
        # The interpreter running this script first on PATH, as in an activated virtual
        # environment: uv looks for a Python on PATH, and a version manager's shim found first
        # there would add its own start-up to every uv run (see bench/README.md).
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        # This checkout's envlock, not whichever one is installed beside the interpreter.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
        no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
        env.update(
            PIP_CONFIG_FILE=os.devnull,
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            UV_NO_CONFIG="1",
            UV_NO_PROGRESS="1",
            UV_CACHE_DIR=str(self.caches / "uv"),
            ENVLOCK_CACHE_DIR=str(self.caches / "envlock"),
            XDG_CACHE_HOME=str(self.caches / "xdg"),
            NO_PROXY=no_proxy,
            no_proxy=no_proxy,
        )
        return env

    def clear_caches(self) -> None:
        shutil.rmtree(self.caches, ignore_errors=True)
        self.caches.mkdir(parents=True)

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "<index>").replace(secret.rstrip("/"), "<index>")
        return text

    def run_once(self, cmd: Sequence[str], cwd: Path, output: Path | None) -> float:
        if output is not None:
            output.unlink(missing_ok=True)
        start = time.perf_counter()
        proc = subprocess.run(
            list(cmd), cwd=cwd, env=self.env(), stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            shown = " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))
            raise BenchError(self.redact(f"`{shown}` exited {proc.returncode}:\n{proc.stderr}{proc.stdout}"))
        return elapsed

    def measure(
        self,
        label: str,
        cmd: Sequence[str],
        cwd: Path,
        *,
        cold: bool,
        runs: int,
        output: Path | None = None,
        note: str = "",
        tolerate: bool = False,
    ) -> Row:
        """Time `cmd`; with `tolerate`, a failing command gives a row marked failed, not an error."""
        row = Row(label=label, note=note)
        self.rows.append(row)
        try:
            self.clear_caches()
            self.run_once(cmd, cwd, output)  # fills the caches (and the bytecode cache); not counted
            for _ in range(runs):
                if cold:
                    self.clear_caches()
                row.times.append(self.run_once(cmd, cwd, output))
        except BenchError as err:
            if not tolerate:
                raise
            row.times.clear()
            row.note = "failed: see the error output"
            print(f"  {label}: FAILED\n{err}", file=sys.stderr, flush=True)
            return row
        print(f"  {label}: median {row.cells()[0]} s", file=sys.stderr, flush=True)
        return row

    def section(self, title: str) -> None:
        self.rows.append(Row(label=f"**{title}**"))


def script(name: str) -> str | None:
    """A console script installed beside this interpreter (not a shell shim found on PATH)."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else shutil.which(name)


def envlock_cmd(*args: str) -> list[str]:
    exe = script("envlock")
    return [exe, *args] if exe else [sys.executable, "-m", "envlock", *args]


def uv_cmd() -> str:
    from envlock.resolvers.uv import uv_binary

    return uv_binary()


def toml_str(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_str(v) for v in value) + "]"
    raise TypeError(value)


def write_spec(
    path: Path,
    *,
    deps: Sequence[str],
    targets: Sequence[Target],
    default: str | None,
    pytorch: str | None,
) -> Path:
    lines = ["[env]", 'name = "bench"', f'python = "{PYTHON}"', f"dependencies = {toml_str(list(deps))}"]
    for target in targets:
        lines += ["", "[[target]]"] + [f"{k} = {toml_str(v)}" for k, v in target.items()]
    lines += ["", "[indexes]"]
    if default is not None:
        lines.append(f"default = {toml_str(default)}")
    lines.append(f"pytorch = {toml_str(pytorch)}" if pytorch else "pytorch = false")
    lines += ["", "[resolution]", f'exclude-newer = "{EXCLUDE_NEWER}"']
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_uv_project(directory: Path, deps: Sequence[str], variant_index: str | None) -> None:
    """The project `uv pip compile` reads: the torch family pinned to an explicit variant index."""
    lines = [
        "[project]",
        'name = "bench"',
        'version = "0"',
        f'requires-python = ">={PYTHON}"',
        f"dependencies = {toml_str(list(deps))}",
    ]
    if variant_index is not None:
        lines += ["", "[[tool.uv.index]]", 'name = "variant"', f"url = {toml_str(variant_index)}"]
        lines += ["explicit = true", "", "[tool.uv.sources]"]
        lines += [f'{name} = {{ index = "variant" }}' for name in TORCH_FAMILY]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def uv_compile(default: str, fmt: str, output: str, pinned: bool, hashes: bool = False) -> list[str]:
    cmd = [uv_cmd(), "pip", "compile", "pyproject.toml", "--no-config", "--quiet", "--no-header"]
    if hashes:
        cmd.append("--generate-hashes")
    cmd += ["--python-version", PYTHON, "--python-platform", UV_PLATFORM, "--no-build"]
    cmd += ["--default-index", default, "--exclude-newer", EXCLUDE_NEWER]
    if pinned:
        for name in TORCH_FAMILY:
            cmd += ["--exclude-newer-package", f"{name}=false"]
    cmd += ["--format", fmt, "-o", output]
    return cmd


def pip_compile(
    bench: Bench, directory: Path, deps: Sequence[str], index: str, extra: str | None
) -> list[str]:
    (directory / "requirements.in").write_text("\n".join(deps) + "\n", encoding="utf-8")
    exe = script("pip-compile")
    if exe is None:
        raise BenchError("pip-compile is not installed (pip install pip-tools)")
    cmd = [exe, "--generate-hashes", "--quiet", "--no-header", "--strip-extras"]
    cmd += ["--cache-dir", str(bench.caches / "pip-tools")]
    cmd += ["--pip-args", f"--cache-dir {bench.caches / 'pip'}"]
    cmd += ["--index-url", index]
    if extra:
        cmd += ["--extra-index-url", extra]
    cmd += ["-o", "requirements.txt", "requirements.in"]
    return cmd


def locked_variant(lock: Path) -> str:
    data = toml_loads(lock.read_text(encoding="utf-8"))
    return str(data["targets"][0]["variant"])


# ---------------------------------------------------------------------------------- scenarios


def fixture_part(bench: Bench, cold_runs: int, warm_runs: int, with_pip_compile: bool) -> None:
    from fixtures.server import FixtureIndexServer

    server = FixtureIndexServer(bench.work / "fixture-index", port=0)
    server.start()
    bench.secrets += [server.base, server.default, server.pytorch]
    try:
        default, pytorch = server.default, server.pytorch
        bench.section("fixture spec (local fixture indexes): torch>=2.5,<2.8, torchvision, numpy<2")
        specs = {
            n: write_spec(
                bench.work / f"fixture-{n}" / "envlock.toml",
                deps=FIXTURE_DEPS,
                targets=targets,
                default=default,
                pytorch=pytorch,
            )
            for n, targets in ((1, [H100]), (3, THREE), (6, SIX))
        }
        for n, spec in specs.items():
            cmd = envlock_cmd("solve", "-s", spec.name, "-o", "envlock.lock")
            lock = spec.parent / "envlock.lock"
            for cold in (True, False):
                bench.measure(
                    f"envlock solve, {n} target{'s' if n > 1 else ''}, {'cold' if cold else 'warm'}",
                    cmd,
                    spec.parent,
                    cold=cold,
                    runs=cold_runs if cold else warm_runs,
                    output=lock,
                )
        variant = locked_variant(specs[1].parent / "envlock.lock")
        index = server.variant(variant)
        bench.secrets.append(index)
        uv_dir = bench.work / "fixture-uv"
        write_uv_project(uv_dir, FIXTURE_DEPS, index)
        for fmt, out in (("requirements.txt", "requirements.txt"), ("pylock.toml", "pylock.toml")):
            for cold in (True, False):
                bench.measure(
                    f"uv pip compile `{fmt}`, {variant} only, {'cold' if cold else 'warm'}",
                    uv_compile(default, fmt, out, pinned=True),
                    uv_dir,
                    cold=cold,
                    runs=cold_runs if cold else warm_runs,
                    output=uv_dir / out,
                )
        if with_pip_compile:
            pc_dir = bench.work / "fixture-pip-compile"
            pc_dir.mkdir(parents=True, exist_ok=True)
            for cold in (True, False):
                label = (
                    f"pip-compile --generate-hashes, + {variant} index, host, {'cold' if cold else 'warm'}"
                )
                bench.measure(
                    label,
                    pip_compile(bench, pc_dir, FIXTURE_DEPS, default, index),
                    pc_dir,
                    cold=cold,
                    runs=cold_runs if cold else warm_runs,
                    output=pc_dir / "requirements.txt",
                    tolerate=True,
                )
    finally:
        server.stop()


def real_part(bench: Bench, cold_runs: int, warm_runs: int, pip_compile_runs: int) -> None:
    # The default index of the user's own pip/uv configuration (this shell's environment and
    # files), named explicitly to every tool: the tools themselves run isolated from the rest of
    # that configuration (extra indexes, find-links), which would otherwise be measured too.
    user_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from envlock.index.config import default_index_url; print(default_index_url(None))",
        ],
        env=user_env,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    default = probe.stdout.strip()
    bench.secrets.append(default)
    specs = (
        ("real", "torch==2.5.1 for an H100, driver 550.54.15", REAL_DEPS, H100, pip_compile_runs),
        (
            "real-26",
            "torch 2.9 + numpy (26 packages) for an H100, driver 575.51.03",
            REAL_26_DEPS,
            H100_575,
            0,
        ),
        ("real-99", "torch 2.9 + transformers, datasets, ... (99 packages)", REAL_99_DEPS, H100_575, 0),
    )
    for key, title, deps, target, pc_runs in specs:
        real_spec_part(bench, key, title, deps, target, default, cold_runs, warm_runs, pc_runs)


def real_spec_part(
    bench: Bench,
    key: str,
    title: str,
    deps: Sequence[str],
    target: Target,
    default: str,
    cold_runs: int,
    warm_runs: int,
    pip_compile_runs: int,
) -> None:
    bench.section(f"real spec (the default index, network): {title}")
    spec = write_spec(
        bench.work / key / "envlock.toml", deps=deps, targets=[target], default=default, pytorch=None
    )
    for cold in (True, False):
        bench.measure(
            f"envlock solve, 1 target, {'cold' if cold else 'warm'}",
            envlock_cmd("solve", "-s", spec.name, "-o", "envlock.lock"),
            spec.parent,
            cold=cold,
            runs=cold_runs if cold else warm_runs,
            output=spec.parent / "envlock.lock",
        )
    bench.measure(
        "envlock solve --refresh, 1 target, warm",
        envlock_cmd("solve", "-s", spec.name, "-o", "envlock.lock", "--refresh"),
        spec.parent,
        cold=False,
        runs=warm_runs,
        output=spec.parent / "envlock.lock",
    )
    uv_dir = bench.work / f"{key}-uv"
    write_uv_project(uv_dir, deps, None)
    for fmt, out, hashes in (
        ("requirements.txt", "requirements.txt", False),
        ("requirements.txt", "requirements.txt", True),
        ("pylock.toml", "pylock.toml", False),
    ):
        for cold in (True, False):
            shown = "`--generate-hashes`" if hashes else f"`{fmt}`"
            bench.measure(
                f"uv pip compile {shown}, {'cold' if cold else 'warm'}",
                uv_compile(default, fmt, out, pinned=False, hashes=hashes),
                uv_dir,
                cold=cold,
                runs=cold_runs if cold else warm_runs,
                output=uv_dir / out,
            )
    if pip_compile_runs:
        pc_dir = bench.work / f"{key}-pip-compile"
        pc_dir.mkdir(parents=True, exist_ok=True)
        for cold in (True, False):
            label = f"pip-compile --generate-hashes, host, {'cold' if cold else 'warm'}"
            bench.measure(
                label,
                pip_compile(bench, pc_dir, deps, default, None),
                pc_dir,
                cold=cold,
                runs=pip_compile_runs,
                output=pc_dir / "requirements.txt",
                tolerate=True,
            )


def startup_part(bench: Bench, runs: int) -> None:
    bench.section("start-up (whole process)")
    bench.measure("envlock --help", envlock_cmd("--help"), REPO, cold=False, runs=runs)
    bench.measure(
        "envlock check -s locks/cluster/envlock.toml",
        envlock_cmd("check", "-s", "locks/cluster/envlock.toml"),
        REPO,
        cold=False,
        runs=runs,
    )
    bench.measure("uv --version", [uv_cmd(), "--version"], REPO, cold=False, runs=runs)
    bench.measure(
        "python -c pass (interpreter floor)", [sys.executable, "-c", "pass"], REPO, cold=False, runs=runs
    )


# -------------------------------------------------------------------------------------- main


def table(bench: Bench, header: str) -> str:
    lines = [header, "", "| scenario | median s | min s | max s | runs |", "|---|---:|---:|---:|---:|"]
    for row in bench.rows:
        if row.label.startswith("**"):
            lines.append(f"| {row.label} | | | | |")
            continue
        median, low, high, n = row.cells()
        label = f"{row.label} ({row.note})" if row.note else row.label
        lines.append(f"| {label} | {median} | {low} | {high} | {n} |")
    return "\n".join(lines) + "\n"


def aims(bench: Bench) -> str:
    """The solve aims, read from this run's medians: per real spec, envlock's warm and cold solve
    against `uv pip compile --generate-hashes` on the same inputs (within 1.5x warm, 1.3x cold)."""
    lines = ["", "| aim | envlock / uv (medians) | met |", "|---|---|---|"]
    section = ""
    found: dict[str, float] = {}

    def flush() -> None:
        for kind, limit in (("warm", 1.5), ("cold", 1.3)):
            ours, theirs = found.get(f"envlock {kind}"), found.get(f"uv {kind}")
            if ours is None or theirs is None:
                continue
            ratio = ours / theirs
            lines.append(
                f"| {section}: {kind} solve within {limit}x of `uv pip compile --generate-hashes` | "
                f"{ours:.3f} / {theirs:.3f} s = {ratio:.2f}x | {'yes' if ratio <= limit else 'no'} |"
            )

    for row in bench.rows:
        if row.label.startswith("**"):
            flush()
            section, found = row.label.strip("*"), {}
        elif row.times and row.label.startswith("envlock solve, 1 target, "):
            found["envlock " + row.label.rsplit(" ", 1)[1]] = statistics.median(row.times)
        elif row.times and row.label.startswith("uv pip compile `--generate-hashes`, "):
            found["uv " + row.label.rsplit(" ", 1)[1]] = statistics.median(row.times)
    flush()
    return "\n".join(lines) + "\n" if len(lines) > 3 else ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 cold and 3 warm runs; no pip-compile on the real spec"
    )
    parser.add_argument("--no-real", action="store_true", help="skip the real spec (no network needed)")
    parser.add_argument("--no-pip-compile", action="store_true", help="skip pip-compile everywhere")
    parser.add_argument("--no-fixture", action="store_true", help="skip the fixture spec (real specs only)")
    parser.add_argument("--runs", type=int, default=None, help="warm runs per row (default 5; cold: 3)")
    parser.add_argument(
        "--markdown",
        metavar="FILE",
        default=str(RESULTS),
        help=f"write the table to FILE (default {RESULTS})",
    )
    args = parser.parse_args(argv)
    cold_runs, warm_runs = (1, 3) if args.quick else (3, 5)
    if args.runs:
        warm_runs, cold_runs = args.runs, max(1, args.runs // 2 + 1)
    with_pip_compile = not args.no_pip_compile
    if with_pip_compile and script("pip-compile") is None:
        print("pip-compile is not installed (pip install pip-tools): its rows are left out", file=sys.stderr)
        with_pip_compile = False
    before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="envlock-bench-solve-") as tmp:
        bench = Bench(Path(tmp))
        startup_part(bench, max(warm_runs, 10))
        if not args.no_fixture:
            fixture_part(bench, cold_runs, warm_runs, with_pip_compile=with_pip_compile)
        if not args.no_real:
            pc_runs = 1 if with_pip_compile and not args.quick else 0
            real_part(bench, cold_runs, warm_runs, pc_runs)
    load = os.getloadavg()
    header = (
        f"envlock solve benchmark: Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, uv {uv_version_text()}, load average before / after the run "
        f"{before[0]:.2f} / {before[1]:.2f} / {before[2]:.2f} and "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min)"
    )
    text = table(bench, header) + aims(bench)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    return 0


def uv_version_text() -> str:
    out = subprocess.run([uv_cmd(), "--version"], capture_output=True, text=True, check=False).stdout
    return out.split()[1] if len(out.split()) > 1 else "?"


if __name__ == "__main__":
    sys.exit(main())
