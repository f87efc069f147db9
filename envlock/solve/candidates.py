"""Which torch variants can serve a target, found by asking the indexes (architecture.md §4 rules 1–3, 5, 7).

For every variant the knowledge base knows, the variant's index is asked which torch wheels it
has for the target's platform, glibc and Python. Each torch release found there is then held
against the knowledge base: SASS for every target GPU (rule 2) and the driver floor of the
variant's CUDA (rule 3). What survives becomes a `VariantOption` (a variant index plus the torch
versions allowed on it); what does not becomes a `Rejection` that says why and what would fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envlock.index import IndexClient
from envlock.index.errors import ProjectNotFound
from envlock.kb import KnowledgeBase
from envlock.kb.model import DriverVerdict, TorchBuild
from envlock.kb.rules import driver_verdict, missing_archs
from envlock.lock.model import Rejection
from envlock.platforms import Platform
from envlock.spec.model import Spec, TargetSpec

DEFAULT_INDEX_VARIANT = "default"  # the pseudo-variant index name when [indexes].pytorch = false


@dataclass(frozen=True, slots=True, kw_only=True)
class VariantOption:
    """A variant that passed rules 1–3 for a target, with the torch versions allowed on it."""

    variant: str
    index: str | None  # the variant index; None when torch comes from the default index
    cuda: str | None
    allowed: tuple[Version, ...]  # public torch versions, newest first
    excluded: tuple[Version, ...]  # torch versions on that index that must not be picked
    builds: tuple[tuple[str, TorchBuild], ...]  # public version -> knowledge-base row
    verdict: DriverVerdict | None  # the target driver against the variant's CUDA; None for cpu

    def build(self, version: Version) -> TorchBuild:
        for v, b in self.builds:
            if v == str(version.public):
                return b
        raise KeyError(str(version))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Listing:
    versions: dict[Version, str]  # public version -> local label, for the files that may be locked
    hidden: frozenset[Version]  # on the page but not lockable (yanked, newer than exclude-newer)
    total_files: int


def _torch_listing(
    client: IndexClient, index: str, target: TargetSpec, python: str, exclude_newer: str | None
) -> _Listing | None:
    try:
        page = client.project(index, "torch")
    except ProjectNotFound:
        return None
    versions: dict[Version, str] = {}
    hidden: set[Version] = set()
    accepted = Platform.of(target.platform, python=python, glibc=target.glibc).tag_set()
    publics: dict[Version, Version] = {}
    for f in page.files:
        if f.version is None:
            continue
        public = publics.get(f.version)
        if public is None:  # once per version: many files share one
            public = publics[f.version] = Version(f.version.public)
        # Every version on the page that must not be locked is remembered, so that the resolver
        # is told to stay away from it (uv may take a yanked `==` pin, and projects pinned to a
        # variant index are exempt from uv's exclude-newer).
        if f.yanked or (exclude_newer and f.upload_time and f.upload_time > exclude_newer):
            hidden.add(public)
            continue
        if not f.tags.isdisjoint(accepted):  # platform.accepts(f.filename), over the parsed name
            versions[public] = f.version.local or ""
    return _Listing(
        versions=versions, hidden=frozenset(hidden - versions.keys()), total_files=len(page.files)
    )


def _ranges(versions: Sequence[Version]) -> str:
    ordered = sorted(versions)
    if not ordered:
        return "none"
    return str(ordered[0]) if len(ordered) == 1 else f"{ordered[0]} .. {ordered[-1]}"


def _archs_text(build: TorchBuild) -> str:
    return " ".join(cc.sm for cc in build.sass) or "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Judged:
    passing: tuple[Version, ...]
    failures: tuple[tuple[Version, str, str], ...]  # version, reason, fix
    builds: tuple[tuple[str, TorchBuild], ...]


def _judge_versions(
    versions: Sequence[Version],
    variant_of: dict[Version, str],
    target: TargetSpec,
    spec: Spec,
    kb: KnowledgeBase,
    verdict: DriverVerdict | None,
) -> _Judged:
    """Rule 2 (SASS for every GPU) for each torch release on one index."""
    passing: list[Version] = []
    failures: list[tuple[Version, str, str]] = []
    builds: list[tuple[str, TorchBuild]] = []
    for version in sorted(versions, reverse=True):
        variant = variant_of[version]
        build = kb.torch_build(str(version), variant, target.platform)
        if build is None:
            failures.append(
                (
                    version,
                    f"the knowledge base has no row for torch {version} {variant} on {target.platform}",
                    "add a row for this build with [resolution].knowledge-base (see README)",
                )
            )
            continue
        builds.append((str(version), build))
        if target.has_gpus:
            native = verdict is not None and verdict.compat == "native"
            missing = missing_archs(build, target.archs, kb, allow_ptx=spec.cuda.allow_ptx, native=native)
            if missing:
                names = ", ".join(cc.sm for cc in missing)
                failures.append(
                    (
                        version,
                        f"torch {version}+{variant} carries no SASS for {names} "
                        f"(it has {_archs_text(build)})",
                        f"drop {names}",
                    )
                )
                continue
        passing.append(version)
    return _Judged(passing=tuple(passing), failures=tuple(failures), builds=tuple(builds))


def _driver_rejection(
    variant: str, cuda: str, target: TargetSpec, spec: Spec, kb: KnowledgeBase
) -> tuple[DriverVerdict, Rejection | None]:
    """Rule 3 and rule 5's `native` mode for one variant."""
    assert target.driver is not None
    verdict = driver_verdict(target.driver, cuda, target.platform, kb)
    if not verdict.ok:
        need = verdict.requires_mvc or verdict.requires_native
        return verdict, Rejection(
            variant=variant,
            reason=verdict.reason or f"driver {target.driver} cannot run CUDA {cuda}",
            fix=f"driver >= {need}" if need else None,
        )
    if spec.cuda.driver_compat == "native" and verdict.compat != "native" and verdict.requires_native is None:
        return verdict, Rejection(
            variant=variant,
            reason=f"the knowledge base has no confirmed native driver for CUDA {cuda}, so it can run only "
            'through minor-version compatibility, which driver-compat = "native" rules out',
            fix=f'driver-compat = "prefer-native", or a knowledge-base row giving the driver of CUDA {cuda}',
        )
    if spec.cuda.driver_compat == "native" and verdict.compat != "native":
        return verdict, Rejection(
            variant=variant,
            reason=(
                f"CUDA {cuda} needs driver {verdict.requires_native} natively and the target's lowest is "
                f'{target.driver}; driver-compat = "native" rules out minor-version compatibility'
            ),
            fix=f'driver >= {verdict.requires_native}, or driver-compat = "prefer-native"',
        )
    return verdict, None


