"""Resolve the spec (envlock.toml, or [tool.envlock] in pyproject.toml) into envlock.lock.

For every [[target]], envlock asks the PyTorch variant indexes which torch builds exist for the
target's platform, glibc and Python, keeps those with SASS for every target GPU and a CUDA the
target's driver can run, resolves each with uv, checks the CUDA stack the resolution pins, and
locks the best: native driver compatibility first, then the newest torch, then the highest CUDA.
An existing lock's pins are preferences: a re-solve keeps each pin (and each target's torch
version) that the spec still allows, so a one-line spec change gives a small lock diff; --upgrade
and --upgrade-package NAME lift them.
The driver need comes from the CUDA runtime the set pins; CUDA components floating above the
variant's minor are held to it first. The GPU architectures of the torch wheel to be locked are
read from the wheel itself by HTTP range requests (once per file, cached by sha256).

examples:
  envlock solve                         # ./envlock.toml -> ./envlock.lock
  envlock solve --target h100           # re-solve one target, keep the others
  envlock solve --upgrade-package numpy # move numpy to the newest allowed, keep every other pin
  envlock solve --json | jq '.targets[].variant'
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from envlock.cli.locations import add_spec_argument, lock_path_for, spec_path
from envlock.cli.output import Console, print_json

if TYPE_CHECKING:
    from packaging.version import Version

    from envlock.index.client import HttpIndexClient
    from envlock.index.model import DownloadProgress, ProjectPage
    from envlock.index.ranged import RangedFile
    from envlock.lock.model import Lock
    from envlock.resolvers import ResolverBackend
    from envlock.resolvers.speculation import SpeculativeBackend


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_argument(parser)
    parser.add_argument(
        "-o", "--output", metavar="LOCK", help="where to write the lock (default: beside the spec)"
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="NAME",
        help="solve only this target (repeatable); the lock keeps the others",
    )
    parser.add_argument(
        "--offline", action="store_true", help="use only cached index pages; fail with exit 3 on a cache miss"
    )
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="ask the indexes again for every page, even one cached in the last 10 minutes",
    )
    parser.add_argument(
        "--resolver",
        choices=("uv", "pip-tools"),
        default="uv",
        help="resolution engine (pip-tools only for targets that match this host)",
    )
    parser.add_argument(
        "--upgrade",
        action="store_true",
        help="ignore the existing lock's pins (by default a re-solve keeps each pin the spec still allows)",
    )
    parser.add_argument(
        "--upgrade-package",
        action="append",
        default=[],
        metavar="NAME",
        help="let NAME move to the best version the spec allows, keeping the other pins (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print the lock as JSON on stdout")


def run(args: argparse.Namespace, console: Console) -> int:
    from envlock.resolvers.backends import get_backend

    # -s named: no spec-parser import before uv is started (spec_path imports it to look for one)
    spec_file = Path(args.spec) if args.spec else spec_path(None)
    lock_file = lock_path_for(spec_file, args.output)
    backend = get_backend(args.resolver, offline=args.offline)
    ahead = _start_ahead(args, spec_file, lock_file, backend)  # uv runs during _solve's imports
    restore = _stop_ahead_on_sigterm(ahead)
    try:
        return _solve(args, console, spec_file, lock_file, backend, ahead)
    finally:
        if ahead is not None:
            ahead.finish()  # also when the solve failed: no run started ahead outlives it
        restore()


def _solve(
    args: argparse.Namespace,
    console: Console,
    spec_file: Path,
    lock_file: Path,
    backend: ResolverBackend,
    ahead: SpeculativeBackend | None,
) -> int:
    from envlock.errors import UsageError
    from envlock.index.config import default_index_url
    from envlock.kb import load_kb
    from envlock.lock.read import load_lock
    from envlock.lock.write import write_lock
    from envlock.solve.solver import solve
    from envlock.spec.parse import load_spec

    spec = load_spec(spec_file)
    unknown = [t for t in args.target if spec.target(t) is None]
    if unknown:
        raise UsageError(
            f"--target {unknown[0]}: no such target in {spec_file}",
            hint="targets in the spec: " + ", ".join(t.name for t in spec.targets),
        )
    if args.resolver == "pip-tools":
        from envlock.resolvers.piptools import host_target

        host = host_target()
        foreign = [
            t.name
            for t in spec.targets
            if (not args.target or t.name in args.target) and (t.platform, spec.python) != host
        ]
        if foreign:
            raise UsageError(
                f"--resolver pip-tools resolves only for this host ({host[0]}, Python {host[1]}); "
                f"target {foreign[0]} is not that",
                hint="use --resolver uv (the default), which resolves for any target",
            )
    previous = load_lock(lock_file) if args.target and lock_file.exists() else None
    if previous is None and not args.upgrade and lock_file.exists():
        previous = _previous_pins(lock_file, console)
    kb = load_kb(spec.knowledge_base)
    with _IndexClientOnUse(offline=args.offline, refresh=args.refresh) as client:
        from envlock.solve.archs import WheelArchReader

        lock = solve(
            spec,
            kb=kb,
            client=client,
            backend=ahead or backend,
            default_index=default_index_url(spec.indexes.default),
            targets=args.target,
            previous=previous,
            progress=console,
            upgrade=args.upgrade,
            upgrade_packages=args.upgrade_package,
            wheel_archs=WheelArchReader(client.ranged),
        )
    if ahead is not None:
        ahead.save()
    changed = write_lock(lock, lock_file)
    if args.json:
        from envlock.lock.export.json_form import lock_to_json

        print_json(lock_to_json(lock))
    for t in lock.targets:
        if args.target and t.name not in args.target:
            continue
        stack = f"torch {t.torch}" if t.torch else "no torch"
        if t.cuda:
            stack += f", CUDA {t.cuda}, cuDNN {t.cudnn or '-'}, NCCL {t.nccl or '-'}"
        if t.requires_driver:
            stack += f", driver >= {t.requires_driver} ({t.compat})"
        console.info(f"{t.name}: {t.variant}: {stack}; {len(t.packages)} packages")
        if t.kb_status == "inferred" and t.archs_source != "wheel":
            console.warn(
                f"{t.name}: the knowledge base has no row for torch {t.torch} {t.variant}; its GPU "
                "architectures were taken from the nearest older release (knowledge-base-row = "
                '"inferred" in the lock). Check with `envlock inspect` after installing, or add a row '
                "with [resolution].knowledge-base"
            )
    from packaging.utils import canonicalize_name

    from envlock.lock.drift import drift_warnings

    locked_names = {p.name for t in lock.targets for p in t.packages}
    for name in args.upgrade_package:
        if canonicalize_name(name) not in locked_names:
            console.warn(f"--upgrade-package {name}: no package of that name is in the lock")

    for warning in drift_warnings(lock.targets):
        console.warn(warning)
    console.info(f"{'wrote' if changed else 'unchanged'} {lock_file}")
    return 0


def _start_ahead(
    args: argparse.Namespace, spec_file: Path, lock_file: Path, backend: ResolverBackend
) -> SpeculativeBackend | None:
    """The resolutions the last solve of these very inputs asked uv for, started now (see
    `envlock.resolvers.speculation`); None with pip-tools or a spec that cannot be read here."""
    from envlock.resolvers.uv import UvBackend

    if not isinstance(backend, UvBackend):
        return None
    import sys

    from envlock.resolvers.speculation import SpeculativeBackend, speculation_key
    from envlock.userfiles import default_cache_root

    try:
        spec_bytes = spec_file.read_bytes()
        lock_bytes = lock_file.read_bytes() if lock_file.exists() else b"(no lock)"
    except OSError:
        return None  # the spec parser says what is wrong
    options = [
        str(spec_file.resolve()),
        str(lock_file.resolve()),
        sys.executable,
        repr((args.target, args.offline, args.upgrade, args.upgrade_package)),
    ]
    key = speculation_key([spec_bytes, lock_bytes, *(o.encode() for o in options)])
    ahead = SpeculativeBackend(backend, default_cache_root(), key)
    ahead.start()
    return ahead


def _stop_ahead_on_sigterm(ahead: SpeculativeBackend | None) -> Callable[[], None]:
    """While the solve runs, SIGTERM (what a batch scheduler sends first) stops the runs started
    ahead (their scratch folders removed) and then ends envlock as SIGTERM would have. Returns what
    puts the former handler back; a handler set by someone else is left alone."""
    import signal

    if ahead is None or threading.current_thread() is not threading.main_thread():
        return lambda: None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return lambda: None

    def stop(signum: int, frame: object) -> None:
        import os

        ahead.finish()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    def restore() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    signal.signal(signal.SIGTERM, stop)
    return restore


class _IndexClientOnUse:
    """The HTTP index client (`IndexClient`), made when the solve first asks an index something.

    A spec with an empty PyPI part (a `[conda]` part alone) never does, and so does not import the
    client's modules (the HTTP cache, page parsers, credentials: about 15 ms of a 0.3 s solve).
    """

    def __init__(self, *, offline: bool, refresh: bool) -> None:
        self._offline = offline
        self._refresh = refresh
        self._client: HttpIndexClient | None = None
        self._lock = threading.Lock()  # the solver's threads (targets, pages, the wheel read) ask at once

    def _made(self) -> HttpIndexClient:
        with self._lock:
            if self._client is None:
                from envlock.index.client import HttpIndexClient

                self._client = HttpIndexClient(
                    offline=self._offline, refresh=self._refresh, lazy_connect=True
                )
            return self._client

    def project(self, index_url: str, name: str) -> ProjectPage:
        return self._made().project(index_url, name)

    def release(self, index_url: str, name: str, version: Version) -> ProjectPage:
        return self._made().release(index_url, name, version)

    def file_info(self, url: str) -> tuple[int, str | None]:
        return self._made().file_info(url)

    def document(self, url: str) -> bytes:
        return self._made().document(url)

    def download(
        self,
        url: str,
        dest: Path,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        progress: DownloadProgress | None = None,
    ) -> tuple[str, int]:
        return self._made().download(
            url, dest, expected_sha256=expected_sha256, expected_size=expected_size, progress=progress
        )

    def ranged(self, url: str) -> RangedFile:
        return self._made().ranged(url)

    def __enter__(self) -> _IndexClientOnUse:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._client is not None:
            self._client.close()


def _previous_pins(lock_file: Path, console: Console) -> Lock | None:
    """The existing lock, whose pins the new solve prefers; a lock that cannot be read only loses
    that preference (with a warning), since the solve replaces it anyway."""
    from envlock.errors import EnvlockError
    from envlock.lock.read import load_lock

    try:
        return load_lock(lock_file, verify=False)
    except EnvlockError as err:
        console.warn(f"{lock_file}: not read for its pins ({err.message}); solving from scratch")
        return None
