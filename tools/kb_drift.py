#!/usr/bin/env python3
"""Report torch releases, variants and CUDA minors an index serves that envlock's knowledge base lacks.

Usage: python tools/kb_drift.py [--pytorch URL] [--default URL] [--json]

It reads the torch listing of the PyTorch indexes (`<pytorch>/torch/`, every variant; where an index has
no such page, each variant index the knowledge base knows) and, with `--default`, the default index's
torch and `nvidia-cuda-runtime*` pages. Exit status: 0 no drift, 1 drift found (each finding on a line),
3 an index could not be read. CI runs it against the fixture indexes (tests/kb/test_kb_drift.py); run it
by hand against the real indexes before a release, then refresh the knowledge base (tools/build_kb.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from envlock.errors import NetworkError  # after the path setup above
from envlock.index.client import HttpIndexClient
from envlock.index.errors import ProjectNotFound
from envlock.kb import load_kb
from envlock.kb.drift import compare

RUNTIME_PROJECTS = ("nvidia-cuda-runtime", "nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime-cu11")


def _files(client: HttpIndexClient, index: str, project: str) -> list[str]:
    try:
        return [f.filename for f in client.project(index, project).files]
    except ProjectNotFound:
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--pytorch", default="https://download.pytorch.org/whl", help="base of the variant indexes"
    )
    parser.add_argument("--default", help="the default index (simple API URL); left out: not read")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    args = parser.parse_args(argv)
    kb = load_kb()
    base = args.pytorch.rstrip("/")
    try:
        with HttpIndexClient() as client:
            torch_files = _files(client, f"{base}/", "torch")
            if not torch_files:
                for variant in kb.known_variants():
                    torch_files += _files(client, f"{base}/{variant}/", "torch")
            runtimes: list[str] = []
            if args.default:
                torch_files += _files(client, args.default, "torch")
                for project in RUNTIME_PROJECTS:
                    runtimes += [_version(name) for name in _files(client, args.default, project)]
    except NetworkError as err:
        sys.stderr.write(f"error: {err.message}\n")
        return 3
    drift = compare(kb, torch_files, runtimes)
    if args.json:
        sys.stdout.write(json.dumps({"drift": drift.found, "findings": drift.lines()}, indent=1) + "\n")
    else:
        for line in drift.lines():
            sys.stdout.write(line + "\n")
        if not drift.found:
            sys.stdout.write(f"no drift: {len(torch_files)} torch files checked against the knowledge base\n")
    return 1 if drift.found else 0


def _version(filename: str) -> str:
    """The version field of a wheel or sdist file name ("nvidia_cuda_runtime-13.2.86-py3-none-...")."""
    return filename.split("-")[1] if filename.count("-") >= 1 else ""


if __name__ == "__main__":
    raise SystemExit(main())
