"""`solve`: spec -> lock. Picks, per target, one consistent torch / CUDA / cuDNN / NCCL set.

Flow for each target: find the variant options the indexes offer (rules 1–3, 7), resolve every
option through the backend concurrently (identical requests across targets are resolved once),
check the CUDA stack each resolution really pins (rule 4, architecture.md §5), rank the survivors (rules
5–6) and lock the best. When nothing survives, every variant considered is reported with its
reason and fix (rule 8).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envlock import __version__
from envlock.errors import EnvlockError, ResolutionError, UsageError
from envlock.index import IndexClient
from envlock.kb import KnowledgeBase
from envlock.kb.toolkit import DEFAULT_REDIST, wheel_extra
from envlock.lock.digest import env_hash, seal, target_env_hash
from envlock.lock.model import (
    CondaPackage,
    HeldComponent,
    Lock,
    LockedInterpreter,
    LockedPackage,
    LockedTarget,
    LockInputs,
    Rejection,
)
from envlock.lock.read import LOCK_VERSION
from envlock.platforms import Platform
from envlock.progress import Progress, Silent
from envlock.resolvers import Resolution, ResolutionRequest, ResolverBackend
from envlock.solve.archs import WheelArchReader
from envlock.solve.candidates import VariantOption, find_options
from envlock.solve.direct import DirectReference, prepare_direct_references
from envlock.solve.driver import driver_need, floating, judge_driver
from envlock.solve.inputs import lock_inputs, staleness
from envlock.solve.kernels import ArchRefusal, ArchVerdict, expected_torch_file, judge_wheel, torch_pages
from envlock.solve.memo import MemoClient
from envlock.solve.packages import lock_packages
from envlock.solve.stack import CudaStack, analyze, constraint_problems, mixed_majors_allowing
from envlock.solve.toolkit import LockedToolkit, ToolkitProblem, lock_toolkit
from envlock.spec.model import Spec, TargetSpec
from envlock.spec.parse import spec_hash

# Projects built per variant and published on each variant index; pinned to it when resolving.
TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
MAX_PARALLEL_RESOLUTIONS = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class _Outcome:
    """One option after resolution and the CUDA-stack check."""

    option: VariantOption
    resolution: Resolution
    torch: Version | None
    stack: CudaStack
    requires_driver: str | None
    compat: str | None
    requires_driver_from: str | None = None
    held: tuple[HeldComponent, ...] = ()
    archs: ArchVerdict | None = None
    warnings: tuple[str, ...] = ()
    toolkit: LockedToolkit | None = None  # [cuda] toolkit from NVIDIA's redist, for this CUDA


class _ResolutionPool:
    """Runs backend resolutions concurrently and resolves each distinct request once."""

    def __init__(self, backend: ResolverBackend, workers: int) -> None:
        self._backend = backend
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="envlock-resolve")
        self._futures: dict[ResolutionRequest, Future[Resolution]] = {}
        self._lock = threading.Lock()

    def submit(self, request: ResolutionRequest) -> Future[Resolution]:
        with self._lock:
            future = self._futures.get(request)
            if future is None:
                future = self._executor.submit(self._backend.resolve, request)
                self._futures[request] = future
            return future

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _torch_wanted(spec: Spec) -> SpecifierSet:
    wanted = SpecifierSet()
    for dep in spec.dependencies:
        req = Requirement(dep)
        if canonicalize_name(req.name) == "torch":
            wanted &= req.specifier
    return wanted


def _uses_torch(spec: Spec) -> bool:
    return any(canonicalize_name(Requirement(d).name) in TORCH_FAMILY for d in spec.dependencies)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Context:
    """What every target's solve shares besides the spec: the services it calls and the choices
    every resolution takes."""

    kb: KnowledgeBase
    client: MemoClient
    pool: _ResolutionPool
    default_index: str
    progress: Progress
    requirements: tuple[str, ...]  # the spec's, with direct references at their prepared wheels
    directs: dict[str, DirectReference]  # by normalized name
    previous: Lock | None  # its pins are preferences (stable re-solves)
    upgrade: bool  # --upgrade: no preferences at all
    upgrade_packages: frozenset[str]  # --upgrade-package: no preference for these
    pins: tuple[str, ...] = ()  # `name==version` every target must take (`[resolution] uniform`)
    wheel_archs: WheelArchReader | None = None  # reads torch wheels' own architectures

    def preferences(self, target: str, variant: str | None) -> tuple[str, ...]:
        """The previous lock's pins of `target` that this solve should keep where it can.

        Only the resolution of the variant the previous lock chose gets them (or the one resolution
        of a spec without torch): the pins of one variant's CUDA stack would hold another variant's
        floating CUDA components back and so change why that variant loses, and a re-solve of an
        unchanged spec must write the bytes a fresh solve writes.
        """
        old = self.previous.target(target) if self.previous and not self.upgrade else None
        if old is None or (variant is not None and variant != old.variant):
            return ()
        return tuple(
            f"{p.name}=={p.version}"
            for p in old.packages
            if p.source is None and p.name not in self.upgrade_packages
        )

    def previous_choice(self, target: str) -> LockedTarget | None:
        """The previous lock's target, whose torch version this solve keeps where it still passes
        every rule (None: free to pick the newest)."""
        if self.previous is None or self.upgrade or "torch" in self.upgrade_packages:
            return None
        return self.previous.target(target)


def _request(
    spec: Spec,
    target: TargetSpec,
    option: VariantOption | None,
    default_index: str,
    ctx: _Context,
    held: Sequence[HeldComponent] = (),
) -> ResolutionRequest:
    pinned: tuple[tuple[str, str], ...] = ()
    constraints: tuple[str, ...] = ctx.pins
    if option is not None:
        if option.index is not None:
            pinned = tuple((name, option.index) for name in TORCH_FAMILY)
        constraints += tuple(f"torch!={v}" for v in option.excluded)
    constraints += tuple(f"{h.name}=={h.version}" for h in held)
    requirements = ctx.requirements
    if target.has_gpus and spec.cuda.toolkit_source == "index" and (option is None or option.cuda):
        requirements = (*requirements, *_toolkit_requirement(spec, option.cuda if option else None))
    if (
        option is not None
        and option.index is not None
        and not any(canonicalize_name(Requirement(d).name) == "torch" for d in requirements)
    ):
        # uv applies index pinning to direct dependencies only: name torch so that it comes from
        # the variant index even when only torchvision or torchaudio asked for it.
        requirements = (*requirements, "torch")
    return ResolutionRequest(
        requirements=requirements,
        constraints=constraints,
        python=spec.python,
        platform=target.platform,
        glibc=target.glibc,
        default_index=default_index,
        extra_indexes=spec.indexes.extra,
        pinned=pinned,
        exclude_newer=spec.exclude_newer,
        preferences=ctx.preferences(target.name, option.variant if option is not None else None),
    )


def _conflict_explanation(err: ResolutionError) -> str | None:
    """The backend's whole explanation of a dependency conflict, when it gave one."""
    explanation = err.details.get("explanation")
    return explanation if isinstance(explanation, str) and explanation.strip() else None


