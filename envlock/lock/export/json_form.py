"""The JSON form of a lock that `solve --json` and `show --json` print (architecture.md §7); stable.

URLs are shown without userinfo: a lock written by hand may carry credentials, output must not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from envlock.display import redact_url
from envlock.kb.components import cuda_components
from envlock.lock.model import (
    Artifact,
    Keys,
    Lock,
    LockedInterpreter,
    LockedPackage,
    LockedTarget,
    key_of,
)


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


def _fields(cls: Any, fields: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """(field, key) for each of `fields` of `cls`, the key as `cls`'s lock table spells it."""
    return tuple((f, key_of(cls, f).key) for f in fields)


# The JSON objects of a target's parts, each in its documented order, under the lock's keys:
# a package is its own values, its first file summarised (what most readers want), every file in
# full, and the source of a direct reference; an archive (a toolkit component, the interpreter
# build) is its own values, then its one file: URL, file name, size and sha256 first, then the
# rest of the file's keys in the lock's order. A toolkit component's `index` is its "manifest".
_PACKAGE = _fields(LockedPackage, ("name", "version", "index"))
_FIRST_FILE = _fields(Artifact, ("url", "sha256", "size"))
_COMPONENT = (*_fields(LockedPackage, ("name", "version")), ("index", "manifest"))
_INTERPRETER = _fields(LockedInterpreter, ("implementation", "version"))
_ARCHIVE_FIELDS = ("url", "filename", "size", "sha256")
_ARCHIVE = _fields(Artifact, _ARCHIVE_FIELDS) + tuple(
    (k.field, k.key) for k in Artifact.KEYS if k.field not in _ARCHIVE_FIELDS
)
_URL_FIELDS = frozenset({"url", "index", "location"})  # shown without userinfo


def _pick(record: object, fields: tuple[tuple[str, str], ...]) -> dict[str, object]:
    out: dict[str, object] = {}
    for field, key in fields:
        value = getattr(record, field)
        out[key] = redact_url(value) if field in _URL_FIELDS and isinstance(value, str) else value
    return out


def _artifact(a: Artifact) -> dict[str, object]:
    return record_to_json(a) | {"url": redact_url(a.url)}


def _package(p: LockedPackage) -> dict[str, object]:
    first = _pick(p.artifacts[0], _FIRST_FILE) if p.artifacts else dict.fromkeys(k for _, k in _FIRST_FILE)
    out = _pick(p, _PACKAGE) | first | {"artifacts": [_artifact(a) for a in p.artifacts]}
    if p.source is not None:
        source = _pick(p.source, (("kind", "kind"), ("location", "location")))
        out[key_of(LockedPackage, "source").key] = source | record_to_json(p.source)
    return out


def _toolkit(t: LockedTarget) -> dict[str, object] | None:
    if not t.toolkit_source:
        return None
    return {
        "source": t.toolkit_source,
        "release": t.toolkit_release,
        "components": [_pick(c, _COMPONENT) | _pick(a, _ARCHIVE) for c in t.toolkit for a in c.artifacts],
    }


def target_to_json(t: LockedTarget) -> dict[str, object]:
    """One target in the documented JSON shape."""
    return {
        **{key_of(LockedTarget, f).key: _json_value(getattr(t, f)) for f in _TARGET_FIELDS},
        "download-size": sum(a.size for p in t.packages for a in p.artifacts),
        "packages": [_package(p) for p in t.packages],
        "rejected": [record_to_json(r) for r in t.rejected],
        # every CUDA piece the set pulls (torch's, JAX's nvcc, CuPy's runtime...), read from the packages
        "cuda-components": [
            {"name": c.name, "version": c.version, "cuda-major": c.cuda_major}
            for c in cuda_components([(p.name, p.version) for p in t.packages])
        ],
        "allowed-mixed": [record_to_json(m) for m in t.allowed_mixed],
        "toolkit": _toolkit(t),
        "interpreter": None
        if t.interpreter is None
        else _pick(t.interpreter, _INTERPRETER) | _pick(t.interpreter.artifact, _ARCHIVE),
    }


def lock_to_json(lock: Lock, targets: Sequence[str] = ()) -> dict[str, object]:
    """The whole lock (or only the named targets) as the documented JSON document."""
    chosen = [t for t in lock.targets if not targets or t.name in targets]
    return {
        **{k.key: getattr(lock, k.field) for k in Lock.KEYS if k.kind in ("str", "int")},
        "targets": [target_to_json(t) for t in chosen],
    }
