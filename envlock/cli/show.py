"""Print what a lock holds: per target the variant, CUDA stack, driver need, and packages.

examples:
  envlock show
  envlock show --target h100
  envlock show --json | jq '.targets[] | {name, variant, cuda}'
"""

from __future__ import annotations

import argparse

from envlock.cli.locations import add_lock_argument, existing_lock
from envlock.cli.output import Console, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_lock_argument(parser)
    parser.add_argument(
        "--target", action="append", default=[], metavar="NAME", help="only this target (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="print the documented JSON form")


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def run(args: argparse.Namespace, console: Console) -> int:
    import sys

    from envlock.display import shown
    from envlock.errors import UsageError
    from envlock.kb.components import cuda_components
    from envlock.lock.export.json_form import lock_to_json
    from envlock.lock.read import load_lock

    lock_file = existing_lock(args.lock)
    lock = load_lock(lock_file)
    for name in args.target:
        if lock.target(name) is None:
            raise UsageError(
                f"--target {name}: no such target in {lock_file}",
                hint="targets in the lock: " + ", ".join(t.name for t in lock.targets),
            )
    if args.json:
        print_json(lock_to_json(lock, args.target))
        return 0
    out = sys.stdout
    # Every lock string is shown escaped and without credentials: a lock from a pull request
    # must not drive the reviewer's terminal.
    v = shown
    out.write(
        f"lock {v(lock.inputs.name)}: Python {v(lock.inputs.python)}, envlock {v(lock.envlock_version)}, "
        f"uv {v(lock.uv_version)}\n"
    )
    for t in lock.targets:
        if args.target and t.name not in args.target:
            continue
        total = sum(a.size for p in t.packages for a in p.artifacts)
        out.write(
            f"\n{v(t.name)}  ({v(t.platform)}, glibc >= {v(t.glibc)}, "
            f"{v(' '.join(t.gpus)) if t.gpus else 'CPU only'}"
            f"{', driver ' + v(t.driver) if t.driver else ''})\n"
        )
        out.write(f"  variant          {v(t.variant)}\n")
        out.write(f"  torch            {v(t.torch or '-')}\n")
        out.write(f"  CUDA runtime     {v(t.cuda or '-')}\n")
        out.write(f"  cuDNN            {v(t.cudnn or '-')}\n")
        out.write(f"  NCCL             {v(t.nccl or '-')}\n")
        if t.toolkit_source:
            parts = "".join(f", {v(c.name)} {v(c.version)}" for c in t.toolkit)
            out.write(f"  CUDA toolkit     {v(t.toolkit_release or '-')} ({v(t.toolkit_source)}{parts})\n")
        if t.requires_driver:
            source = f", set by {v(t.requires_driver_from)}" if t.requires_driver_from else ""
            out.write(f"  needs driver     >= {v(t.requires_driver)} ({v(str(t.compat))}{source})\n")
        for h in t.held:
            out.write(f"  held             {v(h.name)}=={v(h.version)}: {v(h.reason)}\n")
        if t.archs_source == "wheel":
            archs = " ".join((*t.torch_sass, *t.torch_ptx))
            out.write(f"  architectures    {v(archs)} (read from the wheel)\n")
        if t.interpreter is not None:
            i = t.interpreter
            out.write(
                f"  interpreter      {v(i.implementation)} {v(i.version)} (python-build-standalone, "
                f"{_size(i.artifact.size)}, sha256 {v(i.artifact.sha256[:16])}...)\n"
            )
        components = cuda_components([(p.name, p.version) for p in t.packages])
        if components:
            out.write("  CUDA components\n")
            cwidth = max(len(v(c.name)) for c in components)
            for c in components:
                major = f"  (CUDA {c.cuda_major})" if c.cuda_major is not None else ""
                out.write(f"    {v(c.name):<{cwidth}}  {v(c.version)}{major}\n")
        for m in t.allowed_mixed:
            why = "known to differ" if m.by == "envlock" else "[cuda] allow-mixed"
            out.write(f"  allowed mixed    {v(m.name)} {v(m.version)} (CUDA {m.cuda_major}; {why})\n")
        out.write(f"  env hash         {v(t.env_hash)}\n")
        out.write(f"  packages         {len(t.packages)}, {_size(total)} to download\n")
        names = [v(p.name) for p in t.packages]
        width = max((len(n) for n in names), default=0)
        for name, p in zip(names, t.packages, strict=True):
            origin = f"  ({v(p.source.describe())})" if p.source is not None else ""
            out.write(f"    {name:<{width}}  {v(p.version)}{origin}\n")
        for r in t.rejected:
            out.write(f"  rejected {v(r.variant)}: {v(r.reason)}\n")
    return 0
