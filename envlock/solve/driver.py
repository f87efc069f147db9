"""The driver a resolved set needs, and the CUDA components that float above the variant's CUDA minor.

The native driver need of a set comes from the CUDA runtime it pins: the runtime is what talks to the
driver. NVRTC counts as well where the PTX it writes goes to the driver for JIT compilation (a target
that relies on PTX, `allow-ptx`). nvJitLink, CUPTI, CCCL and cuda-bindings do not: nvJitLink links
in-process and writes cubins (NVIDIA's documented way to use a newer toolkit on an older driver), CUPTI
is a profiling library, CCCL is headers, cuda-bindings wraps whatever driver it finds.

Components that are versioned with the toolkit may still float above the variant's minor (NVIDIA's
`cuda-toolkit` metadata lets nvJitLink float within the major; torch 2.1-2.4 leave it unpinned). The
solver first holds them to the variant's minor (`floating` lists them) so that the set stays one toolkit,
and falls back to the floating set only when the held one cannot be resolved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from envlock.kb import KnowledgeBase
from envlock.kb.rules import driver_verdict
from envlock.lock.model import HeldComponent, Rejection
from envlock.spec.model import Spec, TargetSpec

# Packages named after the component, with or without the -cu11/-cu12/-cu13 suffix.
RUNTIME = "nvidia-cuda-runtime"
NVRTC = "nvidia-cuda-nvrtc"
# Toolkit-versioned components the solver holds to the variant's CUDA minor when they float above it.
HOLDABLE = (RUNTIME, NVRTC, "nvidia-nvjitlink", "nvidia-cuda-cupti", "nvidia-cuda-cccl")


@dataclass(frozen=True, slots=True, kw_only=True)
class DriverNeed:
    """The CUDA X.Y whose driver the set needs, and the package that sets it."""

    cuda: str | None  # "12.4"; None for a set without CUDA
    package: str | None  # "nvidia-cuda-runtime-cu12 12.4.127"; None when only the variant says it


def _component(name: str, prefix: str) -> bool:
    return name == prefix or (name.startswith(prefix + "-cu") and name[len(prefix) + 3 :].isdigit())


def _xy(version: str) -> tuple[int, int] | None:
    try:
        v = Version(version)
    except InvalidVersion:
        return None
    return (v.major, v.minor)


def _parse_xy(cuda: str) -> tuple[int, int] | None:
    major, _, minor = cuda.partition(".")
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else None


def driver_need(
    packages: Iterable[tuple[str, str]], *, variant_cuda: str | None, ptx_reaches_driver: bool
) -> DriverNeed:
    """What the resolved (name, version) pairs need from the driver (see the module docstring).

    Without a runtime wheel (a torch that bundles its runtime) the variant's CUDA stands in.
    """
    runtime: tuple[tuple[int, int], str] | None = None
    nvrtc: tuple[tuple[int, int], str] | None = None
    for name, version in sorted(packages):
        xy = _xy(version)
        if xy is None:
            continue
        if _component(name, RUNTIME) and (runtime is None or xy > runtime[0]):
            runtime = (xy, f"{name} {version}")
        elif _component(name, NVRTC) and (nvrtc is None or xy > nvrtc[0]):
            nvrtc = (xy, f"{name} {version}")
    chosen = runtime
    if ptx_reaches_driver and nvrtc is not None and (chosen is None or nvrtc[0] > chosen[0]):
        chosen = nvrtc
    if chosen is None:
        return DriverNeed(cuda=variant_cuda, package=None)
    return DriverNeed(cuda=f"{chosen[0][0]}.{chosen[0][1]}", package=chosen[1])


def floating(packages: Iterable[tuple[str, str]], cuda: str | None) -> tuple[HeldComponent, ...]:
    """The toolkit-versioned components above CUDA `cuda` ("12.1"), each as the hold that would pin it."""
    if cuda is None:
        return ()
    target = _parse_xy(cuda)
    if target is None:
        return ()
    held: list[HeldComponent] = []
    for name, version in sorted(packages):
        if not any(_component(name, prefix) for prefix in HOLDABLE):
            continue
        xy = _xy(version)
        if xy is None or xy[0] != target[0] or xy <= target:
            continue
        held.append(
            HeldComponent(
                name=name,
                version=f"{cuda}.*",
                reason=f"floats to {version}, above the variant's CUDA {cuda}; held to keep one toolkit",
            )
        )
    return tuple(held)


@dataclass(frozen=True, slots=True, kw_only=True)
class DriverJudgement:
    """The driver a set requires on a target, its compatibility mode, and warnings for the user."""

    requires_driver: str | None
    compat: str | None
    warnings: tuple[str, ...] = ()


def judge_driver(
    need: DriverNeed, variant: str, target: TargetSpec, spec: Spec, kb: KnowledgeBase
) -> DriverJudgement | Rejection:
    """Rules 3 and 5 for what the resolved set needs (`need`), or the Rejection that says why not.

    A CUDA minor whose native driver the knowledge base does not know (not listed, or unconfirmed)
    inside a known family is judged by the family floor (minor-version compatibility), with a warning
    that names it; messages never print an unknown driver.
    """
    if need.cuda is None:
        return DriverJudgement(requires_driver=None, compat=None)
    why = need.package or f"CUDA {need.cuda} (the {variant} variant)"
    windows = target.platform.startswith("windows")
    toolkit = kb.cuda_toolkit(need.cuda)
    native = None
    if toolkit is not None:
        native = toolkit.min_driver_windows if windows else toolkit.min_driver_linux
    major = int(need.cuda.split(".")[0])
    family = kb.family(major)
    warnings: list[str] = []
    unknown_minor = toolkit is None or toolkit.min_driver_linux is None
    if unknown_minor and family is not None:
        floor = family.mvc_min_driver_windows if windows else family.mvc_min_driver_linux
        what = "has no row for" if toolkit is None else "gives no confirmed native driver for"
        warnings.append(
            f"{target.name}: {why}: the knowledge base {what} CUDA {need.cuda}; it is judged by the "
            f"CUDA {major}.x family floor {floor} (minor-version compatibility), never as native"
        )
    if target.driver is None:
        return DriverJudgement(requires_driver=native, compat=None, warnings=tuple(warnings))
    verdict = driver_verdict(target.driver, need.cuda, target.platform, kb)
    if not verdict.ok:
        return Rejection(
            variant=variant,
            reason=f"{why} needs a newer driver: {verdict.reason}",
            fix=f"driver >= {verdict.requires_mvc}"
            if verdict.requires_mvc
            else f"a knowledge-base row for the CUDA {major}.x family",
        )
    if spec.cuda.driver_compat == "native" and verdict.compat != "native":
        if verdict.requires_native is None:
            return Rejection(
                variant=variant,
                reason=f"{why}: the knowledge base has no confirmed native driver for CUDA {need.cuda}, "
                'so it can run only through minor-version compatibility, which driver-compat = "native" '
                "rules out",
                fix='driver-compat = "prefer-native", or a knowledge-base row giving the driver of CUDA '
                f"{need.cuda}",
            )
        return Rejection(
            variant=variant,
            reason=f"{why} needs driver {verdict.requires_native} natively (target: {target.driver})",
            fix=f'driver >= {verdict.requires_native}, or driver-compat = "prefer-native"',
        )
    requires = verdict.requires_native if verdict.compat == "native" else verdict.requires_mvc
    return DriverJudgement(requires_driver=requires, compat=verdict.compat, warnings=tuple(warnings))
