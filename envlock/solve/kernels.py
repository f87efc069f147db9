"""Whether the torch file a target would lock carries kernels for the target's GPUs (architecture.md §4).

Before resolution, the candidates were judged by the knowledge base. After it, the torch wheel that would
be locked is asked itself (`envlock.solve.archs`): what it carries wins over the knowledge base, with a
warning when they disagree. When the wheel cannot be read, the knowledge-base row stands, except an
inferred row (borrowed from an older release): releases drop their oldest architectures, so such a row is
not trusted for a GPU at or below the oldest architecture it lists, unless the spec says
`[cuda] trust-inferred-archs = true`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from packaging.version import InvalidVersion, Version

from envlock.index import IndexClient
from envlock.index.errors import ProjectNotFound
from envlock.index.model import IndexFile
from envlock.kb import KnowledgeBase
from envlock.kb.model import TorchBuild
from envlock.kb.rules import missing_archs
from envlock.resolvers import Resolution
from envlock.solve.archs import TorchFile, WheelArchReader, torch_file
from envlock.solve.candidates import VariantOption
from envlock.spec.model import Spec, TargetSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchVerdict:
    """The architectures the locked torch carries, where they were learned, and what the user should know."""

    source: str  # "wheel" | "knowledge-base"
    sass_names: tuple[str, ...]
    ptx_names: tuple[str, ...]
    ptx_reaches_driver: bool  # a target GPU runs only through PTX (allow-ptx): NVRTC's PTX reaches the driver
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchRefusal:
    """The resolved torch release cannot serve the target; the solver tries the next one."""

    version: Version
    reason: str
    fix: str


def _names(build: TorchBuild) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(c.sm for c in build.sass), tuple(f"compute_{c.major}{c.minor}" for c in build.ptx)


def judge_wheel(
    option: VariantOption,
    resolution: Resolution,
    target: TargetSpec,
    spec: Spec,
    kb: KnowledgeBase,
    reader: WheelArchReader | None,
    page_files: Callable[[str], Sequence[IndexFile]],
    default_index: str,
) -> ArchVerdict | ArchRefusal | None:
    """Rule 2 against the wheel itself; None for a target without GPUs or a set without torch.

    `page_files(index)` lists the torch files of an index (its project page).
    """
    torch_pkg = resolution.package("torch")
    if torch_pkg is None or not target.has_gpus or option.cuda is None:
        return None
    version = Version(torch_pkg.version)
    try:
        build = option.build(version)
    except KeyError:
        return None
    native = option.verdict is not None and option.verdict.compat == "native"
    file = torch_file(
        torch_pkg.version,
        page_files(option.index or default_index),
        spec.python,
        target.platform,
        target.glibc,
    )
    answer = reader.learn(file) if reader is not None and file is not None else None
    label = f"torch {version.public}+{option.variant}"
    if answer is not None and answer.archs is not None and answer.archs.found:
        wheel = replace(build, sass=answer.archs.sass, ptx=answer.archs.ptx)
        warnings: list[str] = []
        if set(build.sass) != set(wheel.sass) or set(build.ptx) != set(wheel.ptx):
            kb_sass, kb_ptx = _names(build)
            warnings.append(
                f"{target.name}: {label}: the wheel carries {' '.join(answer.archs.sass_names) or 'no SASS'}"
                f"{' ' + ' '.join(answer.archs.ptx_names) if answer.archs.ptx_names else ''}, the knowledge "
                f"base ({build.status} row) says {' '.join(kb_sass + kb_ptx) or 'none'}; the wheel wins"
            )
        missing = missing_archs(wheel, target.archs, kb, allow_ptx=spec.cuda.allow_ptx, native=native)
        if missing:
            names = ", ".join(cc.sm for cc in missing)
            return ArchRefusal(
                version=version,
                reason=f"{label} carries no SASS for {names} (read from the wheel"
                f" {file.filename if file else ''}: it has {' '.join(answer.archs.sass_names) or 'none'})",
                fix=f"drop {names}",
            )
        return ArchVerdict(
            source="wheel",
            sass_names=answer.archs.sass_names,
            ptx_names=answer.archs.ptx_names,
            ptx_reaches_driver=_ptx_reaches_driver(wheel, target, spec, kb, native),
            warnings=tuple(warnings),
        )
    problem = answer.problem if answer is not None else "no wheel file to read"
    if build.status == "inferred" and not spec.cuda.trust_inferred_archs and build.sass:
        oldest = min(build.sass)
        risky = [gpu for gpu in dict.fromkeys(target.archs) if gpu <= oldest]
        if risky:
            names = ", ".join(cc.sm for cc in risky)
            return ArchRefusal(
                version=version,
                reason=f"{label} is not in the knowledge base and its wheel could not be read ({problem}); "
                f"the row borrowed from torch {build.inferred_from} is not trusted for {names}, at or below "
                f"the oldest architecture it lists ({oldest.sm}): releases drop their oldest architectures",
                fix="set [cuda] trust-inferred-archs = true to accept the borrowed row, or add a "
                f"knowledge-base row for torch {version.public} {option.variant}",
            )
    sass, ptx = _names(build)
    notes: tuple[str, ...] = ()
    if build.status == "inferred":
        notes = (
            f"{target.name}: {label}: its wheel could not be read ({problem}); its architectures come from "
            f"the knowledge-base row of torch {build.inferred_from}",
        )
    return ArchVerdict(
        source="knowledge-base",
        sass_names=sass,
        ptx_names=ptx,
        ptx_reaches_driver=_ptx_reaches_driver(build, target, spec, kb, native),
        warnings=notes,
    )


def expected_torch_file(
    option: VariantOption,
    target: TargetSpec,
    spec: Spec,
    page_files: Callable[[str], Sequence[IndexFile]],
    default_index: str,
    preferences: Sequence[str] = (),
) -> TorchFile | None:
    """The torch wheel `judge_wheel` will most likely ask about for `option`, known before uv
    resolves: the release a previous lock pinned (`preferences`, `torch==X`) where still allowed,
    else the newest allowed one. None where that is not one file, or the target has no GPUs. Only a
    guess, for reading the wheel while uv resolves: `judge_wheel` asks about the file uv picked."""
    if not target.has_gpus or option.cuda is None or not option.allowed:
        return None
    version = option.allowed[0]
    for pin in preferences:
        name, _, pinned = pin.partition("==")
        if name != "torch":
            continue
        try:
            kept = Version(Version(pinned).public)
        except InvalidVersion:
            continue
        if kept in option.allowed:
            version = kept
    files = page_files(option.index or default_index)
    # `release` first: a tuple compare per file; `public` (a string built each time) on the few left
    full = {
        str(f.version)
        for f in files
        if f.version is not None
        and f.version.release == version.release
        and f.version.public == version.public
    }
    if len(full) != 1:
        return None
    return torch_file(full.pop(), files, spec.python, target.platform, target.glibc)


def _ptx_reaches_driver(
    build: TorchBuild, target: TargetSpec, spec: Spec, kb: KnowledgeBase, native: bool
) -> bool:
    if not spec.cuda.allow_ptx:
        return False
    return bool(missing_archs(build, target.archs, kb, allow_ptx=False, native=native))


def torch_pages(client: IndexClient) -> Callable[[str], Sequence[IndexFile]]:
    """`page_files(index)` over an index client's torch pages (empty when the index has none)."""

    def page_files(index: str) -> Sequence[IndexFile]:
        try:
            return client.project(index, "torch").files
        except ProjectNotFound:
            return ()

    return page_files