def find_options(
    target: TargetSpec,
    spec: Spec,
    kb: KnowledgeBase,
    client: IndexClient,
    *,
    default_index: str,
    torch_wanted: SpecifierSet,
    gpu_problems: Sequence[str],
) -> tuple[list[VariantOption], list[Rejection]]:
    """Every variant option for `target`, and every variant rejected with its reason and fix."""
    options: list[VariantOption] = []
    rejections: list[Rejection] = []
    base = spec.indexes.pytorch
    if base is None:
        listing = _torch_listing(client, default_index, target, spec.python, spec.exclude_newer)
        groups: dict[str, list[Version]] = {}
        variant_of: dict[Version, str] = {}
        for version, local in listing.versions.items() if listing else []:
            variant = (
                local
                if local in kb.known_variants()
                else kb.pypi_default_variant(str(version), target.platform)
            )
            variant = variant or "unknown"
            variant_of[version] = variant
            groups.setdefault(variant, []).append(version)
        if not groups:
            rejections.append(
                Rejection(
                    variant=DEFAULT_INDEX_VARIANT,
                    reason=f"the default index has no torch wheel for Python {spec.python} on "
                    f"{target.platform} (glibc {target.glibc})",
                    fix="enable [indexes].pytorch, or pick another Python or platform",
                )
            )
        for variant in sorted(groups, key=lambda v: _variant_order(kb, v)):
            _consider(
                variant,
                None,
                groups[variant],
                dict(variant_of),
                target,
                spec,
                kb,
                torch_wanted,
                gpu_problems,
                options,
                rejections,
                all_versions=[*variant_of, *(listing.hidden if listing else ())],
            )
        return options, rejections

    variants = kb.known_variants() if target.has_gpus else ("cpu",)
    for variant in variants:
        if target.has_gpus and variant == "cpu":
            rejections.append(
                Rejection(variant="cpu", reason="a CPU-only build, and the target declares GPUs (rule 7)")
            )
            continue
        index = f"{base.rstrip('/')}/{variant}/"
        listing = _torch_listing(client, index, target, spec.python, spec.exclude_newer)
        if listing is None or not listing.versions:
            why = (
                "has no torch project"
                if listing is None
                else (
                    f"has no torch wheel for Python {spec.python} on {target.platform} (glibc {target.glibc})"
                )
            )
            rejections.append(Rejection(variant=variant, reason=f"the {variant} index {why}"))
            continue
        versions = list(listing.versions)
        _consider(
            variant,
            index,
            versions,
            dict.fromkeys(versions, variant),
            target,
            spec,
            kb,
            torch_wanted,
            gpu_problems,
            options,
            rejections,
            all_versions=[*versions, *listing.hidden],
        )
    return options, rejections


