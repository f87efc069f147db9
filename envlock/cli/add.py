"""Add requirements to the spec's dependencies, keeping its comments and layout.

A package that is already listed gets the new requirement in place of the old one. In
pyproject.toml the requirements go to [tool.envlock.env].dependencies. The lock is not touched:
run `envlock solve` afterwards.

examples:
  envlock add "torch>=2.5,<2.8" torchvision
  envlock add -s pyproject.toml "numpy<2"
"""

from __future__ import annotations

import argparse

from envlock.cli.locations import add_spec_argument
from envlock.cli.output import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("requirements", nargs="+", metavar="PKG", help='PEP 508 requirements, e.g. "numpy<2"')
    add_spec_argument(parser)


def run(args: argparse.Namespace, console: Console) -> int:
    from envlock.cli.locations import spec_path, spec_text
    from envlock.spec.edit import add_dependencies
    from envlock.spec.parse import load_spec

    path = spec_path(args.spec)
    before = spec_text(path)
    edit = add_dependencies(
        before, args.requirements, pyproject=path.name == "pyproject.toml", display=str(path)
    )
    path.write_text(edit.text, encoding="utf-8")
    try:
        load_spec(path)
    except Exception:
        path.write_text(before, encoding="utf-8")  # nothing lost: the spec is as it was
        raise
    for text in edit.added:
        console.info(f"added {text}")
    for old, new in edit.replaced:
        console.info(f"replaced {old} with {new}")
    if not edit.added and not edit.replaced:
        console.info("already listed; nothing changed")
    else:
        console.info(f"updated {path}; run `envlock solve` to update the lock")
    return 0
