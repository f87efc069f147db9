"""Remove store paths that no root holds: environments, artifacts, unpacked interpreters no remaining
environment is built on, image layers whose files no live environment uses and copied image bases
(v1/oci/), and leftovers of killed builds. Nothing a build in progress uses is removed.

Roots live in <store>/v1/roots/, one per user: each install registers one for its lock and target
(moved when the lock changes; dead when the lock file is gone), --prefix installs register their
prefix, and any symlink you add there keeps its target. Another user's roots and environments are
left to that user: in the sticky envs/, roots/, python/ and oci/ gc removes what it may and warns
of each entry it could not. Store files that are not regular files (a FIFO, a device) or are larger
than envlock reads are not read but warned of. --dry-run prints the plan and changes nothing.
A store path that does not exist, or holds no envlock store, is a usage error (exit 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envlock.cli.output import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", type=Path, default=None, help="store root (default: $ENVLOCK_STORE or XDG data dir)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print what would be removed, remove nothing")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")


def run(args: argparse.Namespace, console: Console) -> int:
    from envlock.store.gc import apply_gc, plan_gc
    from envlock.store.layout import StoreLayout, default_store_root
    from envlock.store.lease import stale_seconds_from_env

    layout = StoreLayout(root=(args.store or default_store_root()).absolute())
    if not layout.base.is_dir():
        from envlock.errors import UsageError

        what = "does not exist" if not layout.root.exists() else "is not an envlock store (no v1/ in it)"
        raise UsageError(
            f"store {layout.root} {what}",
            hint="pass the store you install into with --store (or set ENVLOCK_STORE)",
            details={"store": str(layout.root)},
        )
    stale = stale_seconds_from_env()
    plan = plan_gc(layout, stale_seconds=stale)
    notes = plan.notes
    items = plan.remove
    if not args.dry_run:
        outcome = apply_gc(plan, layout, stale_seconds=stale)
        items, notes = outcome.removed, notes + outcome.notes
    if args.json:
        from envlock.cli.output import print_json

        print_json(
            {
                "store": str(layout.root),
                "dry-run": args.dry_run,
                "removed" if not args.dry_run else "would-remove": [
                    {"path": str(i.path), "kind": i.kind, "reason": i.reason, "bytes": i.size} for i in items
                ],
                "kept-envs": [str(p) for p in plan.kept_envs],
                "warnings": [{"path": str(n.path), "reason": n.reason} for n in notes],
            }
        )
        return 0
    for note in notes:
        console.warn(f"{note.path}: {note.reason}")
    verb = "would remove" if args.dry_run else "removed"
    for item in items:
        print(f"{verb} {item.kind} {item.path} ({item.reason})")
    total = sum(i.size for i in items)
    console.info(f"{verb} {len(items)} paths, {total / 1e6:.1f} MB; kept {len(plan.kept_envs)} environments")
    return 0
