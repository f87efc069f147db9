"""Review the difference between two lockfiles: each target's CUDA stack first (variant, CUDA
runtime, cuDNN, NCCL, the driver the stack needs, GPU architectures), then every package.

OLD and NEW are lock file paths or REV:path, read with `git show REV:path` in the current
directory's repository (a path that exists on disk wins). Text is coloured on a terminal and plain
in a pipe (NO_COLOR turns colour off); --format markdown is made for a pull-request comment;
--format json is the stable form documented in docs/lock-review.md.

--exit-code: exit 1 when the locks differ, 0 when they do not (like `git diff --exit-code`).
Warnings name the targets of NEW that differ in torch or run their CUDA through minor-version
compatibility, where OLD did not already say the same.
--textconv FILE: print one lock as line-per-fact text for git's diff driver:
    echo 'envlock.lock diff=envlock' >> .gitattributes
    git config diff.envlock.textconv "envlock diff --textconv"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from envlock.cli.output import Console, error_document, print_json
from envlock.errors import EnvlockError, ExitCode, LockFormatError, UsageError

if TYPE_CHECKING:
    from envlock.diff.archs import SassLookup

# The diff, lock and knowledge-base modules are imported where they are used: `envlock diff` is
# run per pull request and by git per file, so its start-up time is most of its running time.


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", nargs="?", metavar="OLD", help="the lock before: a path or REV:path")
    parser.add_argument("new", nargs="?", metavar="NEW", help="the lock after: a path or REV:path")
    parser.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="text (default), markdown for a PR comment, or json",
    )
    parser.add_argument(
        "--exit-code",
        action="store_true",
        help="exit 1 when the locks differ, 0 when they do not",
    )
    parser.add_argument(
        "--textconv",
        metavar="FILE",
        help="print one lock as line-per-fact text for git's diff.<driver>.textconv",
    )


def _sass_lookup(console: Console) -> SassLookup | None:
    """The knowledge base's torch-build rows; a broken user KB file costs the architecture lines only."""
    from envlock.diff.archs import KnowledgeBaseSass
    from envlock.kb import load_kb

    try:
        return KnowledgeBaseSass(load_kb())
    except EnvlockError as err:
        console.warn(f"{err.message}; GPU architectures are left out of the review")
        return None


def _textconv(path: str, console: Console) -> int:
    from envlock.diff.render import render_textconv
    from envlock.diff.source import read_source
    from envlock.lock.read import parse_lock

    text = read_source(path, cwd=Path.cwd())
    try:
        lock = parse_lock(text.text, source=text.source, verify=False)
    except LockFormatError as err:
        # git calls the driver on every version of the file, conflicted or foreign ones too: show
        # those verbatim so `git diff` keeps working.
        console.warn(f"{err.message}; showing it as it is")
        from envlock.display import escape_controls, redact_text

        sys.stdout.write(escape_controls(redact_text(text.text), keep_newlines=True))
        return ExitCode.OK
    sys.stdout.write(render_textconv(lock, sass=_sass_lookup(console)))
    return ExitCode.OK


def _diff(args: argparse.Namespace, console: Console) -> int:
    if args.old is None or args.new is None:
        raise UsageError(
            "envlock diff needs two locks: OLD and NEW",
            hint="for example: envlock diff main:envlock.lock envlock.lock",
        )
    from envlock.diff.compute import diff_locks
    from envlock.diff.render import render_markdown, render_text, to_json
    from envlock.diff.source import read_for_diff

    cwd = Path.cwd()
    old = read_for_diff(args.old, cwd=cwd)
    new = read_for_diff(args.new, cwd=cwd)
    diff = diff_locks(
        old.lock,
        new.lock,
        old_source=args.old,
        new_source=args.new,
        sass=_sass_lookup(console),
        hash_matches=(old.hash_matches, new.hash_matches),
    )
    if args.format == "json":
        print_json(to_json(diff))
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(diff))
    else:
        sys.stdout.write(render_text(diff, color=Console(stream=sys.stdout).color))
    if args.exit_code and not diff.empty:
        return ExitCode.INPUTS
    return ExitCode.OK


def run(args: argparse.Namespace, console: Console) -> int:
    if args.textconv is not None:
        if args.old is not None or args.new is not None:
            raise UsageError(
                "--textconv takes one FILE and no OLD/NEW",
                hint='configure git with: git config diff.envlock.textconv "envlock diff --textconv"',
            )
        return _textconv(args.textconv, console)
    if args.format != "json":
        return _diff(args, console)
    try:
        return _diff(args, console)
    except EnvlockError as err:
        # --format json promises one JSON document on stdout, errors included (architecture.md §7).
        print_json(error_document(err))
        return err.exit_code
