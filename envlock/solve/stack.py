"""The CUDA stack a resolved package set really pins, and whether it hangs together.

architecture.md §5: after resolution, one CUDA major across every package, cuDNN and NCCL within the
spec's constraints, and the driver the locked runtime really needs. The facts come from the
resolved `nvidia-*` wheels themselves, not from the variant's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envlock.lock.model import MixedAllowance

# NVIDIA packages whose version is the CUDA toolkit version they belong to (X.Y.patch); other
# libraries (cuBLAS, cuFFT, ...) have their own numbering and say nothing about X.Y.
_TOOLKIT_VERSIONED = ("nvidia-cuda-runtime", "nvidia-cuda-nvrtc", "nvidia-nvjitlink", "nvidia-cuda-cupti")
_SUFFIX = re.compile(r"-cu(\d{2,3})$")
_CUPY = re.compile(r"^cupy-cuda(\d{2,3})x$")
_LOCAL_CU = re.compile(r"\+cu(\d+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class CudaStack:
    """What the resolved set pins: CUDA runtime X.Y, cuDNN, NCCL, and the CUDA X.Y it needs a driver for."""

    runtime: str | None  # "12.4" from nvidia-cuda-runtime*, None when the set has no runtime wheel
    runtime_package: str | None  # "nvidia-cuda-runtime-cu12 12.4.127"
    cudnn: str | None
    nccl: str | None
    newest_toolkit: str | None  # highest X.Y among toolkit-versioned packages (drives the driver need)
    newest_toolkit_package: str | None
    majors: tuple[tuple[int, str], ...]  # (CUDA major, "package version") for every CUDA-tied package


def _xy(version: str) -> str:
    v = Version(version)
    return f"{v.major}.{v.minor}"


def _major_of(name: str, version: str) -> int | None:
    m = _SUFFIX.search(name)
    if m and name.startswith("nvidia-"):
        return int(m.group(1)[:2])
    m = _CUPY.match(name)
    if m:
        return int(m.group(1)[:2])
    if name == "torch":
        lm = _LOCAL_CU.search(version)
        if lm:
            digits = lm.group(1)
            return int(digits[:-1]) if len(digits) >= 3 else int(digits[0])
        return None
    if name in ("cuda-toolkit", "cuda-bindings", "cuda-python") or name.startswith(_TOOLKIT_VERSIONED):
        try:
            return Version(version).major
        except InvalidVersion:
            return None
    return None


def analyze(packages: Iterable[tuple[str, str]]) -> CudaStack:
    """Read the CUDA stack out of resolved (name, version) pairs."""
    runtime = runtime_pkg = cudnn = nccl = newest = newest_pkg = None
    majors: list[tuple[int, str]] = []
    for name, version in sorted(packages):
        major = _major_of(name, version)
        if major is not None:
            majors.append((major, f"{name} {version}"))
        if name.startswith("nvidia-cuda-runtime"):
            runtime, runtime_pkg = _xy(version), f"{name} {version}"
        elif name.startswith("nvidia-cudnn"):
            cudnn = version
        elif name.startswith("nvidia-nccl"):
            nccl = version
        if name.startswith(_TOOLKIT_VERSIONED):
            xy = _xy(version)
            if newest is None or Version(xy) > Version(newest):
                newest, newest_pkg = xy, f"{name} {version}"
    return CudaStack(
        runtime=runtime,
        runtime_package=runtime_pkg,
        cudnn=cudnn,
        nccl=nccl,
        newest_toolkit=newest,
        newest_toolkit_package=newest_pkg,
        majors=tuple(majors),
    )


def mixed_majors(stack: CudaStack) -> str | None:
    """A reason when the set mixes CUDA majors (`-cu11` beside `-cu12`), else None."""
    by_major: dict[int, list[str]] = {}
    for major, what in stack.majors:
        by_major.setdefault(major, []).append(what)
    if len(by_major) <= 1:
        return None
    parts = [f"CUDA {m}: {', '.join(sorted(w))}" for m, w in sorted(by_major.items())]
    return "the resolved set mixes CUDA majors (" + "; ".join(parts) + ")"


def constraint_problems(
    stack: CudaStack, *, cuda: str | None, cudnn: str | None, nccl: str | None
) -> Sequence[tuple[str, str]]:
    """(reason, fix) for every `[cuda]` constraint the locked set breaks."""
    from packaging.specifiers import SpecifierSet

    problems: list[tuple[str, str]] = []
    checks = (
        ("CUDA runtime", "version", cuda, stack.runtime),
        ("cuDNN", "cudnn", cudnn, stack.cudnn),
        ("NCCL", "nccl", nccl, stack.nccl),
    )
    for label, key, spec, value in checks:
        if not spec:
            continue
        if value is None:
            problems.append(
                (
                    f"the set pins no {label} wheel, so [cuda].{key} {spec!r} cannot be checked",
                    f"drop [cuda].{key} or depend on a build that pins {label}",
                )
            )
        elif not SpecifierSet(spec).contains(value, prereleases=True):
            problems.append(
                (
                    f"{label} {value} does not satisfy [cuda].{key} {spec!r}",
                    f"relax [cuda].{key} or choose another torch",
                )
            )
    return problems


def mixed_majors_allowing(
    stack: CudaStack, allow: Sequence[str]
) -> tuple[str | None, tuple[MixedAllowance, ...]]:
    """The one-major check with its exceptions: packages envlock knows to carry their own major or
    to be CUDA-agnostic (`envlock.kb.components`), and the names in `[cuda] allow-mixed`.

    Returns (a reason when the rest still mixes majors, else None; the allowances that were used:
    the excepted packages whose major differs from the set's, which the lock records).
    """
    from envlock.kb.components import known_mixed_reason

    allowed = {str(canonicalize_name(a)) for a in allow}
    rest: list[tuple[int, str]] = []
    excepted: list[tuple[int, str, str, str]] = []  # major, name, version, by
    for major, what in stack.majors:
        name, _, version = what.partition(" ")
        if name in allowed:
            excepted.append((major, name, version, "spec"))
        elif known_mixed_reason(name) is not None:
            excepted.append((major, name, version, "envlock"))
        else:
            rest.append((major, what))
    torch_major = next((m for m, w in rest if w.startswith("torch ")), None)
    counts: dict[int, int] = {}
    for m, _ in rest:
        counts[m] = counts.get(m, 0) + 1
    main = (
        torch_major
        if torch_major is not None
        else (max(counts, key=lambda m: (counts[m], m)) if counts else None)
    )
    used = tuple(
        MixedAllowance(name=n, version=v, cuda_major=m, by=by)
        for m, n, v, by in sorted(excepted, key=lambda e: e[1])
        if main is None or m != main
    )
    reason = mixed_majors(replace(stack, majors=tuple(rest)))
    return reason, used
