"""Locks for tests, built from one set of defaults: `make_lock(**overrides)` and its parts.

The defaults are a small, valid lock: a GPU target `h100` (torch 2.5.1+cu124 and three other
packages, one artifact each, one rejected variant) and a CPU target `login`, sealed, every
env-hash computed from its target's content. Override any field by name; a target's env-hash
and the inputs' targets follow the overrides unless given too. A new lock field needs a default
here only when the model gives it none.

Tests, benchmarks and tools build every Lock, LockedTarget and LockInputs here, never field by
field (tests/test_lock_factory_guard.py checks it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from envlock.lock.digest import seal, target_env_hash
from envlock.lock.model import (
    Artifact,
    Lock,
    LockedPackage,
    LockedTarget,
    LockInputs,
    Rejection,
    TargetInputs,
)
from envlock.lock.read import LOCK_VERSION

INDEX = "https://mirror.example/simple"
PYTORCH_INDEX = "https://download.pytorch.org/whl"


def make_artifact(name: str, version: str, **overrides: Any) -> Artifact:
    """A wheel of `name` `version` on INDEX, with a sha256 derived from its file name."""
    filename = overrides.pop("filename", f"{name.replace('-', '_')}-{version}-py3-none-any.whl")
    fields: dict[str, Any] = {
        "filename": filename,
        "url": f"{INDEX}/{filename}",
        "size": 1000 + len(name),
        "sha256": hashlib.sha256(filename.encode()).hexdigest(),
    }
    return Artifact(**(fields | overrides))


def make_package(name: str, version: str, *artifacts: Artifact, **overrides: Any) -> LockedPackage:
    """A package from INDEX with the given artifacts (one `make_artifact` by default)."""
    fields: dict[str, Any] = {
        "name": name,
        "version": version,
        "index": INDEX,
        "artifacts": artifacts or (make_artifact(name, version),),
    }
    return LockedPackage(**(fields | overrides))


def gpu_packages() -> tuple[LockedPackage, ...]:
    """The default GPU target's packages: one with an upload time, one yanked and hashed by envlock."""
    return (
        make_package("filelock", "3.16.1"),
        make_package("numpy", "1.26.4", make_artifact("numpy", "1.26.4", upload_time="2024-02-05T23:00:00Z")),
        make_package(
            "sympy", "1.13.1", make_artifact("sympy", "1.13.1", yanked=True, hash_source="downloaded")
        ),
        make_package("torch", "2.5.1+cu124"),
    )


def make_target(name: str = "h100", **overrides: Any) -> LockedTarget:
    """A cu124 target of one H100 node (sm_90, driver 550.54.15); `env_hash` is computed."""
    fields: dict[str, Any] = {
        "name": name,
        "platform": "linux-x86_64",
        "glibc": "2.28",
        "python": "3.11",
        "gpus": ("sm_90",),
        "driver": "550.54.15",
        "variant": "cu124",
        "torch": "2.5.1+cu124",
        "cuda": "12.4",
        "cudnn": "9.1.0.70",
        "nccl": "2.21.5",
        "requires_driver": "550.54.14",
        "compat": "native",
        "kb_status": "confirmed",
        "env_hash": "",
        "packages": gpu_packages(),
        "rejected": (Rejection(variant="cu118", reason="lower CUDA than cu124", fix=None),),
    }
    return _with_env_hash(LockedTarget(**(fields | overrides)), "env_hash" in overrides)


def make_cpu_target(name: str = "login", **overrides: Any) -> LockedTarget:
    """A CPU target without packages (a login node)."""
    fields: dict[str, Any] = {
        "gpus": (),
        "driver": None,
        "variant": "cpu",
        "torch": None,
        "cuda": None,
        "cudnn": None,
        "nccl": None,
        "requires_driver": None,
        "compat": None,
        "packages": (),
        "rejected": (),
    }
    return make_target(name, **(fields | overrides))


def _with_env_hash(target: LockedTarget, given: bool) -> LockedTarget:
    return target if given else replace(target, env_hash=target_env_hash(target))


def target_inputs(target: LockedTarget) -> TargetInputs:
    """The spec's declaration of `target`, as the lock records it."""
    return TargetInputs(
        name=target.name, platform=target.platform, glibc=target.glibc, gpus=target.gpus, driver=target.driver
    )


def make_inputs(targets: Sequence[LockedTarget] = (), **overrides: Any) -> LockInputs:
    """The inputs of a lock of `targets` (their declarations follow them unless `targets` is given)."""
    fields: dict[str, Any] = {
        "name": "demo",
        "python": "3.11",
        "dependencies": ("torch>=2.5", "numpy<2"),
        "cuda_version": None,
        "cudnn": None,
        "nccl": None,
        "driver_compat": "prefer-native",
        "allow_ptx": False,
        "default_index": INDEX,
        "pytorch_index": PYTORCH_INDEX,
        "extra_indexes": (),
        "exclude_newer": None,
        "targets": tuple(target_inputs(t) for t in targets),
        "knowledge_base": "sha256:" + "0" * 64,
    }
    return LockInputs(**(fields | overrides))


def make_lock(*, sealed: bool = True, **overrides: Any) -> Lock:
    """A lock of the default targets (or `targets=`), its inputs following them, sealed unless
    `sealed=False`; any other field of `Lock` by name."""
    targets = overrides.pop("targets", None)
    if targets is None:
        targets = (make_target(), make_cpu_target())
    fields: dict[str, Any] = {
        "lock_version": LOCK_VERSION,
        "envlock_version": "0.1.0",
        "uv_version": "0.5.0",
        "spec_hash": "sha256:" + "1" * 64,
        "inputs": make_inputs(targets),
        "targets": tuple(targets),
        "content_hash": "",
    }
    lock = Lock(**(fields | overrides))
    return seal(lock) if sealed else lock
