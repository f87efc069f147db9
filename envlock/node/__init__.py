"""What this node is: platform, glibc, NVIDIA driver and GPUs, for `install --target auto` and `doctor`."""

from __future__ import annotations

from envlock.node.detect import detect_node
from envlock.node.model import NodeInfo

__all__ = ["NodeInfo", "detect_node"]
