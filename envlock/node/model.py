"""The node as detected: frozen values that `install --target auto` and `doctor` judge against a lock."""

from __future__ import annotations

from dataclasses import dataclass

from envlock.kb.model import ComputeCapability

SOURCES = ("env", "nvml", "nvidia-smi", "proc", "none")


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectedGpu:
    """One GPU of this node as the driver (or an override) reports it."""

    index: int
    name: str  # "NVIDIA H200", or what the user wrote in ENVLOCK_GPUS
    cc: ComputeCapability
    memory_mib: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeInfo:
    """Platform, glibc, driver and GPUs of this node, and where the answer came from.

    `source` names the layer that supplied the GPUs: "env" (ENVLOCK_GPUS), "nvml", "nvidia-smi",
    "proc" (driver only, GPUs unknown) or "none" (no NVIDIA driver found). `notes` says what each
    layer that failed reported, so that a wrong answer can be explained.
    """

    platform: str  # as in envlock.spec.model.PLATFORMS when it is one of them
    glibc: str | None  # "2.39"; None off glibc (musl, macOS, Windows)
    gpus: tuple[DetectedGpu, ...]
    driver: str | None  # "580.159.04"
    cuda_driver_api: str | None  # the CUDA version the driver supports, "13.0"
    source: str
    notes: tuple[str, ...] = ()

    @property
    def archs(self) -> tuple[ComputeCapability, ...]:
        """Distinct compute capabilities of the GPUs, sorted."""
        return tuple(sorted({g.cc for g in self.gpus}))

    @property
    def has_driver(self) -> bool:
        return self.driver is not None
