"""Remove packages from the spec's dependencies, keeping its comments and layout.

Names are matched as package names (`Torch` removes "torch>=2.5"). In pyproject.toml only
[tool.envlock.env].dependencies is edited; requirements from [project] stay where they are.

examples:
  envlock remove torchvision
"""

from __future__ import annotations

import argparse

from envlock.cli.locations import add_spec_argument
from envlock.cli.output import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="+", metavar="PKG", help="package names")
    add_spec_argument(parser)


def run(args: argparse.Namespace, console: Console) -> int:
    from envlock.cli.locations import spec_path, spec_text
    from envlock.spec.edit import remove_dependencies

    path = spec_path(args.spec)
    edit = remove_dependencies(
        spec_text(path),
        args.names,
        pyproject=path.name == "pyproject.toml",
        display=str(path),
    )
    path.write_text(edit.text, encoding="utf-8")
    for text in edit.removed:
        console.info(f"removed {text}")
    console.info(f"updated {path}; run `envlock solve` to update the lock")
    return 0
