"""Digests over locks: the content hash that catches hand edits, and per-target env hashes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from envlock.lock.model import STORE_LAYOUT_VERSION, CondaPackage, Lock, LockedPackage, LockedTarget


def sha256_json(value: object) -> str:
    """`sha256:<hex>` of the canonical JSON form of `value` (sorted keys, no whitespace)."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(record: Any) -> dict[str, object]:
    """Everything `record` says as plain data, the keys as the file holds them (the content hash's input)."""
    doc: dict[str, object] = {}
    for key in record.KEYS:
        if not key.hashed:
            continue
        value = getattr(record, key.field)
        if not key.written(record, value):
            if key.hashed_empty:
                doc[key.key] = []
            continue
        if key.kind == "record" and key.layout == "flat":
            doc.update(_canonical(value))
        elif key.kind == "record":
            doc[key.key] = _canonical(value)
        elif key.kind == "records":
            doc[key.key] = [_canonical(item) for item in value]
        elif key.kind == "source":
            doc[key.key] = {value.kind: value.location} | _canonical(value)
        elif key.kind == "pairs":
            doc[key.key] = dict(value)
        else:
            doc[key.key] = list(value) if isinstance(value, tuple) else value
    return doc


def compute_content_hash(lock: Lock) -> str:
    """The digest `content-hash` must hold for `lock`."""
    return sha256_json(_canonical(lock))


def seal(lock: Lock) -> Lock:
    """Return `lock` with its content hash filled in."""
    return replace(lock, content_hash=compute_content_hash(lock))


def env_hash(
    *,
    python: str,
    platform: str,
    packages: Sequence[LockedPackage],
    toolkit: Sequence[LockedPackage] = (),
    conda: Sequence[CondaPackage] = (),
    interpreter_sha256: str | None = None,
) -> str:
    """The identity of an environment: its exact artifact set, Python, platform and store layout,
    and the interpreter build's sha256 when the lock pins one.

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
    if interpreter_sha256 is not None:
        document["interpreter"] = interpreter_sha256
    return sha256_json(document)


def target_env_hash(t: LockedTarget) -> str:
    """The env hash `t` must carry: computed from everything it locks (packages, toolkit archives,
    conda packages, the interpreter build), never read from the lock."""
    return env_hash(
        python=t.python,
        platform=t.platform,
        packages=t.packages,
        toolkit=t.toolkit,
        conda=t.conda,
        interpreter_sha256=t.interpreter.artifact.sha256 if t.interpreter else None,
    )


def _artifact_set(packages: Sequence[LockedPackage]) -> list[list[object]]:
    return sorted([p.name, p.version, sorted(a.sha256 for a in p.artifacts)] for p in packages)


def env_hash_problem(target: LockedTarget) -> str | None:
    """None when `target`'s recorded env-hash is the one its content gives, else what is wrong."""
    computed = target_env_hash(target)
    if computed == target.env_hash:
        return None
    return (
        f"target {target.name}: the lock's env-hash does not match its packages "
        f"(recorded {target.env_hash}, computed {computed})"
    )


def verified_env_hash(target: LockedTarget, *, source: str) -> str:
    """The env hash computed from `target`'s content; IntegrityError (exit 1) when the lock records
    another. A store key is never taken from the lock: a lock that keeps someone's env-hash but
    points a package at other bytes would otherwise publish at their store path."""
    problem = env_hash_problem(target)
    if problem is not None:
        from envlock.errors import IntegrityError

        raise IntegrityError(
            f"{source}: {problem}",
            hint="the lock was changed after `envlock solve` wrote it (its content hash can be re-sealed by "
            "anyone): do not install it; regenerate it with `envlock solve`",
            details={"target": target.name, "recorded": target.env_hash, "computed": target_env_hash(target)},
        )
    return target.env_hash
