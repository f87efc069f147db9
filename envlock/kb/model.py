"""Typed rows of the knowledge base: GPUs, CUDA toolkits and families, torch builds.

Also the parsers of driver versions and variant names that the rows and the lookups share.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_CC_RE = re.compile(r"^(?:sm_|compute_)?(\d{1,2})\.?(\d)([a-z]?)$")
DRIVER_RE = re.compile(r"^\d+(\.\d+){0,3}$")
VARIANT_RE = re.compile(r"^(cpu|cu\d{2,3})$")


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class ComputeCapability:
    """A GPU compute capability such as 9.0; `sm` gives its SASS name (`sm_90`)."""

    major: int
    minor: int

    @property
    def sm(self) -> str:
        return f"sm_{self.major}{self.minor}"

    @property
    def dotted(self) -> str:
        return f"{self.major}.{self.minor}"

    @classmethod
    def parse(cls, text: str) -> ComputeCapability:
        """Parse `sm_90`, `compute_90`, `9.0`, `90` or `sm_90a` (the suffix is dropped).

        Raises ValueError when the text is none of these.
        """
        t = text.strip().lower()
        if "." in t and not t.startswith(("sm_", "compute_")):
            major, _, minor = t.partition(".")
            if major.isdigit() and minor.isdigit() and len(minor) == 1:
                return cls(major=int(major), minor=int(minor))
            raise ValueError(f"not a compute capability: {text!r}")
        m = _CC_RE.match(t)
        if not m:
            raise ValueError(f"not a compute capability: {text!r}")
        return cls(major=int(m.group(1)), minor=int(m.group(2)))

    def __str__(self) -> str:
        return self.sm


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuInfo:
    """One GPU model: its marketing name, compute capability and family."""

    name: str
    cc: ComputeCapability
    family: str
    source: str
    status: str  # confirmed | corroborated | unconfirmed | user
    aliases: tuple[str, ...] = ()  # other names that resolve to this GPU ("DGX Spark" for GB10)
    tegra: bool = False  # a Jetson part: desktop cubins do not run on it before CUDA 13.2


@dataclass(frozen=True, slots=True, kw_only=True)
class CudaFamily:
    """A CUDA major version and its minor-version-compatibility driver floor."""

    major: int
    mvc_min_driver_linux: str
    mvc_min_driver_windows: str
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CudaToolkit:
    """One CUDA X.Y toolkit: the driver its GA release needs natively."""

    version: str  # "12.4"
    min_driver_linux: str | None  # None when unconfirmed
    min_driver_windows: str | None
    family: int
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TorchBuild:
    """One torch release built for one variant on one platform: what it carries and pins."""

    release: str  # "2.5.1" (public version)
    variant: str  # "cu124" | "cpu"
    platform: str  # "linux-x86_64" | ...
    cuda: str | None  # "12.4"; None for cpu
    sass: tuple[ComputeCapability, ...]
    ptx: tuple[ComputeCapability, ...]
    cudnn: str | None
    nccl: str | None
    source: str  # source ids, comma separated
    status: str  # confirmed | corroborated | unconfirmed | inferred | user
    inferred_from: str | None = None  # "2.5.1" when this row was inferred from another release
    python: tuple[str, ...] = ()  # Python versions with a wheel ("3.11", "3.13t"); empty when unknown


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuDriverLimit:
    """The driver range a GPU generation works with: a floor (Blackwell) or a last branch (Volta: R580)."""

    key: str  # "blackwell"
    label: str  # "Blackwell", for messages
    cc_major: tuple[int, ...]
    cc_exclude: tuple[ComputeCapability, ...]  # e.g. 7.5 (Turing) among major 7
    min_driver_linux: str | None
    min_driver_windows: str | None
    max_branch: int | None  # last supported driver branch (Linux numbering)
    source: str
    status: str

    def applies_to(self, cc: ComputeCapability) -> bool:
        return cc.major in self.cc_major and cc not in self.cc_exclude


@dataclass(frozen=True, slots=True, kw_only=True)
class DriverVerdict:
    """How a driver relates to a CUDA version: native, only via minor-version compat, or not at all."""

    ok: bool
    compat: str | None  # "native" | "minor-version" | None
    requires_native: str | None  # the toolkit's own GA driver
    requires_mvc: str | None  # the family floor
    reason: str | None  # why not, when not ok


@dataclass(frozen=True, slots=True, kw_only=True)
class PypiDefault:
    """Which variant the default index's plain torch wheel is, for one release, per platform."""

    release: str
    variants: Mapping[str, str]  # platform -> variant
    source: str


def variant_cuda(variant: str) -> str | None:
    """The CUDA X.Y a variant name stands for: "cu124" -> "12.4", "cu92" -> "9.2", "cpu" -> None.

    Raises ValueError for anything that is neither `cpu` nor `cu` followed by two or three digits.
    """
    if variant == "cpu":
        return None
    if not VARIANT_RE.match(variant):
        raise ValueError(
            f"{variant!r} is not a torch variant, expected 'cpu' or 'cu' + CUDA digits like 'cu124'"
        )
    digits = variant[2:]
    return f"{digits[:-1]}.{digits[-1]}"


def parse_driver(text: str) -> tuple[int, ...]:
    """A driver version as a tuple of integers ("550.54.15" -> (550, 54, 15)); ValueError if it is not one."""
    if not isinstance(text, str) or not DRIVER_RE.match(text):
        raise ValueError(f"{text!r} is not a driver version, expected digits like '550.54.15'")
    return tuple(int(p) for p in text.split("."))
