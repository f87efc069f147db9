"""Download everything a lock's targets install into a bundle directory, for offline installs.

`envlock fetch -l envlock.lock -o BUNDLE` on a machine with network access (all targets, or those
named by --target), then on the air-gapped node `envlock install --offline --bundle BUNDLE`.
The bundle holds the lock, each artifact under artifacts/<sha256>/, and a SHA256SUMS file.
A lock whose env-hash does not match its packages is refused (exit 1), as install refuses it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envlock.cli.output import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from envlock.cli.locations import LOCK_HELP

    parser.add_argument(
        "-l", "--lock", type=Path, default=Path("envlock.lock"), metavar="LOCK", help=LOCK_HELP
    )
    parser.add_argument(
        "--target", action="append", default=[], metavar="NAME", help="only this target (repeatable)"
    )
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="BUNDLE", help="bundle directory")
    parser.add_argument("--store", type=Path, default=None, help="reuse verified files from this store")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, console: Console) -> int:
    from envlock.index.client import HttpIndexClient
    from envlock.install.bundle import write_bundle
    from envlock.install.direct import DirectArtifactSource, RoutedSource
    from envlock.install.sources import UrlSource
    from envlock.install.targets import choose_target, lookup_target
    from envlock.lock.read import load_lock
    from envlock.store.layout import StoreLayout, default_store_root

    lock = load_lock(args.lock)
    if args.target:
        targets = [
            choose_target(lock, name, source=str(args.lock)).target
            if name == "auto"
            else lookup_target(lock, name, source=str(args.lock))
            for name in args.target
        ]
    else:
        targets = list(lock.targets)
    from envlock.lock.digest import verified_env_hash

    for target in targets:  # a bundle is held to what install checks: refused here, not on the node
        verified_env_hash(target, source=str(args.lock))
    root = args.store or default_store_root()
    layout = StoreLayout(root=root) if (root / "v1").is_dir() else None
    with HttpIndexClient() as client:
        result = write_bundle(
            lock_path=args.lock,
            lock=lock,
            targets=targets,
            out=args.output,
            layout=layout,
            source=RoutedSource(
                DirectArtifactSource(
                    lock_path=args.lock,
                    packages=[p for t in targets for p in t.packages],
                    bundle=None,
                    network=lambda: UrlSource(client),
                ),
                UrlSource(client),
            ),
            progress=console,
        )
    if args.json:
        from envlock.cli.output import print_json

        print_json(
            {
                "bundle": str(result.path),
                "files": result.files,
                "downloaded": result.fetched,
                "bytes": result.bytes,
            }
        )
    else:
        console.info(
            f"bundle {result.path}: {result.files} files ({result.bytes / 1e6:.1f} MB), "
            f"{result.fetched} downloaded, for targets {', '.join(t.name for t in targets)}"
        )
        print(result.path)
    return 0
