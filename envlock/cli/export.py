"""Write one lock target in a standard format: PEP 751 pylock.toml, hash-pinned requirements, or
the `[conda]` part as a conda `@EXPLICIT` file.

The pylock export installs with `uv pip install -r pylock.<target>.toml` (and pip >= 26.1); the
requirements export with `pip install --no-deps --require-hashes -r FILE` or `uv pip sync FILE`.
Without -o the result goes to stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from envlock.cli.locations import add_lock_argument, existing_lock
from envlock.cli.output import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_lock_argument(parser)
    parser.add_argument(
        "--target", metavar="NAME", help="the lock target to export (may be left out when the lock has one)"
    )
    parser.add_argument(
        "--format", required=True, choices=("pylock", "requirements", "conda-explicit"), help="output format"
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write here (pylock: must be named pylock.toml or pylock.<name>.toml)",
    )


def run(args: argparse.Namespace, console: Console) -> int:
    from envlock.errors import UsageError
    from envlock.lock.export.pylock import export_pylock, pylock_filename
    from envlock.lock.export.requirements import export_requirements
    from envlock.lock.read import load_lock

    lock_file = existing_lock(args.lock)
    lock = load_lock(lock_file)
    if args.target is None:
        if len(lock.targets) != 1:
            raise UsageError(
                f"{lock_file} has {len(lock.targets)} targets: say which one to export with --target",
                hint="targets in the lock: " + ", ".join(t.name for t in lock.targets),
            )
        args.target = lock.targets[0].name
    target = lock.target(args.target)
    if target is None:
        raise UsageError(
            f"--target {args.target}: no such target in {lock_file}",
            hint="targets in the lock: " + ", ".join(t.name for t in lock.targets),
        )
    if args.format == "pylock":
        text = export_pylock(lock, target)
        if args.output:
            name = Path(args.output).name
            if name != "pylock.toml" and not (
                name.startswith("pylock.") and name.endswith(".toml") and "." not in name[7:-5] and name[7:-5]
            ):
                raise UsageError(
                    f"-o {args.output}: PEP 751 requires the name pylock.toml or pylock.<name>.toml",
                    hint=f"use -o {pylock_filename(target.name)}",
                )
    elif args.format == "conda-explicit":
        from envlock.lock.export.conda_explicit import export_conda_explicit

        text = export_conda_explicit(lock, target)
    else:
        text = export_requirements(lock, target)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:  # a missing or read-only directory, a full disk: the user's to fix
            from envlock.errors import UsageError

            raise UsageError(
                f"-o {args.output}: cannot write: {exc.strerror or exc}",
                hint="pass -o a file in an existing directory you can write",
                details={"path": str(args.output)},
            ) from exc
        console.info(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0
