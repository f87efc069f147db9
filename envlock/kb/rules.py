"""Compatibility rules over KB rows: driver order, cubin portability, missing archs, driver verdicts.

Pure functions; each cites where its rule comes from (source ids of the KB's `[sources]` table).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from envlock.kb.model import ComputeCapability, DriverVerdict, TorchBuild, parse_driver

if TYPE_CHECKING:
    from envlock.kb.knowledge import KnowledgeBase

# Jetson Thor: 10.1 under CUDA 12.8/12.9, renumbered 11.0 in CUDA 13; cubins for either run only there
# [cuda13-sm110, pypi-torch-cuda-init: "101 was renamed to 110"].
_THOR = frozenset({ComputeCapability(major=10, minor=1), ComputeCapability(major=11, minor=0)})
# Cubins built for a Tegra part run on that part only [nv-cuda-guide-binary].
_TEGRA_CUBINS = frozenset(ComputeCapability(major=a, minor=b) for a, b in ((5, 3), (6, 2), (7, 2), (8, 7)))
# From CUDA 13.2 desktop (SBSA) cubins also run on Jetson [pypi-torch-cuda-init:
# DEVICE_REQUIREMENT_POST_JETSON_SBSA_UNIFICATION, "CUDA 13.2 allows SBSA binaries to run on Jetson devices"].
_SBSA_ON_JETSON_FROM = (13, 2)


def compare_driver(a: str, b: str) -> int:
    """-1, 0 or 1 as NVIDIA driver version `a` is older than, equal to or newer than `b`.

    Numeric per component, missing components count as zero ("580" == "580.0.0"), so "550.54.15" >
    "550.54.14" and "570.124.06" > "570.26". Raises ValueError when either is not a driver version.
    """
    pa, pb = parse_driver(a), parse_driver(b)
    width = max(len(pa), len(pb))
    ta = pa + (0,) * (width - len(pa))
    tb = pb + (0,) * (width - len(pb))
    return (ta > tb) - (ta < tb)


def sass_runs_on(cubin: ComputeCapability, gpu: ComputeCapability, *, cuda: str | None, tegra: bool) -> bool:
    """Whether a cubin compiled for `cubin` runs on a GPU of compute capability `gpu`.

    [nv-cuda-guide-binary] a cubin for X.y runs on X.z with z >= y, never across majors, and binary
    compatibility does not hold for Tegra: a Tegra GPU (`tegra`: 5.3, 6.2, 7.2, 8.7) runs only cubins built
    for exactly its own capability, and a Tegra cubin runs nowhere else. [pypi-torch-cuda-init] from CUDA 13.2
    (`cuda` is the CUDA the binary was built with) desktop cubins of the same major also run on Jetson
    (7.0 on 7.2; 8.0 and 8.6 on 8.7). Jetson Thor (11.0, formerly 10.1) runs sm_110 or sm_101 cubins only.
    """
    if cubin == gpu:
        return True
    if gpu in _THOR or cubin in _THOR:
        return gpu in _THOR and cubin in _THOR
    if cubin.major != gpu.major or cubin.minor > gpu.minor or cubin in _TEGRA_CUBINS:
        return False
    if tegra:
        return cuda is not None and _cuda_tuple(cuda) >= _SBSA_ON_JETSON_FROM
    return True


def missing_archs(
    build: TorchBuild,
    gpus: Sequence[ComputeCapability],
    kb: KnowledgeBase,
    *,
    allow_ptx: bool,
    native: bool,
) -> tuple[ComputeCapability, ...]:
    """The GPUs (distinct, in the order given) that no cubin of `build` runs on.

    PTX counts only when the user opted in (`allow_ptx`, architecture.md §4) and the driver runs the build's
    CUDA natively (`native`): PTX JIT needs a driver at least as new as the PTX, so it fails under
    minor-version compatibility [nv-mvc, cudart-ptx-error]. PTX for compute_XY JIT-compiles for any GPU
    X.Y or newer.
    """
    missing: list[ComputeCapability] = []
    for gpu in dict.fromkeys(gpus):
        tegra = kb.is_tegra(gpu)
        if any(sass_runs_on(c, gpu, cuda=build.cuda, tegra=tegra) for c in build.sass):
            continue
        if allow_ptx and native and any(p <= gpu for p in build.ptx):
            continue
        missing.append(gpu)
    return tuple(missing)


def driver_verdict(driver: str, cuda: str, platform: str, kb: KnowledgeBase) -> DriverVerdict:
    """How `driver` runs binaries built with CUDA `cuda` ("12.4") on `platform`.

    [nv-relnotes-13.2.2 Table 3] native when the driver is at least the toolkit's GA driver;
    [nv-mvc] otherwise minor-version compatibility when it is at least the family floor (11.x 450.80.02,
    12.x 525.60.13, 13.x 580); otherwise not at all. A toolkit whose GA driver the KB does not know
    (e.g. 13.3) can never be native, only minor-version. Windows targets use the Windows driver columns.
    Raises ValueError when `driver` is not a driver version or `cuda` is not X.Y.
    """
    parse_driver(driver)
    major = _cuda_tuple(cuda)[0]
    windows = platform.startswith("windows")
    toolkit = kb.cuda_toolkit(cuda)
    family = kb.family(major)
    native = None
    if toolkit is not None:
        native = toolkit.min_driver_windows if windows else toolkit.min_driver_linux
    floor = None
    if family is not None:
        floor = family.mvc_min_driver_windows if windows else family.mvc_min_driver_linux
    if native is not None and compare_driver(driver, native) >= 0:
        return DriverVerdict(
            ok=True, compat="native", requires_native=native, requires_mvc=floor, reason=None
        )
    if floor is not None and compare_driver(driver, floor) >= 0:
        return DriverVerdict(
            ok=True, compat="minor-version", requires_native=native, requires_mvc=floor, reason=None
        )
    if floor is None:
        reason = f"CUDA {cuda}: the knowledge base has no driver floor for the CUDA {major}.x family"
    else:
        reason = f"driver {driver} is older than the CUDA {major}.x floor {floor}"
        if native is not None:
            reason += f" (CUDA {cuda} itself needs {native})"
    return DriverVerdict(ok=False, compat=None, requires_native=native, requires_mvc=floor, reason=reason)


def _cuda_tuple(cuda: str) -> tuple[int, ...]:
    parts = cuda.split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{cuda!r} is not a CUDA version, expected X.Y like '12.4'")
    return tuple(int(p) for p in parts)
