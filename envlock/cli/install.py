"""Install a lock target into the content-addressed store (or at --prefix) and print its path.

Which target: the one named by --target; else (`--target auto`, the default) the target that fits
this node's platform, glibc, GPUs and driver, judged as `envlock doctor` judges it, preferring the
target whose declared GPUs are exactly the node's, then one that covers them with the fewest extra
architectures, then the first in the lock; the command says why it picked it. A target without
gpus is a CPU target: it needs no driver. On a node with GPUs a CPU-only target is taken only
when the lock has no GPU target (with a warning). When none fits, the command fails at once (exit 1)
and says which target came closest and what it lacks. A target named with --target is judged too and
refused (exit 1, with the reason) when it does not fit, unless --no-node-check is given (to build it
for other nodes, e.g. from a login node into a shared store); warnings then say what does not fit.
A driver between the CUDA family floor and the native need of a target locked `native` fits through
minor-version compatibility, with a warning.

Freshness: when the spec lies beside the lock (envlock.toml, or pyproject.toml with
[tool.envlock]) or is named with -s, the lock is checked against it first, as `envlock check`
does; a stale lock is refused (exit 1) with the reasons, and so is another project's lock (its
[inputs].name is not the spec's env name). --frozen uses the lock as it is (CI with a committed lock).

Node overrides (containers, CI, tests): ENVLOCK_GPUS=H100,H100 (GPU names or compute capabilities,
one per GPU; "none": no GPUs), ENVLOCK_DRIVER=580.65.06 (MAJOR.MINOR[.PATCH]; "none": no driver),
ENVLOCK_GLIBC=2.28 (MAJOR.MINOR). A malformed value is a usage error (exit 2).

Without a terminal (a batch job's log) install writes one line per phase to stderr, with the
seconds since it started: the lease won or whom it waits for, the files it downloads, installing,
where it published; --quiet silences them.

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

from envlock.errors import UsageError

if TYPE_CHECKING:
    from envlock.cli.output import Console
    from envlock.install.apply import InstallResult
    from envlock.install.interpreter import ChosenInterpreter
    from envlock.install.plan import InstallPlan
    from envlock.lock.model import LockedTarget
    from envlock.materialize import Materializer


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments `install`, `run` and `shell` share."""
    from envlock.cli.locations import LOCK_HELP

    parser.add_argument("-l", "--lock", type=Path, default=None, metavar="LOCK", help=LOCK_HELP)
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
    parser.add_argument(
        "-s",
        "--spec",
        type=Path,
        default=None,
        metavar="SPEC",
        help="check the lock against this spec first (default: the spec beside the lock, if any)",
    )
    parser.add_argument(
        "--frozen", action="store_true", help="use the lock as it is: skip the check against its spec"
    )
    parser.add_argument(
        "--python",
        type=Path,
        default=None,
        metavar="PATH",
        help="build on this interpreter instead of the locked one (a warning is recorded in the env)",
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
    parser.add_argument(
        "--format",
        choices=("venv", "conda"),
        default=None,
        help="what to build (default: a conda prefix for a target with a [conda] part, else a venv)",
    )


def install_from_args(args: argparse.Namespace, console: Console) -> InstallResult:
    """Everything `install`, `run` and `shell` do before they differ; fast when it is a store hit."""
    from envlock.install.plan import plan_install
    from envlock.install.targets import choose_target
    from envlock.lock.read import load_lock
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
    if not args.frozen:
        from envlock.install.freshness import require_fresh

        # a bundle holds no spec: its lock is checked only against one named with -s
        require_fresh(lock_path, lock, args.spec)
    chosen = choose_target(
        lock, args.target, source=str(lock_path), force=getattr(args, "no_node_check", False)
    )
    for warning in chosen.warnings:
        console.warn(warning)
    target = chosen.target
    if chosen.why:
        console.info(f"target {target.name}: {chosen.why}")
    override: Path | None = None
    if args.python is not None:
        from envlock.install.interpreter import check_override, override_warning

        override = check_override(args.python)
        console.warn(override_warning(target, override))
    layout = StoreLayout(root=(args.store or default_store_root()).absolute())
    plan = plan_install(
        lock_path=lock_path,
        lock=lock,
        target=target,
        store=layout,
        prefix=getattr(args, "prefix", None),
        python_override=override,
    )
    if plan.refused is not None:
        note = (
            f"not using the environment others may have put in the store ({plan.refused}): "
            f"using a copy of your own, {plan.path.name}"
        )
        (console.info if plan.hit else console.warn)(note)  # said loudly once, when the copy is built
    if not plan.hit:
        console.step(f"installing target {target.name} of {lock_path} into {plan.path}")
    result = _apply(plan, args, console, bundle, override)
    if result.built:
        console.phase(f"published at {result.path}")
    return result


def _apply(
    plan: InstallPlan, args: argparse.Namespace, console: Console, bundle: Path | None, override: Path | None
) -> InstallResult:
    from envlock.install.apply import Sources, apply_install

    wanted = getattr(args, "format", None) or ("conda" if plan.target.conda else "venv")
    if wanted == "venv" and plan.target.conda:
        raise UsageError(
            f"target {plan.target.name} has a [conda] part: its conda packages cannot go into a venv",
            hint="install it with --format conda (the default for such a target)",
        )
    if wanted == "conda" and not plan.target.conda:
        raise UsageError(
            f"target {plan.target.name} has no [conda] part to make a conda prefix from",
            hint="add a [conda] table to the spec and re-solve, or install it as a venv",
        )
    if plan.hit:
        return apply_install(
            plan, sources=Sources(bundle=None, network=None), materializer=_NoBuild(), progress=console
        )
    from envlock.install.sources import ArtifactSource, BundleSource

    def network() -> ArtifactSource:
        from envlock.index.client import HttpIndexClient
        from envlock.install.reuse import MachineCopiesSource, known_stores
        from envlock.install.sources import UrlSource
        from envlock.install.wheels import choose_artifacts

        # Before downloading a file, a verified copy from another of this user's stores. A target
        # whose files all come from file:// URLs (a local channel or mirror) needs no HTTP client,
        # whose making costs ~0.3 s; others make it now, before the downloads start.
        remote = any(not a.url.startswith("file:") for _p, a in choose_artifacts(plan.target))
        client = HttpIndexClient(lazy_connect=not remote)
        return MachineCopiesSource(known_stores(exclude=plan.store.root), UrlSource(client))

    from envlock.install.direct import DirectArtifactSource

    bundle_source = BundleSource(bundle) if bundle is not None else None
    sources = Sources(
        bundle=bundle_source,
        network=None if args.offline else network,
        direct=DirectArtifactSource(
            lock_path=plan.lock_path,
            packages=plan.target.packages,
            bundle=bundle_source,
            network=None if args.offline else network,
        ),
    )

    def interpreter(target: LockedTarget) -> ChosenInterpreter:
        from envlock.install.interpreter import ChosenInterpreter, override_warning, provide_interpreter

        if override is not None:
            return ChosenInterpreter(
                path=override, source="override", warnings=(override_warning(target, override),)
            )
        if target.interpreter is not None:
            path = provide_interpreter(plan.store, target.interpreter, sources, console)
            return ChosenInterpreter(path=path, source="locked")
        return ChosenInterpreter(path=None, source="system")

    from envlock.install.reuse import remember_store

    remember_store(plan.store.root)
    materializer: Materializer
    if wanted == "conda":
        from envlock.materialize.conda import CondaMaterializer

        materializer = CondaMaterializer()
    else:
        from envlock.materialize.venv import VenvMaterializer

        materializer = VenvMaterializer(interpreter)
    return apply_install(
        plan,
        sources=sources,
        materializer=materializer,
        progress=console,
        on_wait=lambda holder: console.phase(
            f"waiting on pid {holder.pid} on host {holder.host}: it is building {plan.env_name}"
            if holder is not None
            else f"waiting for another build of {plan.env_name}"
        ),
        phases=console,
    )


class _NoBuild:
    def start(self, target: object, dest: Path) -> NoReturn:
        raise AssertionError("a store hit builds nothing")


def run(args: argparse.Namespace, console: Console) -> int:
    result = install_from_args(args, console)
    if args.json:
        from envlock.cli.output import print_json
        from envlock.store.record import EnvRecord

        record = EnvRecord.read(result.path)
        print_json(
            {
                "path": str(result.path),
                "target": result.target,
                "env": result.env_name,
                "built": result.built,
                "interpreter": record.interpreter if record is not None else None,
                "interpreter-source": record.interpreter_source if record is not None else None,
            }
        )
    else:
        console.info(
            ("installed " if result.built else "found ") + f"target {result.target} at {result.path}"
        )
        print(result.path)
    return 0