def _toolkit_requirement(spec: Spec, cuda: str | None) -> tuple[str, ...]:
    """`[cuda] toolkit` from NVIDIA's wheels: the cuda-toolkit metapackage of the variant's CUDA
    minor; without a torch variant, of the CUDA `[cuda] version` allows."""
    if not spec.cuda.toolkit:
        return ()
    extras = ",".join(sorted({wheel_extra(c) for c in spec.cuda.toolkit}))
    version = f"=={cuda}.*" if cuda else (spec.cuda.version or "")
    return (f"cuda-toolkit[{extras}]{version}",)


def _redist_toolkit(
    cuda: str, target: TargetSpec, spec: Spec, kb: KnowledgeBase, client: MemoClient
) -> LockedToolkit | ToolkitProblem:
    return lock_toolkit(
        client,
        base=spec.indexes.nvidia_redist or DEFAULT_REDIST,
        cuda=cuda,
        platform=target.platform,
        jetson=all(kb.is_tegra(cc) for cc in target.archs),
        wanted=spec.cuda.toolkit,
    )


def _wants_redist_toolkit(spec: Spec, target: TargetSpec) -> bool:
    return bool(spec.cuda.toolkit) and target.has_gpus and spec.cuda.toolkit_source == "redist"


def _with_toolkit(
    locked: LockedTarget,
    target: TargetSpec,
    spec: Spec,
    kb: KnowledgeBase,
    client: MemoClient,
    found: LockedToolkit | None = None,
) -> LockedTarget | _Unsatisfiable:
    """`locked` with the CUDA toolkit of `[cuda] toolkit` (GPU targets only), or why it has none.

    `found` is the toolkit already locked for the chosen variant; without it (no torch variants
    were involved) it is looked up for the CUDA the set pins.
    """
    if not spec.cuda.toolkit or not target.has_gpus:
        return locked
    if spec.cuda.toolkit_source == "index":
        meta = locked.package("cuda-toolkit")
        return replace(locked, toolkit_source="index", toolkit_release=meta.version if meta else None)
    if locked.cuda is None:
        return locked
    toolkit = found or _redist_toolkit(locked.cuda, target, spec, kb, client)
    if isinstance(toolkit, ToolkitProblem):
        return _Unsatisfiable(
            target=target.name,
            rejected=(_rejection(locked.variant, toolkit),),
        )
    found = toolkit
    with_toolkit = replace(
        locked, toolkit_source="redist", toolkit_release=found.release, toolkit=found.components
    )
    return replace(with_toolkit, env_hash=target_env_hash(with_toolkit))


class _Problem(Protocol):
    """Why a step refused a variant: a missing toolkit, a wheel without the GPUs' kernels, a conda clash."""

    @property
    def reason(self) -> str: ...
    @property
    def fix(self) -> str: ...


def _rejection(variant: str, problem: _Problem) -> Rejection:
    return Rejection(variant=variant, reason=problem.reason, fix=problem.fix)


def _resolution_rejection(variant: str, err: ResolutionError) -> Rejection:
    """A variant whose resolution failed: a dependency conflict, or whatever else the backend said."""
    explanation = _conflict_explanation(err)
    if explanation is not None:
        # the whole explanation, on one line as a lock records it (the error prints it laid out)
        return Rejection(
            variant=variant,
            reason="dependencies conflict: " + " ".join(x.strip() for x in explanation.splitlines()),
            fix="relax the conflicting requirement",
        )
    lines = [line.strip() for line in err.message.splitlines() if line.strip()]
    if "No solution found" in err.message:
        cause = next((line for line in lines if line.startswith(("cause:", "Because", "╰─▶"))), lines[-1])
        return Rejection(
            variant=variant,
            reason="dependencies conflict: " + cause.removeprefix("cause:").strip(),
            fix="relax the conflicting requirement",
        )
    return Rejection(variant=variant, reason=lines[0] if lines else "the resolver failed", fix=err.hint)


