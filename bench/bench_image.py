"""Benchmark `envlock image`: layer building against `tar | gzip -6` (and `zstd -T0`) of the same tree,
the first image of a large environment, and a warm rebuild with one package changed.

Builds fixture wheels whose files add up to `--mb` MiB (a torch-like package holding half, two
nvidia-* packages a quarter each... and 30 small ones), with contents that compress about as well as
shared libraries do (half random bytes, half repeated text), serves them on 127.0.0.1, locks them
for this interpreter's Python, and installs the target once into a fresh store. Then, side by side:

* `tar -cf - ENV | gzip -6 > /dev/null` and `tar -cf - ENV | zstd -T0 > /dev/null` of the installed env;
* envlock's layer writer over the same tree (every layer, in threads, into a fresh blob area);
* `envlock image` cold (environment installed, no layers in the store) onto the Debian test base;
* `envlock image` warm, after one small package changed version: layers re-tarred vs reused.

Needs root, debootstrap, umoci and skopeo for the base (tests/image/debian_base.py, cached).
Usage: python bench/bench_image.py [--mb 1000] [--repeat 3] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "install"))
sys.path.insert(0, str(ROOT / "tests" / "image"))

from debian_base import build_base  # noqa: E402  # after the sys.path lines above
from lockmaker import FileServer, TargetDef, make_lock  # noqa: E402  # after the sys.path lines above

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def _payload(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    text = b"".join(b"symbol_%08d_cuda_kernel_launch_%d\n" % (rng.randrange(10**8), i) for i in range(4096))
    out = io.BytesIO()
    while out.tell() < size:
        out.write(rng.randbytes(64 * 1024))
        out.write(text[: 64 * 1024])
    return out.getvalue()[:size]


def _files(name: str, total: int, seed: int) -> dict[str, bytes]:
    module = name.replace("-", "_")
    count = max(1, total // (16 << 20))
    each = total // count
    files = {f"{module}/lib/part{i}.so": _payload(each, seed * 1000 + i) for i in range(count)}
    files[f"{module}/__init__.py"] = b'__version__ = "1"\n'
    return files


def _timed(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]  # a zero-argument callable
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _envlock(args: list[str], store: Path) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), ENVLOCK_STORE=str(store))
    done = subprocess.run(
        [sys.executable, "-m", "envlock", *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    doc: dict[str, object] = json.loads(done.stdout)
    return doc


def _layer_writer_seconds(lock_path: Path, store: Path, env_dir: Path, repeat: int) -> float:
    """envlock's layer writer over `env_dir`, every layer, into a fresh blob area each run."""
    from envlock.image.build import ImageRequest, build_layers
    from envlock.image.ref import parse_ref
    from envlock.index.registry import RegistryAccess
    from envlock.lock.read import load_lock
    from envlock.progress import Silent
    from envlock.store.layout import StoreLayout

    lock = load_lock(lock_path)
    layout = StoreLayout(root=store)
    request = ImageRequest(
        lock=lock,
        target=lock.targets[0],
        store=layout,
        base=parse_ref("scratch", option="--base", allow_scratch=True),
        dest=store / "unused",
        tag=None,
        access=RegistryAccess(),
    )

    def once() -> None:
        shutil.rmtree(layout.base / "oci", ignore_errors=True)
        build_layers(request, env_dir, f"/usr/bin/python{PYTHON}", Silent(), single=False)

    return _timed(once, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", type=Path, default=None)
    opts = parser.parse_args()
    base = build_base()
    if base.python != PYTHON:
        raise SystemExit(f"run with Python {base.python} (the Debian base's python3)")
    total = opts.mb << 20
    tmp = Path(tempfile.mkdtemp(prefix="envlock-bench-image-"))
    server = None
    try:
        wheels = tmp / "wheels"
        big = [
            ("torch", "2.5.1", total // 2),
            ("nvidia-cudnn-cu12", "9.1.0.70", total // 4),
            ("nvidia-nccl-cu12", "2.21.5", total // 4),
        ]
        small = [(f"small{i:02d}", "1.0") for i in range(30)]
        payloads = {name: _files(name, size, seed) for seed, (name, _v, size) in enumerate(big)}
        server = FileServer(wheels)
        packages = [(n, v) for n, v, _s in big] + small
        lock_a = make_lock(
            tmp / "a.lock", wheels, server.url, [TargetDef(name="t", packages=packages)], payloads=payloads
        )
        changed = [*packages[:-1], (small[-1][0], "1.1")]
        lock_b = make_lock(
            tmp / "b.lock", wheels, server.url, [TargetDef(name="t", packages=changed)], payloads=payloads
        )
        del payloads
        store = tmp / "store"
        done = _envlock(["install", "-l", str(lock_a), "--target", "t", "--no-node-check"], store)
        env_dir = Path(str(done["path"]))
        tree = sum(p.stat().st_size for p in env_dir.rglob("*") if p.is_file() and not p.is_symlink())

        def shell(cmd: str) -> None:
            subprocess.run(["sh", "-c", cmd], check=True, cwd=env_dir.parent)

        rows: list[tuple[str, float, str]] = []
        gzip_s = _timed(lambda: shell(f"tar -cf - {env_dir.name} | gzip -6 > /dev/null"), opts.repeat)
        rows.append(("`tar -c ENV \\| gzip -6`", gzip_s, "reference"))
        if shutil.which("zstd"):
            zstd_s = _timed(lambda: shell(f"tar -cf - {env_dir.name} | zstd -q -T0 > /dev/null"), opts.repeat)
            rows.append(("`tar -c ENV \\| zstd -T0`", zstd_s, "reference (envlock writes gzip only)"))
        layers_s = _layer_writer_seconds(lock_a, store, env_dir, opts.repeat)
        rows.append(
            ("envlock layer writer (all layers, threads)", layers_s, f"{gzip_s / layers_s:.2f}x gzip's speed")
        )

        image_args = ["image", "--target", "t", "--base", base.ref]

        def cold() -> None:
            shutil.rmtree(store / "v1" / "oci", ignore_errors=True)
            shutil.rmtree(tmp / "out-a", ignore_errors=True)
            _envlock([*image_args, "-l", str(lock_a), "-o", f"oci:{tmp}/out-a"], store)

        cold_s = _timed(cold, opts.repeat)
        rows.append(
            (
                "`envlock image` first image (env installed, no layers)",
                cold_s,
                f"{cold_s / gzip_s:.2f}x gzip's time",
            )
        )
        start = time.perf_counter()
        warm = _envlock([*image_args, "-l", str(lock_b), "-o", f"oci:{tmp}/out-b"], store)
        warm_s = time.perf_counter() - start
        layers = warm["layers"]
        assert isinstance(layers, list)
        written = [str(layer["name"]) for layer in layers if not layer["reused"]]
        reused = [str(layer["name"]) for layer in layers if layer["reused"]]
        rows.append(
            (
                "`envlock image` warm, one small package changed (env installed by it)",
                warm_s,
                f"re-tarred: {', '.join(written)}; reused: {', '.join(reused)}",
            )
        )
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [
        f"Environment: {tree / 2**20:.0f} MiB of files in {len(packages)} packages; "
        f"{os.cpu_count()} CPUs; median of {opts.repeat} runs (the warm row: one run).",
        "",
        "| what | seconds | note |",
        "|---|---:|---|",
        *(f"| {what} | {secs:.2f} | {note} |" for what, secs, note in rows),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if opts.markdown:
        opts.markdown.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
