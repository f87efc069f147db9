"""Digests over locks: the content hash that catches hand edits, and per-target env hashes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from envlock.lock.model import STORE_LAYOUT_VERSION, CondaPackage, LockedPackage


def sha256_json(value: object) -> str:
    """`sha256:<hex>` of the canonical JSON form of `value` (sorted keys, no whitespace)."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def env_hash(
    *,
    python: str,
    platform: str,
    packages: Sequence[LockedPackage],
    toolkit: Sequence[LockedPackage] = (),
    conda: Sequence[CondaPackage] = (),
) -> str:
    """The identity of an environment: its exact artifact set, Python, platform and store layout.

    Two targets with the same env hash materialize to the same store path, whoever solved them.
    The CUDA toolkit's archives count only when there are any, so that environments without one
    keep the identity they always had.
    """
    document: dict[str, object] = {
        "layout": STORE_LAYOUT_VERSION,
        "python": python,
        "platform": platform,
        "packages": _artifact_set(packages),
    }
    if toolkit:
        document["toolkit"] = _artifact_set(toolkit)
    if conda:
        document["conda"] = sorted([c.name, c.version, c.build, c.artifact.sha256] for c in conda)
    return sha256_json(document)


def _artifact_set(packages: Sequence[LockedPackage]) -> list[list[object]]:
    return sorted([p.name, p.version, sorted(a.sha256 for a in p.artifacts)] for p in packages)
