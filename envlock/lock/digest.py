"""Digests over locks: the content hash that catches hand edits, and per-target env hashes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from envlock.lock.model import STORE_LAYOUT_VERSION, LockedPackage


def sha256_json(value: object) -> str:
    """`sha256:<hex>` of the canonical JSON form of `value` (sorted keys, no whitespace)."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def env_hash(
    *, python: str, platform: str, packages: Sequence[LockedPackage], interpreter_sha256: str | None = None
) -> str:
    """The identity of an environment: its exact artifact set, Python, platform and store layout,
    and the interpreter build's sha256 when the lock pins one.

    Two targets with the same env hash materialize to the same store path, whoever solved them.
    """
    document: dict[str, object] = {
        "layout": STORE_LAYOUT_VERSION,
        "python": python,
        "platform": platform,
        "packages": sorted([p.name, p.version, sorted(a.sha256 for a in p.artifacts)] for p in packages),
    }
    if interpreter_sha256 is not None:
        document["interpreter"] = interpreter_sha256
    return sha256_json(document)
