"""The parsed, validated env spec (`envlock.toml` or `[tool.envlock]`), as frozen values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envlock.kb.model import ComputeCapability
from envlock.platforms import PLATFORMS

__all__ = ["PLATFORMS"]
DRIVER_COMPAT_MODES = ("prefer-native", "native", "minor-version")
DEFAULT_GLIBC = "2.28"
BUILD_POLICIES = ("never", "allowed")


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuRequest:
    """A GPU as the user wrote it, with the compute capability it stands for."""

    written: str  # "H100" or "sm_90"
    cc: ComputeCapability


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetSpec:
    """One kind of node the lock must serve."""

    name: str
    platform: str
    glibc: str
    gpus: tuple[GpuRequest, ...]
    driver: str | None

    @property
    def archs(self) -> tuple[ComputeCapability, ...]:
        """Distinct compute capabilities of the target, sorted."""
        return tuple(sorted({g.cc for g in self.gpus}))

    @property
    def has_gpus(self) -> bool:
        return bool(self.gpus)


@dataclass(frozen=True, slots=True, kw_only=True)
class CudaConstraints:
    """The `[cuda]` table: PEP 440 specifiers on what the lock really pins."""

    version: str | None  # specifier on CUDA runtime X.Y, e.g. ">=12.1"
    cudnn: str | None
    nccl: str | None
    driver_compat: str  # one of DRIVER_COMPAT_MODES
    allow_ptx: bool  # count PTX as covering newer GPUs (off by default, architecture.md §4 rule 2)
    # packages the user allows to carry another CUDA major than the rest of the set (normalized names)
    allow_mixed: tuple[str, ...] = ()
    # Trust a knowledge-base row borrowed from an older release ("inferred") for GPUs at or below the
    # variant's oldest known architecture when the wheel itself could not be read (off by default).
    trust_inferred_archs: bool = False
    toolkit: tuple[str, ...] = ()  # CUDA toolkit components as written ("nvcc", "cuda_cccl", ...)
    toolkit_source: str = "redist"  # "redist": NVIDIA's redist manifests; "index": cuda-toolkit wheels


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexSettings:
    """The `[indexes]` table; `pytorch` is None when the variant indexes are switched off."""

    default: str | None  # None: take it from the user's uv/pip configuration
    pytorch: str | None
    extra: tuple[str, ...]
    nvidia_redist: str | None = None  # base of NVIDIA's redist manifests (None: NVIDIA's own host)


@dataclass(frozen=True, slots=True, kw_only=True)
class CondaSpec:
    """The `[conda]` table: conda packages solved with rattler, installed under the PyPI part."""

    channels: tuple[str, ...]  # names ("conda-forge"), URLs, or local directories as URLs
    dependencies: tuple[str, ...]  # conda match specs as written ("python 3.11.*")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageSettings:
    """The `[image]` table: what `envlock image` builds on and sets (every key optional)."""

    base: str | None  # a reference in skopeo's syntax; pinned by digest for reproducible images
    user: str | None
    workdir: str | None
    env: tuple[tuple[str, str], ...]  # sorted by name
    entrypoint: tuple[str, ...] | None
    labels: tuple[tuple[str, str], ...]  # sorted by name


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """A whole validated spec. `source` is the file it came from."""

    source: Path
    name: str
    python: str  # "3.11" or "3.13t"
    dependencies: tuple[str, ...]  # PEP 508 strings as written (validated)
    cuda: CudaConstraints
    targets: tuple[TargetSpec, ...]
    indexes: IndexSettings
    exclude_newer: str | None  # RFC 3339 UTC timestamp
    knowledge_base: tuple[Path, ...]  # extra KB files for private builds, resolved to absolute paths
    # `[resolution] build`: "never", "allowed", or the names (normalized) of the projects that may
    # be built from an sdist or a source tree
    build: str | tuple[str, ...] = "never"
    uniform: bool = False  # `[resolution] uniform`: one version of each shared package across targets
    conda: CondaSpec | None = None  # the [conda] part, when the spec has one
    interpreter: str = "system"  # [env].interpreter: "system" | "python-build-standalone"
    image: ImageSettings | None = None  # the `[image]` table, when the spec has one

    @property
    def free_threaded(self) -> bool:
        return self.python.endswith("t")

    @property
    def python_version(self) -> str:
        """The X.Y part of `python`, without the free-threading suffix."""
        return self.python.rstrip("t")

    def may_build(self, project: str) -> bool:
        """Whether `[resolution] build` lets envlock build `project` (a normalized name) from source."""
        if isinstance(self.build, tuple):
            return project in self.build
        return self.build == "allowed"

    def table(self, name: str) -> str:
        """How the spec's own file spells a table: `[env]`, or `[tool.envlock.env]` in pyproject.toml."""
        prefix = "tool.envlock." if self.source.name == "pyproject.toml" else ""
        return f"[{prefix}{name}]"

    def target(self, name: str) -> TargetSpec | None:
        for t in self.targets:
            if t.name == name:
                return t
        return None