def _evaluate(
    option: VariantOption,
    resolution: Resolution,
    target: TargetSpec,
    spec: Spec,
    kb: KnowledgeBase,
    *,
    held: tuple[HeldComponent, ...] = (),
    archs: ArchVerdict | None = None,
) -> _Outcome | Rejection:
    """Rule 4 and the driver the locked stack needs (architecture.md §5), for one resolved option."""
    pairs = [(p.name, p.version) for p in resolution.packages]
    stack = analyze(pairs)
    torch_pkg = resolution.package("torch")
    torch = Version(torch_pkg.version) if torch_pkg else None
    mixed, _allowed = mixed_majors_allowing(stack, spec.cuda.allow_mixed)
    if mixed:
        return Rejection(
            variant=option.variant,
            reason=mixed,
            fix="pin the packages of the other CUDA major "
            "to builds of the variant's major (e.g. cupy-cuda12x with a cu12x torch), "
            f"or name the ones that may differ in {spec.table('cuda')} allow-mixed",
        )
    # [cuda] constrains the CUDA stack; a CPU-only target has none to hold it against.
    problems = (
        constraint_problems(stack, cuda=spec.cuda.version, cudnn=spec.cuda.cudnn, nccl=spec.cuda.nccl)
        if target.has_gpus
        else ()
    )
    if problems:
        reason, fix = problems[0]
        return Rejection(variant=option.variant, reason=reason, fix=fix)
    need = driver_need(
        pairs,
        variant_cuda=option.cuda,
        ptx_reaches_driver=archs is not None and archs.ptx_reaches_driver,
    )
    judged = judge_driver(need, option.variant, target, spec, kb)
    if isinstance(judged, Rejection):
        return judged
    return _Outcome(
        option=option,
        resolution=resolution,
        torch=torch,
        stack=stack,
        requires_driver=judged.requires_driver,
        compat=judged.compat,
        requires_driver_from=need.package,
        held=held,
        archs=archs,
        warnings=(*judged.warnings, *(archs.warnings if archs else ())),
    )


def _pick(
    outcomes: Sequence[_Outcome], mode: str, previous: LockedTarget | None = None
) -> tuple[_Outcome, list[Rejection]]:
    """Rules 5 and 6: native first (prefer-native), then the newest torch, then the highest CUDA.

    With `previous` (a re-solve), the torch version it locked wins among equally native outcomes
    that still offer it, as uv keeps locked versions; the variant is then chosen by the rules again
    (the same inputs choose the same one).
    """

    def key(o: _Outcome) -> tuple[bool, bool, Version, Version]:
        native = mode != "prefer-native" or o.compat in (None, "native")
        torch = Version(o.torch.public) if o.torch else Version("0")
        kept = (
            previous is not None
            and previous.torch is not None
            and o.torch is not None
            and o.torch.public == Version(previous.torch).public
        )
        return (native, kept, torch, Version(o.stack.runtime or o.option.cuda or "0"))

    ordered = sorted(outcomes, key=key, reverse=True)
    best = ordered[0]
    losers: list[Rejection] = []
    for o in ordered[1:]:
        if mode == "prefer-native" and best.compat == "native" and o.compat == "minor-version":
            why = f"works only through minor-version compatibility; {best.option.variant} runs natively"
        elif key(o)[:1] + key(o)[2:] > key(best)[:1] + key(best)[2:]:  # it lost only to the kept torch
            why = f"the existing lock has torch {best.torch.public if best.torch else '?'}, which still fits"
        elif o.torch and best.torch and o.torch.public != best.torch.public:
            why = f"its newest allowed torch is {o.torch.public}, older than {best.torch.public}"
        else:
            mine, theirs = o.stack.runtime or o.option.cuda, best.stack.runtime or best.option.cuda
            why = f"CUDA {mine} is lower than {theirs}"
        losers.append(Rejection(variant=o.option.variant, reason=f"not chosen: {why}"))
    return best, losers


