"""What `inspect` found in one binary: SASS and PTX architectures of its CUDA fatbinary."""

from __future__ import annotations

from dataclasses import dataclass

from envlock.errors import IntegrityError, UsageError
from envlock.kb.model import ComputeCapability

COMPRESSIONS = ("none", "lz", "zstd", "mixed")


class NotABinaryError(UsageError):
    """A path given to `inspect` is not an ELF file, a wheel or a directory (exit 2: fix the argument)."""

    kind = "usage"


class CorruptBinaryError(IntegrityError):
    """An ELF file or its fatbinary is truncated or malformed (exit 1: the file is the reason).

    The message names the file and the byte offset where reading failed.
    """

    kind = "integrity"


@dataclass(frozen=True, slots=True, kw_only=True)
class FatbinEntry:
    """One entry of a fatbinary container: a SASS cubin or a PTX text for one architecture."""

    kind: str  # "sass" | "ptx"
    arch: str  # cuobjdump's spelling: "sm_90", "sm_90a" (arch-specific cubin)
    cc: ComputeCapability
    compression: str  # "none" | "lz" | "zstd"
    header_size: int
    offset: int  # byte offset of the entry header inside the section


@dataclass(frozen=True, slots=True, kw_only=True)
class BinaryReport:
    """The CUDA code one ELF file carries.

    `path` is the file as given, or `wheel.whl!member/path` for a wheel member. `sass`/`ptx` are the
    distinct compute capabilities, sorted; `sass_names`/`ptx_names` keep cuobjdump's spelling (with
    the `a` of arch-specific cubins, which run on that exact compute capability only). `compressed`
    is "none", "lz" (NVIDIA's LZ scheme), "zstd" or "mixed" across entries. `has_cuda` is False for
    an ELF file without a fatbinary section ("no CUDA code"), which is not an error.
    """

    path: str
    sass: tuple[ComputeCapability, ...]
    ptx: tuple[ComputeCapability, ...]
    compressed: str
    containers: int
    has_cuda: bool
    sass_names: tuple[str, ...] = ()
    ptx_names: tuple[str, ...] = ()
    sass_entries: int = 0
    ptx_entries: int = 0
    section: str | None = None  # ".nv_fatbin" | "__nv_relfatbin"
    sass_counts: tuple[tuple[str, int], ...] = ()  # cubins per arch name, in sass_names order

    def sass_count(self, name: str) -> int:
        """How many cubins the binary carries for arch `name` (`sm_90`, `sm_90a`)."""
        return dict(self.sass_counts).get(name, 0)

    @property
    def arch_specific(self) -> tuple[ComputeCapability, ...]:
        """Compute capabilities whose only cubins are arch-specific (`sm_90a`)."""
        plain = {ComputeCapability.parse(n) for n in self.sass_names if not n.endswith("a")}
        return tuple(sorted({ComputeCapability.parse(n) for n in self.sass_names} - plain))

    def to_json(self) -> dict[str, object]:
        """The `inspect --json` form of this report."""
        return {
            "path": self.path,
            "has-cuda": self.has_cuda,
            "sass": list(self.sass_names),
            "ptx": list(self.ptx_names),
            "compressed": self.compressed,
            "containers": self.containers,
            "sass-entries": self.sass_entries,
            "ptx-entries": self.ptx_entries,
            "section": self.section,
            "sass-counts": dict(self.sass_counts),
        }
