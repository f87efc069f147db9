"""What this node is: platform, glibc, NVIDIA driver and GPUs, for `install --target auto` and `doctor`."""

from __future__ import annotations

from envlock.node.detect import (
    ENV_CUDA_DRIVER_API,
    ENV_DRIVER,
    ENV_GLIBC,
    ENV_GPUS,
    ENV_NVML_LIBRARY,
    detect_node,
)
from envlock.node.model import DetectedGpu, NodeInfo
from envlock.platforms import host_platform

__all__ = [
    "ENV_CUDA_DRIVER_API",
    "ENV_DRIVER",
    "ENV_GLIBC",
    "ENV_GPUS",
    "ENV_NVML_LIBRARY",
    "DetectedGpu",
    "NodeInfo",
    "detect_node",
    "host_platform",
]