def _target_lock(
    target: TargetSpec,
    spec: Spec,
    kb: KnowledgeBase,
    best: _Outcome | None,
    resolution: Resolution,
    rejections: Sequence[Rejection],
    client: MemoClient,
    default_index: str,
    ctx: _Context,
) -> LockedTarget:
    option = best.option if best else None
    pinned = {name: option.index for name in TORCH_FAMILY} if option and option.index else {}
    # lock_packages reads the locked releases' pages itself, in parallel.
    from_index = [p for p in resolution.packages if canonicalize_name(p.name) not in ctx.directs]
    direct = [
        LockedPackage(name=d.name, version=d.version, index="", artifacts=(d.artifact,), source=d.source)
        for p in resolution.packages
        if (d := ctx.directs.get(canonicalize_name(p.name))) is not None
    ]
    indexed = lock_packages(
        client,
        from_index,
        pinned=pinned,
        indexes=[default_index, *spec.indexes.extra],
        tags=Platform.of(target.platform, python=spec.python, glibc=target.glibc).tags(),
    )
    packages = tuple(sorted((*indexed, *direct), key=lambda p: p.name))
    stack = best.stack if best else analyze((p.name, p.version) for p in resolution.packages)
    kb_status = "none"
    if best and best.torch is not None and option is not None:
        kb_status = option.build(best.torch).status
    _, allowed_mixed = mixed_majors_allowing(stack, spec.cuda.allow_mixed)
    archs = best.archs if best else None
    return LockedTarget(
        name=target.name,
        platform=target.platform,
        glibc=target.glibc,
        python=spec.python,
        gpus=tuple(cc.sm for cc in target.archs),
        driver=target.driver,
        variant=option.variant if option else "none",
        torch=str(best.torch) if best and best.torch else None,
        cuda=stack.runtime or (option.cuda if option else None),
        cudnn=stack.cudnn,
        nccl=stack.nccl,
        requires_driver=best.requires_driver if best else None,
        compat=best.compat if best else None,
        kb_status=kb_status,
        env_hash=env_hash(python=spec.python, platform=target.platform, packages=packages),
        packages=packages,
        rejected=tuple(sorted(rejections, key=lambda r: r.variant)),
        allowed_mixed=allowed_mixed,
        requires_driver_from=best.requires_driver_from if best else None,
        held=best.held if best else (),
        archs_source=archs.source if archs else None,
        torch_sass=archs.sass_names if archs and archs.source == "wheel" else (),
        torch_ptx=archs.ptx_names if archs and archs.source == "wheel" else (),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Unsatisfiable:
    target: str
    rejected: tuple[Rejection, ...]
    # variant -> the backend's whole explanation, for variants whose resolution hit a conflict
    conflicts: tuple[tuple[str, str], ...] = ()

    @property
    def common_conflict(self) -> str | None:
        """The conflict, when it does not depend on the CUDA variant: every variant that was
        resolved failed with the same explanation (local labels like +cu124 aside), and that
        explanation names no torch build or CUDA piece, so no other variant, driver or GPU
        would change it."""
        if not self.conflicts:
            return None
        texts = {_VARIANT_LABEL.sub("", text) for _, text in self.conflicts}
        if len(texts) != 1:
            return None
        text = self.conflicts[0][1]
        only_option = len(self.conflicts) == 1 and self.conflicts[0][0] in ("cpu", "none")
        return None if _VARIANT_BOUND.search(text) and not only_option else text


# Local version labels of the variant builds, and the names whose versions differ by variant.
_VARIANT_LABEL = re.compile(r"\+(?:cu\d+|cpu|rocm[\d.]+)\b")
_VARIANT_BOUND = re.compile(
    r"(?<![\w-])(?:torch|torchvision|torchaudio|triton|nvidia-[\w-]+|cuda-[\w-]+|cupy-cuda\d+x)(?![\w-])"
)


def _settle(
    option: VariantOption, first: Future[Resolution], target: TargetSpec, spec: Spec, ctx: _Context
) -> _Outcome | Rejection:
    """Resolve one option to an outcome: hold floating CUDA components to the variant's minor, then
    ask the torch wheel itself for its kernels; a release the wheel rules out is excluded and the
    option resolved again, until a release passes or none is left."""
    kb, client, pool, default_index = ctx.kb, ctx.client, ctx.pool, ctx.default_index
    future = first
    current = option
    refusals: list[ArchRefusal] = []
    while True:
        try:
            resolution = future.result()
        except ResolutionError as err:
            if refusals:
                return _rejection(option.variant, refusals[-1])
            return _resolution_rejection(option.variant, err)
        _prefetch_releases(resolution, current, ctx)
        pairs = [(p.name, p.version) for p in resolution.packages]
        held = floating(pairs, current.cuda)
        notes: tuple[str, ...] = ()
        if held:
            kept = _hold(resolution, pool.submit(_request(spec, target, current, default_index, ctx, held)))
            if kept is None:
                # The held set does not resolve, or only with another torch: keep the floating one.
                notes = tuple(
                    f"{target.name}: {h.name} {h.reason.split(',')[0]}; holding it to {h.version} does not "
                    f"resolve with torch {_torch_version(resolution)}, so it floats (it does not raise the "
                    "driver need)"
                    for h in held
                )
                held = ()
            else:
                resolution = kept
        archs = judge_wheel(
            current, resolution, target, spec, kb, ctx.wheel_archs, torch_pages(client), default_index
        )
        if isinstance(archs, ArchRefusal):
            refusals.append(archs)
            allowed = tuple(v for v in current.allowed if v.public != archs.version.public)
            if not allowed:
                return _rejection(option.variant, archs)
            current = replace(
                current,
                allowed=allowed,
                excluded=tuple(sorted({*current.excluded, Version(archs.version.public)})),
            )
            future = pool.submit(_request(spec, target, current, default_index, ctx))
            continue
        result = _evaluate(current, resolution, target, spec, kb, held=held, archs=archs)
        if isinstance(result, _Outcome) and notes:
            result = replace(result, warnings=(*result.warnings, *notes))
        return result


def _prefetch_releases(resolution: Resolution, option: VariantOption, ctx: _Context) -> None:
    """Start fetching the index pages `lock_packages` reads for this resolution (each release from
    the index it asks first), while the solver still reads the torch wheel and picks a variant."""
    pinned = option.index if option.index is not None else None
    wanted = [
        key
        for p in resolution.packages
        if (key := _release_key(p.name, p.version, ctx, pinned=pinned)) is not None
    ]
    ctx.client.prefetch_releases(wanted)


def _release_key(
    name: str, version: str, ctx: _Context, *, pinned: str | None
) -> tuple[str, str, Version] | None:
    """(index, project, version) of the release `lock_packages` reads first for a resolved package:
    the torch family from its variant index `pinned`, the rest from the default index; None for a
    direct reference or a version that is not PEP 440."""
    project = canonicalize_name(name)
    if project in ctx.directs:
        return None
    try:
        parsed = Version(version)
    except InvalidVersion:
        return None
    index = pinned if pinned is not None and project in TORCH_FAMILY else ctx.default_index
    return index, project, parsed


def _watch_selections(backend: ResolverBackend, ctx: _Context) -> Callable[[], None]:
    """Start reading each release's index page as soon as the backend selects it while it resolves
    (uv logs its choices as it goes), rather than after it answers; returns the undo. A selection
    uv later drops costs one page read that the lock does not use."""
    watch = getattr(backend, "watch_selections", None)
    if watch is None:
        return lambda: None

    def selected(request: ResolutionRequest, name: str, version: str) -> None:
        pinned = dict(request.pinned).get(canonicalize_name(name))
        key = _release_key(name, version, ctx, pinned=pinned)
        if key is not None:
            ctx.client.prefetch_releases([key])

    watch(selected)
    return lambda: watch(None)


def _torch_version(resolution: Resolution) -> str:
    torch = resolution.package("torch")
    return torch.version if torch else "(none)"


def _hold(floating_set: Resolution, held: Future[Resolution]) -> Resolution | None:
    """The held resolution, when it resolves and keeps the same torch; else None."""
    try:
        resolution = held.result()
    except ResolutionError:
        return None
    return resolution if _torch_version(resolution) == _torch_version(floating_set) else None


def _solve_target(target: TargetSpec, spec: Spec, ctx: _Context) -> LockedTarget | _Unsatisfiable:
    """The PyPI part (variants, resolution, toolkit), then the `[conda]` part under it."""
    kb, progress = ctx.kb, ctx.progress
    conda: tuple[CondaPackage, ...] = ()
    if spec.conda is not None:
        progress.step(f"{target.name}: solving the [conda] part")
        solved = _solve_conda_part(target, spec, kb)
        if isinstance(solved, _Unsatisfiable):
            return solved
        conda = solved
    result = _solve_pypi(target, spec, ctx, conda)
    if isinstance(result, _Unsatisfiable) or not conda:
        return result
    return _with_conda(result, target, spec, conda)


def _solve_conda_part(
    target: TargetSpec, spec: Spec, kb: KnowledgeBase
) -> tuple[CondaPackage, ...] | _Unsatisfiable:
    from envlock.solve.conda import CondaProblem, solve_conda
    from envlock.userfiles import default_cache_root

    assert spec.conda is not None
    solved = solve_conda(
        spec.conda,
        platform=target.platform,
        glibc=target.glibc,
        driver=target.driver,
        kb=kb,
        cache_dir=default_cache_root() / "rattler",
        exclude_newer=spec.exclude_newer,
    )
    if isinstance(solved, CondaProblem):
        return _Unsatisfiable(target=target.name, rejected=(_rejection("conda", solved),))
    python = next((p for p in solved if p.name == "python"), None)
    if python is not None and ".".join(python.version.split(".")[:2]) != spec.python_version:
        raise UsageError(
            f"target {target.name}: the [conda] part locks python {python.version}, "
            f"but [env].python is {spec.python}",
            hint=f'set [env] python = "{".".join(python.version.split(".")[:2])}" or pin '
            f'"python {spec.python_version}.*" in [conda].dependencies: the conda Python runs the PyPI part',
        )
    return solved


def _conda_stack(conda: tuple[CondaPackage, ...]) -> dict[str, str]:
    """The CUDA pieces a conda part pins: `cuda-version` (X.Y), cuDNN and NCCL versions."""
    found = {c.name: c.version for c in conda}
    stack: dict[str, str] = {}
    if "cuda-version" in found:
        stack["cuda"] = ".".join(found["cuda-version"].split(".")[:2])
    for name in ("cudnn", "nccl"):
        if name in found:
            stack[name] = found[name]
    return stack


def _conda_stack_problem(
    pypi_cuda: str | None, spec: Spec, conda: tuple[CondaPackage, ...], variant: str = "conda"
) -> Rejection | None:
    """One CUDA major across both parts, and `[cuda]` constraints held by the conda part's pins too."""
    stack = _conda_stack(conda)
    cuda = stack.get("cuda")
    if cuda and pypi_cuda and cuda.split(".")[0] != pypi_cuda.split(".")[0]:
        return Rejection(
            variant=variant,
            reason=f"the [conda] part pins CUDA {cuda} (cuda-version) and this variant CUDA {pypi_cuda}: "
            "two CUDA majors in one environment",
            fix=f'a variant of CUDA {cuda.split(".")[0]}.x, or pin "cuda-version {pypi_cuda}.*" in [conda]',
        )
    for key, wanted in (("cuda", spec.cuda.version), ("cudnn", spec.cuda.cudnn), ("nccl", spec.cuda.nccl)):
        have = stack.get(key)
        if have and wanted and not SpecifierSet(wanted).contains(Version(have), prereleases=True):
            return Rejection(
                variant=variant,
                reason=f"the [conda] part pins {key} {have}, "
                f"which does not satisfy [cuda].{'version' if key == 'cuda' else key} {wanted!r}",
                fix=f"pin {key} in [conda].dependencies to a version that does",
            )
    return None


def _with_conda(
    locked: LockedTarget, target: TargetSpec, spec: Spec, conda: tuple[CondaPackage, ...]
) -> LockedTarget | _Unsatisfiable:
    """`locked` with its conda part; a distribution both parts would install is refused by name,
    and the CUDA pieces of both parts must agree."""
    problem = _conda_stack_problem(locked.cuda, spec, conda) if target.has_gpus else None
    if problem is not None:
        return _Unsatisfiable(target=target.name, rejected=(problem,))
    pypi = {canonicalize_name(p.name): p for p in locked.packages}
    both = [(c, pypi[canonicalize_name(c.name)]) for c in conda if canonicalize_name(c.name) in pypi]
    if both:
        c, p = both[0]
        return _Unsatisfiable(
            target=target.name,
            rejected=(
                Rejection(
                    variant="conda",
                    reason=f"{c.name} would be installed twice: conda {c.name} {c.version} "
                    f"({c.channel}) and PyPI {p.name} {p.version}",
                    fix=f"take {c.name} from one part only: remove it from [conda].dependencies, "
                    "or from [env].dependencies (or pin what pulls it in)",
                ),
            ),
        )
    stack = _conda_stack(conda) if target.has_gpus else {}
    with_conda = replace(
        locked,
        # where the PyPI part pins no CUDA stack, the conda part's is the target's
        cuda=locked.cuda or stack.get("cuda"),
        cudnn=locked.cudnn or stack.get("cudnn"),
        nccl=locked.nccl or stack.get("nccl"),
        conda=conda,
    )
    return replace(with_conda, env_hash=target_env_hash(with_conda))


def _solve_pypi(
    target: TargetSpec, spec: Spec, ctx: _Context, conda: tuple[CondaPackage, ...] = ()
) -> LockedTarget | _Unsatisfiable:
    kb, client, pool, default_index, progress = ctx.kb, ctx.client, ctx.pool, ctx.default_index, ctx.progress
    if not _uses_torch(spec):
        progress.step(f"{target.name}: resolving (no torch in the dependencies)")
        request = _request(spec, target, None, default_index, ctx)
        try:
            # Nothing to resolve (a spec whose packages all come from its [conda] part): no uv run.
            resolution = (
                pool.submit(request).result()
                if request.requirements
                else Resolution(packages=(), backend="none")
            )
        except ResolutionError as err:
            explanation = _conflict_explanation(err)
            if explanation is None:
                raise
            rejection = _resolution_rejection("none", err)
            return _Unsatisfiable(
                target=target.name, rejected=(rejection,), conflicts=(("none", explanation),)
            )
        if resolution.package("torch") is None:
            locked = _target_lock(target, spec, kb, None, resolution, (), client, default_index, ctx)
            return _with_toolkit(locked, target, spec, kb, client)
        # torch came in through another package (vllm, accelerate): its variant is chosen per
        # target all the same, or a GPU target would get whatever build the default index has
        progress.step(f"{target.name}: torch is pulled in by the dependencies")
    gpu_problems = [
        p
        for cc in target.archs
        if target.driver and (p := kb.gpu_driver_problem(cc, target.driver, target.platform))
    ]
    progress.step(f"{target.name}: looking up torch variants")
    if spec.indexes.pytorch is not None:
        base = spec.indexes.pytorch.rstrip("/")
        variants = [v for v in kb.known_variants() if target.has_gpus != (v == "cpu")]
        client.prefetch((f"{base}/{v}/", "torch") for v in variants)
    options, rejections = find_options(
        target,
        spec,
        kb,
        client,
        default_index=default_index,
        torch_wanted=_torch_wanted(spec),
        gpu_problems=gpu_problems,
    )
    futures = [(o, pool.submit(_request(spec, target, o, default_index, ctx))) for o in options]
    if ctx.wheel_archs is not None:
        # While uv resolves, read the torch wheels it will most likely pick (once per file, ever).
        for option in options:
            preferences = ctx.preferences(target.name, option.variant)
            expected = expected_torch_file(
                option, target, spec, torch_pages(client), default_index, preferences
            )
            if expected is not None:
                ctx.wheel_archs.start(expected)
    outcomes: list[_Outcome] = []
    conflicts: list[tuple[str, str]] = []
    for option, future in futures:
        progress.step(f"{target.name}: resolving {option.variant}")
        result = _settle(option, future, target, spec, ctx)
        failed = future.exception()
        if isinstance(result, Rejection) and isinstance(failed, ResolutionError):
            explanation = _conflict_explanation(failed)
            if explanation is not None:
                conflicts.append((option.variant, explanation))
        if isinstance(result, _Outcome) and _wants_redist_toolkit(spec, target):
            # The toolkit must exist for the CUDA the set pins: a variant without one loses here.
            toolkit = _redist_toolkit(result.stack.runtime or option.cuda or "", target, spec, kb, client)
            if isinstance(toolkit, ToolkitProblem):
                result = _rejection(option.variant, toolkit)
            else:
                result = replace(result, toolkit=toolkit)
        if isinstance(result, _Outcome) and conda and target.has_gpus:
            # The conda part's CUDA pieces must agree with the variant's: a variant that clashes loses.
            clash = _conda_stack_problem(result.stack.runtime or option.cuda, spec, conda, option.variant)
            result = clash or result
        if isinstance(result, Rejection):
            rejections.append(result)
        else:
            outcomes.append(result)
    if not outcomes:
        return _Unsatisfiable(
            target=target.name,
            rejected=tuple(sorted(rejections, key=lambda r: r.variant)),
            conflicts=tuple(conflicts),
        )
    best, losers = _pick(outcomes, spec.cuda.driver_compat, ctx.previous_choice(target.name))
    progress.step(f"{target.name}: locking {best.option.variant} (torch {best.torch})")
    for warning in best.warnings:
        progress.warn(warning)
    locked = _target_lock(
        target, spec, kb, best, best.resolution, [*rejections, *losers], client, default_index, ctx
    )
    if spec.cuda.toolkit and target.has_gpus:
        progress.step(f"{target.name}: locking the CUDA {locked.cuda} toolkit")
    return _with_toolkit(locked, target, spec, kb, client, best.toolkit)


def _describe_target(name: str, spec: Spec) -> str:
    target = spec.target(name)
    what = (
        f"{', '.join(g.written for g in target.gpus)}, driver {target.driver}"
        if target and target.gpus
        else "CPU only"
    )
    return f"target {name} ({target.platform if target else '?'}, {what})"


def _unsatisfiable_error(failures: Sequence[_Unsatisfiable], spec: Spec) -> ResolutionError:
    """One explanation per failure: a conflict that no variant changes is said once, in the
    backend's whole words, without driver or GPU hints; otherwise every variant says what it
    ran into, variants with the same reason together."""
    conflict_hint = f"relax the conflicting requirements in {_dependencies_key(spec)}"
    details: dict[str, object] = {
        "targets": [
            {
                "name": f.target,
                "variant-independent": f.common_conflict is not None,
                **({"explanation": f.common_conflict} if f.common_conflict is not None else {}),
                "rejected": [{"variant": r.variant, "reason": r.reason, "fix": r.fix} for r in f.rejected],
            }
            for f in failures
        ]
    }
    commons = {f.common_conflict for f in failures}
    if len(commons) == 1 and None not in commons:
        explanation = failures[0].common_conflict or ""
        names = ", ".join(f.target for f in failures)
        where = f"target {names}" if len(failures) == 1 else f"targets {names}"
        if "was not found in the package registry" in explanation:
            conflict_hint = (
                "check the package's name; if it lives on another index, add that index to "
                f"{spec.table('indexes')} extra"
            )
        return ResolutionError(
            f"the dependencies conflict ({where}; no CUDA variant changes this):\n"
            + _indent(explanation, "  "),
            hint=conflict_hint,
            details=details,
        )
    lines: list[str] = []
    fixes: set[str] = set()
    for f in failures:
        common = f.common_conflict
        if common is not None:
            lines.append(
                f"{_describe_target(f.target, spec)}: the dependencies conflict, whatever the variant:"
            )
            lines.append(_indent(common, "    "))
            fixes.add(conflict_hint)
            continue
        lines.append(f"{_describe_target(f.target, spec)} cannot be satisfied:")
        explanations = dict(f.conflicts)
        groups: dict[tuple[str, str | None], list[str]] = {}
        for r in f.rejected:
            text = explanations.get(r.variant)
            key = ("conflict:" + text, r.fix) if text is not None else (r.reason, r.fix)
            groups.setdefault(key, []).append(r.variant)
        for (reason, fix), variants in groups.items():
            head = f"  {', '.join(variants)}: "
            tail = f"  [fix: {fix}]" if fix else ""
            if reason.startswith("conflict:"):
                lines.append(head + "dependencies conflict:" + tail)
                lines.append(_indent(reason.removeprefix("conflict:"), "      "))
            else:
                lines.append(head + reason + tail)
            if fix:
                fixes.add(conflict_hint if fix == "relax the conflicting requirement" else fix)
    hint = "one of: " + "; ".join(sorted(fixes)) if fixes else "loosen the spec's constraints"
    return ResolutionError(
        _in_file_terms("\n".join(lines), spec), hint=_in_file_terms(hint, spec), details=details
    )


_TABLE_WORD = re.compile(r"(?<![\w.\[])\[(env|cuda|indexes|resolution)\]")


def _in_file_terms(text: str, spec: Spec) -> str:
    """Table names as the spec's own file spells them (`[tool.envlock.cuda]` in pyproject.toml)."""
    if spec.source.name != "pyproject.toml":
        return text
    return _TABLE_WORD.sub(lambda m: spec.table(m.group(1)), text)


def _dependencies_key(spec: Spec) -> str:
    if spec.source.name == "pyproject.toml":
        return f"{spec.table('env')}.dependencies or [project].dependencies"
    return f"{spec.table('env')}.dependencies"


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _torch_contradiction(spec: Spec) -> ResolutionError | None:
    """`torch>=2.6,<2.5`: a torch range that admits no version at all, said once before any index
    is asked (every variant would otherwise report it as its own)."""
    wanted = _torch_wanted(spec)
    low: tuple[Version, bool] | None = None  # (bound, inclusive)
    high: tuple[Version, bool] | None = None
    for item in wanted:
        if item.version.endswith(".*") or item.operator in ("!=", "~=", "==="):
            continue
        try:
            bound = Version(item.version)
        except ValueError:
            continue
        if item.operator in (">=", ">", "=="):
            candidate = (bound, item.operator != ">")
            if low is None or candidate[0] > low[0] or (candidate[0] == low[0] and not candidate[1]):
                low = candidate
        if item.operator in ("<=", "<", "=="):
            candidate = (bound, item.operator != "<")
            if high is None or candidate[0] < high[0] or (candidate[0] == high[0] and not candidate[1]):
                high = candidate
    if low is None or high is None:
        return None
    if low[0] < high[0] or (low[0] == high[0] and low[1] and high[1]):
        return None
    written = [d for d in spec.dependencies if canonicalize_name(Requirement(d).name) == "torch"]
    return ResolutionError(
        f"torch{wanted} admits no version (from {', '.join(written)} in {_dependencies_key(spec)})",
        hint="write a torch range whose lower bound is below its upper bound, like torch>=2.5,<2.8",
        details={"requirement": f"torch{wanted}"},
    )


def _check_partial_solve(previous: Lock | None, inputs: LockInputs, targets: Sequence[str]) -> None:
    """`--target` re-solves some targets and keeps the rest: only sound if nothing else changed."""
    if previous is None:
        raise UsageError(
            "--target re-solves some targets of an existing lock, and there is no lock yet",
            hint="run `envlock solve` without --target first",
        )

    def rest(i: LockInputs) -> LockInputs:
        return replace(i, targets=tuple(t for t in i.targets if t.name not in targets))

    changed = staleness(replace(previous, inputs=rest(previous.inputs)), rest(inputs))
    if changed:
        raise UsageError(
            "--target re-solves only "
            + ", ".join(targets)
            + ", but the spec also changed elsewhere: "
            + "; ".join(changed),
            hint="run `envlock solve` without --target so that every target sees the change",
        )


def _with_interpreters(spec: Spec, locked: list[LockedTarget], client: IndexClient) -> list[LockedTarget]:
    """With `[env] interpreter = "python-build-standalone"`, each target pins its interpreter build
    (envlock.solve.interpreter), and the build's sha256 joins its env hash."""
    from envlock.lock.model import INTERPRETER_STANDALONE

    if spec.interpreter != INTERPRETER_STANDALONE:
        return locked
    from envlock.solve.interpreter import pin_interpreter
    from envlock.userfiles import default_cache_root

    pinned: dict[tuple[str, str], LockedInterpreter] = {}
    out = []
    for t in locked:
        key = (t.python, t.platform)
        if key not in pinned:
            pinned[key] = pin_interpreter(
                t.python, t.platform, client, cache_root=default_cache_root(), target=t.name
            )
        interpreter = pinned[key]
        with_interpreter = replace(t, interpreter=interpreter)
        out.append(replace(with_interpreter, env_hash=target_env_hash(with_interpreter)))
    return out


def solve(
    spec: Spec,
    *,
    kb: KnowledgeBase,
    client: IndexClient,
    backend: ResolverBackend,
    default_index: str,
    targets: Sequence[str] = (),
    previous: Lock | None = None,
    progress: Progress | None = None,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
    wheel_archs: WheelArchReader | None = None,
) -> Lock:
    """Solve `spec` into a sealed lock.

    With `targets`, only those are re-solved; the others are kept from `previous` when it has
    them. The pins of `previous` are preferences: a re-solve keeps each unless the spec needs
    another version; `upgrade` lifts them all, `upgrade_packages` those of the named projects.
    With `[resolution] uniform`, targets that differ are solved again, constrained to the best
    version every one of them can take. `wheel_archs` reads each torch wheel's own architectures
    (by ranged reads, cached); without it the knowledge base alone decides. Raises ResolutionError
    (listing every target that cannot be satisfied), NetworkError.
    """
    progress = progress or Silent()
    contradiction = _torch_contradiction(spec)
    if contradiction is not None:
        raise contradiction
    inputs = lock_inputs(spec, default_index=default_index, kb_digest=kb.digest)
    if targets:
        _check_partial_solve(previous, inputs, targets)
    client = MemoClient(client)
    directs = prepare_direct_references(
        spec,
        client=client,
        default_index=default_index,
        offline=backend.offline,
        previous=previous,
    )
    replaced = {d.requirement: d.resolver_requirement() for d in directs}
    chosen = [t for t in spec.targets if not targets or t.name in targets]
    kept = {t.name: t for t in previous.targets} if previous and targets else {}
    pool = _ResolutionPool(backend, MAX_PARALLEL_RESOLUTIONS)
    ctx = _Context(
        kb=kb,
        client=client,
        pool=pool,
        default_index=default_index,
        progress=progress,
        requirements=tuple(replaced.get(r, r) for r in spec.dependencies),
        directs={d.name: d for d in directs},
        previous=previous,
        upgrade=upgrade,
        upgrade_packages=frozenset(canonicalize_name(n) for n in upgrade_packages),
        wheel_archs=wheel_archs,
    )
    unwatch = _watch_selections(backend, ctx)
    try:
        results = _solve_targets(chosen, spec, ctx)
        if spec.uniform:
            fixed = [kept[t.name] for t in spec.targets if t.name in kept and t not in chosen]
            results = _make_uniform(chosen, spec, ctx, results, fixed)
    finally:
        unwatch()
        pool.close()
    locked: list[LockedTarget] = []
    for t in spec.targets:
        result = results.get(t.name)
        if isinstance(result, LockedTarget):
            locked.append(result)
        elif t.name in kept:
            locked.append(kept[t.name])
    locked = _with_interpreters(spec, locked, client)
    return seal(
        Lock(
            lock_version=LOCK_VERSION,
            envlock_version=__version__,
            uv_version=backend.version(),
            spec_hash=spec_hash(spec),
            inputs=inputs,
            targets=tuple(locked),
            content_hash="",
        )
    )


def _solve_targets(chosen: Sequence[TargetSpec], spec: Spec, ctx: _Context) -> dict[str, LockedTarget]:
    """Every chosen target solved, concurrently; raises when any cannot be satisfied."""
    results: dict[str, LockedTarget | _Unsatisfiable] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(chosen)), thread_name_prefix="envlock-target") as ex:
        futures = {t.name: ex.submit(_solve_target, t, spec, ctx) for t in chosen}
        errors: list[EnvlockError] = []
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except EnvlockError as err:
                errors.append(err)
        if errors:
            raise errors[0]
    failures = [r for r in results.values() if isinstance(r, _Unsatisfiable)]
    if failures:
        raise _unsatisfiable_error(failures, spec)
    return {name: r for name, r in results.items() if isinstance(r, LockedTarget)}