def _variant_order(kb: KnowledgeBase, variant: str) -> tuple[int, Version]:
    if variant == "cpu":
        return (0, Version("0"))
    try:
        cuda = kb.variant_cuda(variant)
    except ValueError:
        cuda = None
    return (1, Version(cuda)) if cuda else (2, Version("0"))


def _consider(
    variant: str,
    index: str | None,
    versions: list[Version],
    variant_of: dict[Version, str],
    target: TargetSpec,
    spec: Spec,
    kb: KnowledgeBase,
    torch_wanted: SpecifierSet,
    gpu_problems: Sequence[str],
    options: list[VariantOption],
    rejections: list[Rejection],
    *,
    all_versions: list[Version],
) -> None:
    if variant == "unknown":
        rejections.append(
            Rejection(
                variant="unknown",
                reason=f"the knowledge base cannot tell which build the default index's torch "
                f"{_ranges(versions)} is for {target.platform}",
                fix="enable [indexes].pytorch, or add a row with [resolution].knowledge-base",
            )
        )
        return
    try:
        cuda = kb.variant_cuda(variant)
    except ValueError:
        rejections.append(
            Rejection(variant=variant, reason=f"{variant!r} is not a variant name envlock knows")
        )
        return
    if target.has_gpus and cuda is None:
        rejections.append(
            Rejection(
                variant=variant,
                reason="a CPU-only build, and the target declares GPUs (rule 7)",
                fix="enable [indexes].pytorch to reach the CUDA variant indexes",
            )
        )
        return
    if not target.has_gpus and cuda is not None:
        rejections.append(
            Rejection(
                variant=variant,
                reason=f"a CUDA {cuda} build, and the target is CPU-only (rule 7)",
                fix="enable [indexes].pytorch to reach the cpu variant index",
            )
        )
        return
    verdict: DriverVerdict | None = None
    if target.has_gpus and cuda is not None:
        if gpu_problems:
            rejections.append(
                Rejection(variant=variant, reason="; ".join(gpu_problems), fix=_gpu_problem_fix(gpu_problems))
            )
            return
        verdict, rejection = _driver_rejection(variant, cuda, target, spec, kb)
        if rejection is not None:
            rejections.append(rejection)
            return
    wanted = [v for v in versions if torch_wanted.contains(v, prereleases=True)]
    judged = _judge_versions(versions, variant_of, target, spec, kb, verdict)
    allowed = tuple(v for v in judged.passing if v in wanted)
    if not allowed:
        if not wanted:
            rejections.append(
                Rejection(
                    variant=variant,
                    reason=f"no torch matching {str(torch_wanted) or 'any'} for Python {spec.python} on "
                    f"{target.platform} (the index has {_ranges(versions)})",
                    fix=_torch_range_fix(judged.passing, torch_wanted),
                )
            )
            return
        newest_fail = next((f for f in judged.failures if f[0] in wanted), None)
        reason, fix = (newest_fail[1], newest_fail[2]) if newest_fail else ("no allowed torch", None)
        alt = _torch_range_fix([v for v in judged.passing if v not in wanted], torch_wanted)
        rejections.append(
            Rejection(variant=variant, reason=reason, fix=f"{fix} or {alt}" if alt and fix else fix)
        )
        return
    excluded = tuple(sorted(v for v in all_versions if v not in allowed))
    options.append(
        VariantOption(
            variant=variant,
            index=index,
            cuda=cuda,
            allowed=tuple(sorted(allowed, reverse=True)),
            excluded=excluded,
            builds=judged.builds,
            verdict=verdict,
        )
    )


def _torch_range_fix(passing: Sequence[Version], wanted: SpecifierSet) -> str | None:
    """What to ask for instead, when releases outside the requested range would pass."""
    if not passing:
        return None
    lo, hi = min(passing), max(passing)
    for spec in wanted:
        try:
            bound = Version(spec.version.removesuffix(".*"))
        except ValueError:
            continue
        if spec.operator in ("<", "<=", "==", "~=") and bound < lo:
            return f"torch >= {lo.major}.{lo.minor}"
        if spec.operator in (">", ">=", "==", "~=") and bound > hi:
            return f"torch <= {hi.major}.{hi.minor}"
    return f"torch >= {lo.major}.{lo.minor}" if lo == hi else f"torch between {lo} and {hi}"


def _gpu_problem_fix(problems: Sequence[str]) -> str | None:
    for p in problems:
        if ">=" in p:
            return "driver " + p[p.index(">=") :].split(";")[0].split(")")[0].strip()
    return None
