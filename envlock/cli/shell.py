"""Print the lines that activate the environment of a lock target: `source <env>/bin/activate`, and
with a locked CUDA toolkit an `export` of CUDA_HOME, CUDA_PATH and PATH.

Use it as `eval "$(envlock shell -l envlock.lock --target auto)"`; it installs first if needed.
"""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envlock.cli.output import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from envlock.cli.install import add_target_arguments

    add_target_arguments(parser)


def run(args: argparse.Namespace, console: Console) -> int:
    from envlock.cli.install import install_from_args

    result = install_from_args(args, console)
    if (result.path / "conda-meta").is_dir():
        prefix, bin_dir = shlex.quote(str(result.path)), shlex.quote(str(result.path / "bin"))
        print(f'export CONDA_PREFIX={prefix} PATH={bin_dir}:"$PATH"')
        for script in sorted((result.path / "etc" / "conda" / "activate.d").glob("*.sh")):
            print(f". {shlex.quote(str(script))}")
    else:
        print(f"source {shlex.quote(str(result.path / 'bin' / 'activate'))}")
    cuda = result.path / "cuda"
    if cuda.is_dir():  # the locked CUDA toolkit
        home = shlex.quote(str(cuda))
        print(f'export CUDA_HOME={home} CUDA_PATH={home} PATH={shlex.quote(str(cuda / "bin"))}:"$PATH"')
    return 0
