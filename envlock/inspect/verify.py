"""Check an installed environment's real CUDA binaries against the node's GPUs and the knowledge base.

Used after `install` (does every CUDA library carry code these GPUs can run?) and by `doctor`. The
check is per library: a library that carries kernels passes for a GPU when at least one of its
cubins runs there (`envlock.kb.rules.sass_runs_on`; an arch-specific `sm_90a` cubin only on 9.0
itself), or, when the user opted in and the driver runs the CUDA natively, when its PTX is not newer
than the GPU. Libraries can legitimately hold kernels for several architectures in separate
containers; this check looks at the library as a whole.

NVIDIA's own redistributable libraries (under an `nvidia/` package directory) do not always keep
their kernels in `.nv_fatbin`: on an H200 with CUDA 13.0 wheels, `libcufft.so.12` (286 MB) held a
single sm_75 cubin there, yet cuFFT ran on sm_90 (docs/hardware-validation.md). Their gaps are
reported apart (`vendor_gaps`) and do not make `ok` false.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envlock.inspect.model import BinaryReport
from envlock.inspect.scan import inspect_path
from envlock.kb.model import ComputeCapability, TorchBuild
from envlock.kb.rules import sass_runs_on

if TYPE_CHECKING:
    from envlock.kb.knowledge import KnowledgeBase

TORCH_CUDA_LIBRARY = "libtorch_cuda.so"


@dataclass(frozen=True, slots=True, kw_only=True)
class LibraryGap:
    """A CUDA library of the environment with no code that runs on one of the GPUs."""

    path: str
    gpu: ComputeCapability
    sass: tuple[str, ...]  # what the library carries, cuobjdump spelling
    ptx: tuple[str, ...]
    vendor: bool = False  # one of NVIDIA's redistributable libraries (see the module docstring)

    @property
    def message(self) -> str:
        have = " ".join(self.sass) or "no SASS"
        ptx = f", PTX {' '.join(self.ptx)}" if self.ptx else ""
        return f"{self.path} has no kernel for {self.gpu.sm} (it carries {have}{ptx})"


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchVerification:
    """The result of `verify_environment`: the CUDA libraries found and every (library, GPU) gap."""

    root: str
    gpus: tuple[ComputeCapability, ...]
    libraries: tuple[BinaryReport, ...]  # only those that carry CUDA code
    gaps: tuple[LibraryGap, ...]

    @property
    def ok(self) -> bool:
        """No gap outside NVIDIA's own redistributables."""
        return not any(not g.vendor for g in self.gaps)

    @property
    def vendor_gaps(self) -> tuple[LibraryGap, ...]:
        return tuple(g for g in self.gaps if g.vendor)

    def library(self, name: str) -> BinaryReport | None:
        """The first library whose file name is `name` (or `name` plus a version suffix)."""
        for report in self.libraries:
            base = report.path.replace("\\", "/").rsplit("/", 1)[-1]
            if base == name or base.startswith(name + "."):
                return report
        return None


def is_vendor_library(path: str) -> bool:
    """Whether `path` lies in an `nvidia/` package directory (NVIDIA's PyPI redistributables)."""
    parts = path.replace("\\", "/").replace("!", "/").split("/")
    return "nvidia" in parts[:-1]


def _runs(report: BinaryReport, gpu: ComputeCapability, *, tegra: bool, cuda: str | None) -> bool:
    for name in report.sass_names:
        cubin = ComputeCapability.parse(name)
        if name.endswith("a"):
            if cubin == gpu:
                return True
        elif sass_runs_on(cubin, gpu, cuda=cuda, tegra=tegra):
            return True
    return False


def check_reports(
    reports: Sequence[BinaryReport],
    gpus: Sequence[ComputeCapability],
    *,
    allow_ptx: bool,
    native: bool,
    kb: KnowledgeBase,
    cuda: str | None = None,
    root: str = "",
) -> ArchVerification:
    """`verify_environment` over reports already made (for wheels, or tests)."""
    libraries = tuple(r for r in reports if r.has_cuda)
    gaps = []
    for report in libraries:
        for gpu in dict.fromkeys(gpus):
            if _runs(report, gpu, tegra=kb.is_tegra(gpu), cuda=cuda):
                continue
            if allow_ptx and native and any(p <= gpu for p in report.ptx):
                continue
            gaps.append(
                LibraryGap(
                    path=report.path,
                    gpu=gpu,
                    sass=report.sass_names,
                    ptx=report.ptx_names,
                    vendor=is_vendor_library(report.path),
                )
            )
    return ArchVerification(root=root, gpus=tuple(dict.fromkeys(gpus)), libraries=libraries, gaps=tuple(gaps))


def verify_environment(
    root: Path,
    gpus: Sequence[ComputeCapability],
    *,
    allow_ptx: bool,
    native: bool,
    kb: KnowledgeBase,
    cuda: str | None = None,
) -> ArchVerification:
    """Scan every ELF file under `root` (an installed environment) and check each CUDA library
    against `gpus`.

    `allow_ptx` is the spec's opt-in to count PTX; `native` whether the driver runs the locked CUDA
    natively (PTX JIT fails under minor-version compatibility). `cuda` is the CUDA the binaries were
    built with, for the Jetson rule of `sass_runs_on`. Raises what `inspect_path` raises for a
    corrupt binary.
    """
    return check_reports(
        inspect_path(root), gpus, allow_ptx=allow_ptx, native=native, kb=kb, cuda=cuda, root=str(root)
    )


def _names(ccs: Sequence[ComputeCapability]) -> str:
    return " ".join(c.sm for c in ccs) or "nothing"


def disagreement_with_kb(
    verification: ArchVerification,
    expected_sass: TorchBuild | Sequence[ComputeCapability],
    *,
    library: str = TORCH_CUDA_LIBRARY,
) -> list[str]:
    """Where the knowledge base's SASS list for torch differs from what `library` really carries.

    `expected_sass` is the KB row (or its SASS list). Empty when they agree or the environment has
    no such library. The messages blame the knowledge base, not the node: the binaries are the truth.

    An arch the KB lists must have a cubin. An arch the KB does not list counts as extra only when
    it has a full kernel set: plain (not arch-specific) cubins at least half as many as the fewest
    of any listed arch. torch 2.11.0+cu130's libtorch_cuda.so, for instance, has 444 cubins for each
    arch of its build list but 1 for sm_89 and only arch-specific ones for sm_103a/sm_121a: kernels
    tuned for those GPUs, not a build for them.
    """
    report = verification.library(library)
    if report is None:
        return []
    if isinstance(expected_sass, TorchBuild):
        label = f"torch {expected_sass.release} {expected_sass.variant}"
        expected = set(expected_sass.sass)
    else:
        label = "torch"
        expected = set(expected_sass)
    actual = set(report.sass)
    listed_counts = [report.sass_count(c.sm) for c in expected if c in actual]
    full = max(1, min(listed_counts, default=1) // 2)
    base = report.path.replace("\\", "/").rsplit("/", 1)[-1]
    messages = []
    missing = sorted(expected - actual)
    extra = sorted(c for c in actual - expected if report.sass_count(c.sm) >= full)
    if missing:
        messages.append(
            f"the knowledge base says {label} carries {_names(missing)} but {base} has "
            f"{_names(sorted(actual))}: the knowledge base is wrong, not the node"
        )
    if extra:
        messages.append(
            f"the knowledge base says {label} carries {_names(sorted(expected))} but {base} also has "
            f"{_names(extra)}: the knowledge base is wrong, not the node"
        )
    return messages
