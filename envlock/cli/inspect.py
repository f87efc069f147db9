"""List the SASS and PTX architectures inside CUDA binaries, wheels and environments.

Reads the `.nv_fatbin` sections of ELF files (shared libraries, executables) without CUDA or a GPU,
from the headers alone: compressed fatbinaries are not decompressed. PATH may be an ELF file, a
wheel (`.whl`, read member by member) or a directory such as a virtual environment (every ELF file
under it). In a directory only the files that carry CUDA code are listed; a file given by name is
listed even without CUDA code.

exit codes: 0 listed; 1 a binary is truncated or corrupt; 2 a PATH is missing or not ELF/wheel/dir.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from envlock.cli.output import Console, print_json
from envlock.errors import ExitCode
from envlock.inspect import BinaryReport, inspect_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", type=Path, help="ELF file, wheel or directory")
    parser.add_argument("--json", action="store_true", help="print one JSON list of reports")


def _cell(names: tuple[str, ...]) -> str:
    return " ".join(names) if names else "-"


def _table(rows: list[BinaryReport]) -> list[str]:
    header = ("PATH", "SASS", "PTX", "COMPRESSION")
    cells = [
        (r.path, _cell(r.sass_names), _cell(r.ptx_names), r.compressed) if r.has_cuda else
        (r.path, "no CUDA code", "-", "-")
        for r in rows
    ]  # fmt: skip
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for c in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())
    return lines


def run(args: argparse.Namespace, console: Console) -> int:
    reports: list[BinaryReport] = []
    shown: list[BinaryReport] = []
    for path in args.paths:
        found = inspect_path(path)
        reports.extend(found)
        shown.extend(r for r in found if r.has_cuda or not path.is_dir())
    if args.json:
        print_json([r.to_json() for r in reports])
        return ExitCode.OK
    if shown:
        for line in _table(shown):
            print(line)
    with_cuda = [r for r in reports if r.has_cuda]
    sass = sorted({cc for r in with_cuda for cc in r.sass})
    ptx = sorted({cc for r in with_cuda for cc in r.ptx})
    summary = f"{len(reports)} ELF file(s), {len(with_cuda)} with CUDA code"
    if with_cuda:
        summary += f"; SASS {_cell(tuple(c.sm for c in sass))}; PTX {_cell(tuple(c.sm for c in ptx))}"
    console.info(summary)
    return ExitCode.OK