# Rounds of `[resolution] uniform`: torch first, then the packages still differing after that.
_UNIFORM_ROUNDS = 3


def _make_uniform(
    chosen: Sequence[TargetSpec],
    spec: Spec,
    ctx: _Context,
    results: dict[str, LockedTarget],
    fixed: Sequence[LockedTarget] = (),
) -> dict[str, LockedTarget]:
    """One version of torch, then of every package shared by several targets, across all targets.

    Each target's solve already took the newest version it can; a version every target can take is
    at most the oldest of those, so that is the one asked for (the best every target can take when
    it is available to all). Torch goes first because its choice moves the rest of the stack.
    `fixed` are targets kept from the previous lock (`--target`): their versions are the ones asked for.
    """
    pins: dict[str, str] = {}
    for _ in range(_UNIFORM_ROUNDS):
        differing = shared_differences([*results.values(), *fixed])
        if not differing:
            return results
        if "torch" in differing and "torch" not in pins:
            differing = {"torch": differing["torch"]}
        for name, versions in differing.items():
            kept = {Version(p.version).public for t in fixed for p in t.packages if p.name == name}
            pins[name] = min(kept or versions, key=Version)
        ctx.progress.step(
            "uniform: solving again with " + ", ".join(f"{n}=={v}" for n, v in sorted(pins.items()))
        )
        uniform_ctx = replace(ctx, pins=tuple(f"{n}=={v}" for n, v in sorted(pins.items())))
        try:
            results = _solve_targets(chosen, spec, uniform_ctx)
        except ResolutionError as err:
            raise ResolutionError(
                "[resolution] uniform = true: no version every target can take: "
                + ", ".join(f"{n}=={v}" for n, v in sorted(pins.items()))
                + " fails:\n"
                + err.message,
                hint="set uniform = false to let targets differ (solve then warns), or widen the "
                "constraints of the target that cannot take it",
                details=err.details,
            ) from None
    return results


def shared_differences(targets: Sequence[LockedTarget]) -> dict[str, set[str]]:
    """Packages present in several targets at different (public) versions: name -> versions."""
    seen: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    for t in targets:
        for p in t.packages:
            if p.source is not None:
                continue
            seen.setdefault(p.name, set()).add(Version(p.version).public)
            counts[p.name] = counts.get(p.name, 0) + 1
    return {n: v for n, v in seen.items() if counts[n] > 1 and len(v) > 1}
