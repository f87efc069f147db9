"""Install a lock target into the content-addressed store (or at --prefix) and print its path.

The target is the one named by --target, or with `--target auto` (the default for a lock with
several targets, and the default for one) the first one that fits this node's platform, glibc, GPUs
and driver, judged as `envlock doctor` judges it. On a node with GPUs a CPU-only target is taken only
when the lock has no GPU target (with a warning). When none fits, the command fails at once (exit 1)
and says which target came closest and what it lacks. A target named with --target is judged too and
refused (exit 1, with the reason) when it does not fit, unless --no-node-check is given (to build it
for other nodes, e.g. from a login node into a shared store); warnings then say what does not fit.
A driver between the CUDA family floor and the native need of a target locked `native` fits through
minor-version compatibility, with a warning.

A second install of the same lock is a lookup. Many jobs installing the same lock into one shared
store (ENVLOCK_STORE) build it once: one takes a build lease, the others wait for it.
Offline: `envlock fetch -o DIR` where there is network, then `envlock install --offline --bundle DIR`.

The store path is computed from the target's packages; a lock whose env-hash does not match them is
refused (exit 1). --prefix PATH replaces only an environment envlock made there (else exit 2, nothing
is deleted). See docs/lock-as-input.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from envlock.cli.output import Console
    from envlock.install.apply import InstallResult
    from envlock.install.plan import InstallPlan


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments `install`, `run` and `shell` share."""
    parser.add_argument(
        "-l", "--lock", type=Path, default=None, help="the lock file (default: ./envlock.lock)"
    )
    parser.add_argument(
        "--target", default=None, metavar="NAME|auto", help="lock target to install, or `auto` to detect"
    )
    parser.add_argument(
        "--store", type=Path, default=None, help="store root (default: $ENVLOCK_STORE or XDG data dir)"
    )
    parser.add_argument("--offline", action="store_true", help="never use the network")
    parser.add_argument(
        "--bundle", type=Path, default=None, help="take artifacts from a bundle of `envlock fetch`"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument(
        "--prefix", type=Path, default=None, help="make a plain venv at PATH instead of a store path"
    )
    parser.add_argument(
        "--no-node-check",
        action="store_true",
        help="install a target named by --target even where it does not fit this node (warns instead)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def install_from_args(args: argparse.Namespace, console: Console) -> InstallResult:
    """Everything `install`, `run` and `shell` do before they differ; fast when it is a store hit."""
    from envlock.install.plan import plan_install
    from envlock.install.targets import choose_target
    from envlock.lock.toml import load_lock
    from envlock.store.layout import StoreLayout, default_store_root

    bundle: Path | None = args.bundle
    lock_path: Path | None = args.lock
    if bundle is not None:
        from envlock.install.bundle import bundle_lock_path, check_bundle_lock

        if lock_path is None:
            lock_path = bundle_lock_path(bundle)
            check_bundle_lock(bundle)
    if lock_path is None:
        lock_path = Path("envlock.lock")
    lock = load_lock(lock_path)
    chosen = choose_target(
        lock, args.target, source=str(lock_path), force=getattr(args, "no_node_check", False)
    )
    for warning in chosen.warnings:
        console.warn(warning)
    target = chosen.target
    layout = StoreLayout(root=(args.store or default_store_root()).absolute())
    plan = plan_install(
        lock_path=lock_path, lock=lock, target=target, store=layout, prefix=getattr(args, "prefix", None)
    )
    if not plan.hit:
        console.step(f"installing target {target.name} of {lock_path} into {plan.path}")
    return _apply(plan, args, console, bundle)


def _apply(
    plan: InstallPlan, args: argparse.Namespace, console: Console, bundle: Path | None
) -> InstallResult:
    from envlock.install.apply import Sources, apply_install

    if plan.hit:
        return apply_install(
            plan, sources=Sources(bundle=None, network=None), materializer=_NoBuild(), progress=console
        )
    from envlock.install.sources import ArtifactSource, BundleSource
    from envlock.materialize.venv import VenvMaterializer

    def network() -> ArtifactSource:
        from envlock.index.client import HttpIndexClient
        from envlock.install.sources import UrlSource

        return UrlSource(HttpIndexClient())

    sources = Sources(
        bundle=BundleSource(bundle) if bundle is not None else None,
        network=None if args.offline else network,
    )
    return apply_install(
        plan,
        sources=sources,
        materializer=VenvMaterializer(),
        progress=console,
        on_wait=lambda holder: console.info(
            f"waiting for {holder.host} pid {holder.pid} to finish building {plan.env_name}"
            if holder is not None
            else f"waiting for another build of {plan.env_name}"
        ),
    )


class _NoBuild:
    def start(self, target: object, dest: Path) -> NoReturn:
        raise AssertionError("a store hit builds nothing")


def run(args: argparse.Namespace, console: Console) -> int:
    result = install_from_args(args, console)
    if args.json:
        from envlock.cli.output import print_json

        print_json(
            {"path": str(result.path), "target": result.target, "env": result.env_name, "built": result.built}
        )
    else:
        console.info(
            ("installed " if result.built else "found ") + f"target {result.target} at {result.path}"
        )
        print(result.path)
    return 0
