"""The JSON form of a lock that `solve --json` and `show --json` print (architecture.md §7); stable.

URLs are shown without userinfo: a lock written by hand may carry credentials, output must not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from envlock.display import redact_url
from envlock.kb.components import cuda_components
from envlock.lock.model import Artifact, Keys, Lock, LockedTarget, key_of


def record_to_json(record: Any) -> dict[str, object]:
    """Every key of `record`'s lock table (`KEYS`) with its value, null and empty ones included."""
    keys: Keys = record.KEYS
    out: dict[str, object] = {}
    for key in keys:
        value = getattr(record, key.field)
        out[key.key] = list(value) if isinstance(value, tuple) else value
    return out


def _json_value(value: object) -> object:
    if isinstance(value, tuple):
        return [record_to_json(v) if hasattr(v, "KEYS") else v for v in value]
    return value


# The target's own values, in the documented order of the JSON form (under their lock keys);
# the rest of a target's JSON (sizes, packages, the toolkit, the interpreter) follows them.
_TARGET_FIELDS = (
    "name",
    "platform",
    "glibc",
    "python",
    "gpus",
    "driver",
    "variant",
    "torch",
    "cuda",
    "compat",
    "requires_driver",
    "cudnn",
    "nccl",
    "kb_status",
    "archs_source",
    "torch_sass",
    "torch_ptx",
    "requires_driver_from",
    "held",
    "env_hash",
)


def _artifact(a: Artifact) -> dict[str, object]:
    return record_to_json(a) | {"url": redact_url(a.url)}


def target_to_json(t: LockedTarget) -> dict[str, object]:
    """One target in the documented JSON shape."""
    packages: list[dict[str, object]] = []
    for p in t.packages:
        first = p.artifacts[0] if p.artifacts else None
        direct: dict[str, object] = {}
        if p.source is not None:
            direct["source"] = {
                "kind": p.source.kind,
                "location": p.source.location,
                "commit": p.source.commit,
                "subdirectory": p.source.subdirectory,
                "built": p.source.built,
            }
        packages.append(
            {
                "name": p.name,
                "version": p.version,
                "index": redact_url(p.index),
                "url": redact_url(first.url) if first else None,
                "sha256": first.sha256 if first else None,
                "size": first.size if first else None,
                "artifacts": [_artifact(a) for a in p.artifacts],
            }
            | direct
        )
    return {
        **{key_of(LockedTarget, f).key: _json_value(getattr(t, f)) for f in _TARGET_FIELDS},
        "download-size": sum(a.size for p in t.packages for a in p.artifacts),
        "packages": packages,
        "rejected": [record_to_json(r) for r in t.rejected],
        # every CUDA piece the set pulls (torch's, JAX's nvcc, CuPy's runtime...), read from the packages
        "cuda-components": [
            {"name": c.name, "version": c.version, "cuda-major": c.cuda_major}
            for c in cuda_components([(p.name, p.version) for p in t.packages])
        ],
        "allowed-mixed": [record_to_json(m) for m in t.allowed_mixed],
        "toolkit": {
            "source": t.toolkit_source,
            "release": t.toolkit_release,
            "components": [
                {
                    "name": c.name,
                    "version": c.version,
                    "manifest": c.index,
                    "url": a.url,
                    "file": a.filename,
                    "size": a.size,
                    "sha256": a.sha256,
                }
                for c in t.toolkit
                for a in c.artifacts
            ],
        }
        if t.toolkit_source
        else None,
        "interpreter": None
        if t.interpreter is None
        else {
            "implementation": t.interpreter.implementation,
            "version": t.interpreter.version,
            "url": t.interpreter.artifact.url,
            "size": t.interpreter.artifact.size,
            "sha256": t.interpreter.artifact.sha256,
        },
    }


def lock_to_json(lock: Lock, targets: Sequence[str] = ()) -> dict[str, object]:
    """The whole lock (or only the named targets) as the documented JSON document."""
    chosen = [t for t in lock.targets if not targets or t.name in targets]
    return {
        **{k.key: getattr(lock, k.field) for k in Lock.KEYS if k.kind in ("str", "int")},
        "targets": [target_to_json(t) for t in chosen],
    }
