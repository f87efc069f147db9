"""Exit 0 if the lock is fresh for its spec; exit 1 and say why if it is stale.

A lock is stale when the spec's inputs changed since it was solved (dependencies, CUDA
constraints, targets, indexes, exclude-newer), when the knowledge base changed, when a local wheel
it pins (a direct reference) is gone or changed, or when the lock was edited by hand (its content
hash, or a target's env-hash recomputed from its packages, does not match). Fast and offline: it
never queries an index.
"""

from __future__ import annotations

import argparse

from envlock.cli.locations import add_spec_argument, lock_path_for, spec_path
from envlock.cli.output import Console, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_argument(parser)
    parser.add_argument(
        "-l", "--lock", metavar="LOCK", help="the lock file (default: envlock.lock beside the spec)"
    )
    parser.add_argument("--json", action="store_true", help="print {fresh, reasons} as JSON")


def run(args: argparse.Namespace, console: Console) -> int:
    from envlock.display import redact_text
    from envlock.errors import StaleLockError
    from envlock.install.freshness import stale_reasons
    from envlock.lock.toml import load_lock
    from envlock.spec.parse import load_spec

    spec_file = spec_path(args.spec)
    lock_file = lock_path_for(spec_file, args.lock)
    spec = load_spec(spec_file)
    try:
        lock = load_lock(lock_file)
    except StaleLockError as err:
        reasons = [err.message]
    else:
        reasons = stale_reasons(spec, lock)
        # A lock re-sealed after its packages were changed passes the content hash; the env-hash,
        # computed again from the packages, does not.
        from envlock.lock.digest import env_hash_problem

        reasons += [p for p in map(env_hash_problem, lock.targets) if p is not None]
    if args.json:
        # A reason may quote a URL from the lock; the console redacts its own lines, JSON is done here.
        shown = [redact_text(r) for r in reasons]
        print_json({"fresh": not reasons, "lock": str(lock_file), "reasons": shown})
    if reasons:
        console.info(f"{lock_file} is stale:")
        for r in reasons:
            console.info(f"  - {r}")
        console.info("hint: run `envlock solve` to update it")
        return 1
    console.info(f"{lock_file} is fresh")
    return 0
