"""Run a command inside the environment of a lock target, installing it first if needed.

`envlock run -l envlock.lock --target auto -- python train.py`: the command replaces envlock
(exec), with VIRTUAL_ENV set and the environment's bin/ first on PATH, so its exit code is the
command's. Installing follows `envlock install` (same flags, same store).
"""

from __future__ import annotations

import argparse
import os
import shlex
from typing import TYPE_CHECKING

from envlock.errors import IncompatibleNodeError, UsageError

if TYPE_CHECKING:
    from envlock.cli.output import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from envlock.cli.install import add_target_arguments

    add_target_arguments(parser)
    parser.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD...", help="the command to run")


def run(args: argparse.Namespace, console: Console) -> int:
    from envlock.cli.install import install_from_args
    from envlock.install.apply import env_path_for_run

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UsageError(
            "envlock run: no command given", hint="envlock run -l envlock.lock -- python train.py"
        )
    result = install_from_args(args, console)
    python = result.path / "bin" / "python"
    if not python.exists():
        raise IncompatibleNodeError(
            f"{result.path}: the environment's interpreter ({os.path.realpath(python)}) "
            "does not exist on this node",
            hint="environments link to the Python they were built with: install that Python at the same path "
            "on every node (for example on the shared filesystem), use a per-node store, or lock the "
            'interpreter ([env] interpreter = "python-build-standalone"): it then lives in the store itself',
        )
    env = env_path_for_run(result.path)
    # A conda prefix's activation scripts (compilers, CUDA pieces) run first, in a shell.
    scripts = sorted((result.path / "etc" / "conda" / "activate.d").glob("*.sh"))
    if scripts:
        sourced = " && ".join(f". {shlex.quote(str(s))}" for s in scripts)
        cmd = ["/bin/sh", "-c", f'{sourced} && exec "$@"', "envlock-activate", *cmd]
    try:
        os.execvpe(cmd[0], cmd, env)
    except FileNotFoundError:
        raise UsageError(
            f"envlock run: command not found: {cmd[0]}",
            hint=f"is it installed in the environment ({result.path}/bin) or on PATH?",
        ) from None
