"""Which resolved packages are pieces of a CUDA stack, of which CUDA major, and which may differ.

Every GPU library pulls its CUDA pieces as ordinary wheels: torch pins `nvidia-*-cu12` runtime,
cuDNN and NCCL wheels, JAX's CUDA plugin pulls `nvidia-cuda-nvcc-cu12` (it compiles with ptxas at
run time), CuPy ships per major (`cupy-cuda12x`), and CUDA 13 wheels drop the `-cuXX` suffix
(`nvidia-cublas` 13.x). The lock's CUDA summary lists all of them, not only torch's.

Some packages legitimately carry another CUDA major than the rest of a set, or none that matters:
the CUDA Python bindings (`cuda-bindings`, `cuda-python`) are versioned by the major of the headers
they were generated from but call whatever driver is installed, and JIT DSLs (NVIDIA's CUTLASS
Python DSL, `nvidia-cutlass-dsl-libs-cu13`, pulled by vllm through flashinfer) compile their
kernels at run time. They are let through the one-major check and recorded in the lock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

_SEPARATORS = re.compile(r"[-_.]+")
_SUFFIX = re.compile(r"-cu(\d{2,3})$")
_CUDA_NN = re.compile(r"(?:^|-)cuda(\d{2})(?:x|-|$)")  # cupy-cuda12x, jax-cuda12-plugin
_LOCAL_CU = re.compile(r"\+cu(\d+)")
# nvidia-* wheels whose version is a CUDA toolkit X.Y.Z even without a -cuXX suffix (CUDA 13 names)
_TOOLKIT_NAMES = ("nvidia-cuda-", "nvidia-nvjitlink", "nvidia-nvtx", "nvidia-cufile", "cuda-toolkit")

# Known to carry their own CUDA major, or to be CUDA-agnostic at run time (see the module text).
# name or name prefix -> why, as the lock and messages say it.
KNOWN_MIXED: tuple[tuple[str, str], ...] = (
    ("cuda-bindings", "CUDA Python bindings: call the installed driver, any major"),
    ("cuda-python", "CUDA Python bindings (meta package)"),
    ("cuda-core", "CUDA Python object layer over cuda-bindings"),
    ("cuda-pathfinder", "finds CUDA libraries at run time; no CUDA code of its own"),
    ("nvidia-cutlass-dsl", "CUTLASS Python DSL: JIT-compiles its kernels at run time"),
)


def canonicalize_name(name: str) -> str:
    """PEP 503 normalization, here rather than from packaging.utils, whose import pulls in
    packaging.tags and subprocess, which `show` and `diff` must not pay for."""
    return _SEPARATORS.sub("-", name).lower()


@dataclass(frozen=True, slots=True, kw_only=True)
class CudaComponent:
    """One resolved package that is a CUDA piece, with the CUDA major it belongs to (None: unknown)."""

    name: str
    version: str
    cuda_major: int | None


def cuda_major(name: str, version: str) -> int | None:
    """The CUDA major a resolved package is built for, from its name or version; None if it is not
    tied to one (or nothing tells)."""
    name = str(canonicalize_name(name))
    m = _SUFFIX.search(name)
    if m and (name.startswith("nvidia-") or name.startswith("jax-")):
        return int(m.group(1)[:2])
    m = _CUDA_NN.search(name)
    if m:
        return int(m.group(1))
    if name in ("torch", "torchvision", "torchaudio"):
        lm = _LOCAL_CU.search(version)
        if lm:
            digits = lm.group(1)
            return int(digits[:-1]) if len(digits) >= 3 else int(digits[0])
        return None
    if name.startswith(_TOOLKIT_NAMES) or name in ("cuda-bindings", "cuda-python"):
        try:
            return Version(version).major
        except InvalidVersion:
            return None
    return None


def is_component(name: str) -> bool:
    """Whether a package is part of a CUDA stack (an NVIDIA library wheel, a per-major build, bindings)."""
    name = str(canonicalize_name(name))
    return (
        name.startswith("nvidia-")
        or name.startswith("cuda-")
        or bool(_CUDA_NN.search(name))
        or bool(_SUFFIX.search(name))
    )


def cuda_components(packages: list[tuple[str, str]]) -> tuple[CudaComponent, ...]:
    """The CUDA pieces among resolved (name, version) pairs, sorted by name."""
    return tuple(
        CudaComponent(name=str(canonicalize_name(n)), version=v, cuda_major=cuda_major(n, v))
        for n, v in sorted(packages)
        if is_component(n)
    )


def known_mixed_reason(name: str) -> str | None:
    """Why `name` may carry another CUDA major than its set, when envlock knows it may."""
    name = str(canonicalize_name(name))
    for prefix, why in KNOWN_MIXED:
        if name == prefix or name.startswith(prefix + "-"):
            return why
    return None
