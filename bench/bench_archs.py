"""Learning a torch wheel's GPU architectures by ranged reads vs downloading the whole wheel.

Usage: python bench/bench_archs.py [--mb 512] [--url URL] [--markdown FILE]

Without `--url`, a torch-shaped wheel is built in a temporary folder (a 10 MB deflated
`torch/lib/libtorch_python.so` holding the arch list, a `libtorch_cuda.so` of `--mb` MB of incompressible
bytes, 3,000 small Python files) and served on 127.0.0.1 by a server that honours `Range`. With `--url`
(a real torch wheel on an index that answers range requests), that file is used instead. Each way is run
three times; the table gives bytes moved, requests and the median wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envlock.index.client import HttpIndexClient  # noqa: E402  (after the path set-up above)
from envlock.inspect.wheel_archs import learn_archs  # noqa: E402
from fixtures.catalog import arch_library  # noqa: E402

RUNS = 3


def build_wheel(dest: Path, cuda_mb: int) -> Path:
    path = dest / "torch-2.99.0+cu132-cp311-cp311-manylinux_2_28_x86_64.whl"
    rng = os.urandom
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for i in range(3000):
            archive.writestr(f"torch/_gen/module_{i:04d}.py", f"VALUE = {i}\n" * 20)
        python_lib = arch_library("sm_75 sm_80 sm_86 sm_90 sm_100 sm_120") + rng(5 << 20) + bytes(5 << 20)
        archive.writestr("torch/lib/libtorch_python.so", python_lib)
        with archive.open("torch/lib/libtorch_cuda.so", "w", force_zip64=True) as member:
            for _ in range(cuda_mb):
                member.write(rng(1 << 20))
    return path


class _Handler(BaseHTTPRequestHandler):
    path_on_disk: Path

    def log_message(self, format: str, *args: object) -> None:  # the stdlib's signature
        pass

    def do_GET(self) -> None:
        size = self.path_on_disk.stat().st_size
        start, end = 0, size - 1
        ranged = self.headers.get("Range", "").removeprefix("bytes=")
        if ranged:
            first, _, last = ranged.partition("-")
            start, end = (size - int(last), size - 1) if not first else (int(first), int(last or size - 1))
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Length", str(end - start + 1))
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        with self.path_on_disk.open("rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(left, 1 << 20))
                self.wfile.write(chunk)
                left -= len(chunk)


def _median(fn: Callable[[], tuple[int, int]]) -> tuple[int, int, float]:
    times = []
    result = (0, 0)
    for _ in range(RUNS):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result[0], result[1], statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=int, default=512, help="size of the synthetic libtorch_cuda.so")
    parser.add_argument("--url", help="a real torch wheel on an index that answers range requests")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="envlock-bench-archs-") as tmp:
        work = Path(tmp)
        server = None
        url = args.url
        if url is None:
            wheel = build_wheel(work, args.mb)
            handler = type("Bound", (_Handler,), {"path_on_disk": wheel})
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            url = f"http://127.0.0.1:{server.server_address[1]}/{wheel.name}"
        with HttpIndexClient(cache_dir=work / "cache") as client:

            def ranged() -> tuple[int, int]:
                remote = client.ranged(url)
                archs = learn_archs(remote, url.rsplit("/", 1)[-1])
                assert archs.found, "no arch list found in the wheel"
                return remote.fetched, remote.requests

            def whole() -> tuple[int, int]:
                _, size = client.download(url, work / "whole.whl")
                return size, 1

            rows = [
                ("learn archs by ranged reads", *_median(ranged)),
                ("download the wheel", *_median(whole)),
            ]
        if server is not None:
            server.shutdown()
    what = args.url or f"synthetic torch wheel ({args.mb} MB libtorch_cuda.so, 10 MB libtorch_python.so)"
    lines = [
        f"wheel: {what}; median of {RUNS} runs",
        "",
        "| way | bytes | requests | time |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {size / 1e6:,.1f} MB | {requests} | {seconds:.2f} s |"
        for name, size, requests, seconds in rows
    ]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
