"""Carry out an install plan: verified artifacts into the store, then one build under a lease."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envlock.errors import IntegrityError, NetworkError, StoreError
from envlock.install.plan import InstallPlan
from envlock.install.sources import ArtifactSource
from envlock.install.wheels import choose_artifacts
from envlock.lock.model import Artifact, LockedPackage
from envlock.progress import PhaseLog, Progress
from envlock.store.layout import new_token
from envlock.store.roots import add_root, lock_root_name, prefix_root_name

if TYPE_CHECKING:  # the store-hit path imports none of these (threading, subprocess, hashlib)
    from envlock.materialize import LocalArtifact, Materializer
    from envlock.store.artifacts import ArtifactState
    from envlock.store.lease import LeaseHolder
    from envlock.store.local import LocalStore


FETCH_THREADS = 4  # downloads (or bundle copies) at once


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallResult:
    path: Path
    built: bool  # this process built it (False: it was there, or another process built it)
    target: str
    env_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Sources:
    """Where missing artifacts come from, in order; `offline` forbids the network."""

    bundle: ArtifactSource | None
    network: Callable[[], ArtifactSource] | None  # None: offline
    direct: ArtifactSource | None = None  # for the packages of direct references (`name @ url`)


def _missing_error(art: Artifact, state: ArtifactState) -> Exception:
    from envlock.store.artifacts import ArtifactState

    if state is ArtifactState.CORRUPT:
        return IntegrityError(
            f"{art.filename}: the store's copy is corrupt (sha256 does not match the lock) and --offline "
            "forbids fetching it again",
            hint="rerun without --offline, or with --bundle DIR from `envlock fetch`",
            details={"file": art.filename},
        )
    return NetworkError(
        f"--offline: {art.filename} is not in the store and no bundle was given",
        hint="make a bundle with `envlock fetch -o DIR` where there is network, then "
        "`envlock install --offline --bundle DIR`",
        details={"file": art.filename},
    )


def check_artifacts(
    plan: InstallPlan, chosen: Sequence[tuple[LockedPackage, Artifact]] | None = None
) -> list[tuple[LockedPackage, Artifact, ArtifactState]]:
    """Each file the target installs (`chosen`, else chosen here), and whether the store holds a
    good copy of it (every copy re-hashed, several at once)."""
    from envlock.store.artifacts import check_stored_all

    if chosen is None:
        chosen = choose_artifacts(plan.target)
    states = check_stored_all(plan.store, [art for _p, art in chosen])
    return [(package, art, state) for (package, art), state in zip(chosen, states, strict=True)]


def gather_artifacts(
    plan: InstallPlan,
    sources: Sources,
    progress: Progress,
    checked: list[tuple[LockedPackage, Artifact, ArtifactState]] | None = None,
    *,
    before_fetch: Callable[[], None] | None = None,
    phases: PhaseLog | None = None,
) -> tuple[LocalArtifact, ...]:
    """Every file the target installs, verified, in the store's artifact area.

    `checked` is what `check_artifacts` found (computed here when not given); what is missing or
    corrupt comes from the bundle, else the network, and is verified before it is stored.
    `before_fetch` runs once the sources are ready (the network client made) and before anything
    is fetched: a caller can wait there for slower work that must succeed first. `phases` gets one
    line saying how much is fetched from where.
    """
    from envlock.materialize import LocalArtifact
    from envlock.store.artifacts import ArtifactState, in_threads, store_artifact

    checked = checked if checked is not None else check_artifacts(plan)
    fetches: list[Callable[[], Path]] = []
    sizes: list[int] = []
    messages: list[str] = []
    network: ArtifactSource | None = None
    for package, art, state in checked:
        if state is ArtifactState.OK:
            continue
        if state is ArtifactState.CORRUPT:
            progress.warn(f"{art.filename}: the store's copy is corrupt; fetching it again")
        if package.source is not None and sources.direct is not None:
            source = sources.direct
        elif sources.bundle is not None:
            source = sources.bundle
        elif sources.network is not None:
            network = network or sources.network()
            source = network
        else:
            raise _missing_error(art, state)
        messages.append(f"fetching {art.filename} from {source.description}")
        fetches.append(
            functools.partial(
                store_artifact, plan.store, art, _writer(source, art), origin=source.description
            )
        )
        sizes.append(art.size)
    if before_fetch is not None:
        before_fetch()
    if phases is not None:
        if fetches:
            # the network source names the other stores on this machine it copies from first
            described = network.description if network is not None else "the network"
            where = "from " + (sources.bundle.description if sources.bundle is not None else described)
            verb = "copying" if sources.bundle is not None else "downloading"
            phases.phase(f"{verb} {len(fetches)} files / {sum(sizes) / 1e6:.1f} MB {where}")
        else:
            phases.phase(f"all {len(checked)} files are in the store already (verified)")
    for message in messages:
        progress.step(message)
    # Several at once: one connection rarely fills the link, and each is verified as it lands.
    in_threads(fetches, threads=FETCH_THREADS, weights=sizes)
    return tuple(
        LocalArtifact(package=package, artifact=art, path=plan.store.artifact_path(art.sha256, art.filename))
        for package, art, _state in checked
    )


def _private_copies(
    plan: InstallPlan, files: Sequence[LocalArtifact], folder: Path
) -> tuple[LocalArtifact, ...]:
    """`files`, with the conda packages and toolkit archives among them moved to verified private
    copies in `folder` (`store.artifacts.private_copy`; a hard link where the file is the very one
    this process verified): those are read by code that checks no hash (rattler, the toolkit
    unpacker). Wheels stay where they are: uv checks each one's sha256 as it reads it, and keys its
    cache of unpacked wheels by their path, which a new folder per build would miss every time
    (a FIFO someone puts in a wheel's place would still make uv wait: see docs/architecture.md §8)."""
    from dataclasses import replace

    from envlock.store.artifacts import in_threads, private_copy
    from envlock.store.trust import Trust

    conda = {c.artifact.sha256 for c in plan.target.conda}
    toolkit = set(plan.target.toolkit)
    unchecked = [f for f in files if f.artifact.sha256 in conda or f.package in toolkit]
    if not unchecked:
        return tuple(files)
    try:
        folder.mkdir(mode=0o700)
    except OSError as exc:
        from envlock.store.errors import store_error

        raise store_error(exc, folder, "make a private folder for the build's files") from exc
    trusts = Trust.of(plan.store.root).trusts
    copies = in_threads(
        [functools.partial(private_copy, f.path, folder, f.artifact, trusts) for f in unchecked],
        threads=4,
        weights=[f.artifact.size for f in unchecked],
    )
    moved = {f.artifact.sha256: path for f, path in zip(unchecked, copies, strict=True)}
    return tuple(replace(f, path=moved.get(f.artifact.sha256, f.path)) for f in files)


def _writer(source: ArtifactSource, art: Artifact) -> Callable[[Path], str | None]:
    def write(dest: Path) -> str | None:
        return source.provide(art, dest)

    return write


def _register_root(plan: InstallPlan, path: Path) -> None:
    if plan.prefix:
        add_root(plan.store, prefix_root_name(path), path)
    else:
        add_root(plan.store, lock_root_name(plan.lock_path, plan.target.name), path, lock_path=plan.lock_path)


def apply_install(
    plan: InstallPlan,
    *,
    sources: Sources,
    materializer: Materializer,
    progress: Progress,
    on_wait: Callable[[LeaseHolder | None], None] | None = None,
    phases: PhaseLog | None = None,
) -> InstallResult:
    """Make `plan.path` hold the target's environment; a hit only refreshes the GC root.

    `phases` hears of each phase of a build: the lease won, the files fetched, the install.
    """
    if plan.hit:
        with contextlib.suppress(StoreError):  # a read-only store still serves its environments
            _register_root(plan, plan.path)
        return InstallResult(path=plan.path, built=False, target=plan.target.name, env_name=plan.env_name)
    from envlock.store.lease import stale_seconds_from_env
    from envlock.store.local import LocalStore

    stale = stale_seconds_from_env()
    store = LocalStore(plan.store, stale_seconds=stale)
    plan.store.ensure()

    def lease_info() -> dict[str, object]:
        # Every file the target's packages list (a superset of those the build will choose):
        # enough for `envlock gc` to keep them while the build runs, and cheap to compute.
        shas = {a.sha256 for p in (*plan.target.packages, *plan.target.toolkit) for a in p.artifacts}
        shas |= {c.artifact.sha256 for c in plan.target.conda}
        if plan.target.interpreter is not None:
            shas.add(plan.target.interpreter.artifact.sha256)
        return {"artifacts": sorted(shas)}

    def build(dest: Path, final: Path) -> None:
        # Only the builder gets here. The empty environment (and the interpreter search) starts
        # first and runs while the files are chosen, the store's copies re-hashed and the network
        # client made; `ready()` comes before any download, so a node without the locked Python
        # fails at once and fetches nothing.
        from envlock.materialize import MaterializeRequest

        if phases is not None:
            phases.phase(f"lease won: building {plan.env_name}")
        private = dest.with_name(f".{dest.name}.files")  # verified copies, removed after the build
        started = materializer.start(plan.target, dest)
        try:
            checked = check_artifacts(plan)
            files = gather_artifacts(
                plan, sources, progress, checked, before_fetch=started.ready, phases=phases
            )
            files = _private_copies(plan, files, private)
            if phases is not None:
                phases.phase(f"installing {len(files)} packages")
            progress.step(f"building {plan.env_name}")
            started.finish(
                MaterializeRequest(
                    env_name=plan.lock.inputs.name,
                    target=plan.target,
                    lock_content_hash=plan.lock.content_hash,
                    files=files,
                    final=final,
                )
            )
        finally:
            started.cancel()
            from envlock.store.modes import remove_tree

            remove_tree(private)

    if not plan.prefix:
        outcome = store.build(
            plan.env_name,
            info=lease_info,
            build=build,
            after_publish=lambda p: _register_root(plan, p),
            on_wait=on_wait,
        )
        if not outcome.built:
            _check_found(plan, outcome.path)
        return InstallResult(
            path=outcome.path, built=outcome.built, target=plan.target.name, env_name=plan.env_name
        )
    return _apply_prefix(plan, store, build, lease_info, stale)


def _check_found(plan: InstallPlan, path: Path) -> None:
    """IntegrityError unless the environment another process published at `path` (while this one
    waited or built) is the target's: the same record check a store hit gets (`install/plan.py`)."""
    from envlock.install.plan import foreign_env, record_problem
    from envlock.store.record import EnvRecord

    record = EnvRecord.read(path)
    target = plan.target
    problem = (
        "its record cannot be read" if record is None else record_problem(record, target, target.env_hash)
    )
    if problem is not None:
        raise foreign_env(path, target, problem)


def _apply_prefix(
    plan: InstallPlan,
    store: LocalStore,
    build: Callable[[Path, Path], None],
    lease_info: Callable[[], dict[str, object]],
    stale: float,
) -> InstallResult:
    from envlock.store.lease import acquire_lease
    from envlock.store.record import EnvRecord

    def current() -> bool:
        record = EnvRecord.read(plan.path)
        return record is not None and record.env_hash == plan.target.env_hash

    lease = acquire_lease(
        plan.store.lease_path(prefix_root_name(plan.path)),
        info=lambda: {"prefix": str(plan.path), **lease_info()},
        stale_seconds=stale,
        done=current,
    )
    if lease is None:
        return InstallResult(path=plan.path, built=False, target=plan.target.name, env_name=plan.env_name)
    with lease:
        try:
            plan.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            from envlock.errors import UsageError

            raise UsageError(
                f"--prefix {plan.path}: cannot create its parent directory: {exc.strerror or exc}",
                hint="choose a --prefix in a directory you can write",
                details={"prefix": str(plan.path)},
            ) from exc
        scratch = plan.path.with_name(f".{plan.path.name}.envlock-{new_token(6)}")
        try:
            build(scratch, plan.path)
            store.publish_prefix(scratch, plan.path)
            _register_root(plan, plan.path)
        finally:
            from envlock.store.modes import remove_tree

            remove_tree(scratch)
    return InstallResult(path=plan.path, built=True, target=plan.target.name, env_name=plan.env_name)


def env_path_for_run(path: Path) -> dict[str, str]:
    """The environment variables of a process running inside the environment at `path`."""
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)
    if (path / "conda-meta").is_dir():  # a conda prefix
        env["CONDA_PREFIX"] = str(path)
        env.pop("VIRTUAL_ENV", None)
    else:
        env["VIRTUAL_ENV"] = str(path)
    bins = [str(path / "bin")]
    cuda = path / "cuda"
    if cuda.is_dir():  # the locked CUDA toolkit ([cuda] toolkit)
        env["CUDA_HOME"] = env["CUDA_PATH"] = str(cuda)
        bins.append(str(cuda / "bin"))
    env["PATH"] = os.pathsep.join([*bins, env.get("PATH", os.defpath)])
    return env
