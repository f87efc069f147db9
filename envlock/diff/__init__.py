"""Lockfile review: compute what changed between two locks and render it for people and tools."""

from __future__ import annotations

from envlock.diff.compute import diff_locks
from envlock.diff.model import LockDiff, PackageChange, StackChange, TargetDiff

__all__ = ["LockDiff", "PackageChange", "StackChange", "TargetDiff", "diff_locks"]
