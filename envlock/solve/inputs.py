"""The normalized inputs a lock records, and why a lock is stale against its spec."""

from __future__ import annotations

from envlock.display import redact_url
from envlock.lock.model import ImageInputs, Lock, LockInputs, TargetInputs
from envlock.spec.model import Spec


def lock_inputs(spec: Spec, *, default_index: str, kb_digest: str) -> LockInputs:
    """The normalized form of `spec` that a lock keeps, so `check` can explain staleness.

    Index URLs are recorded without credentials: a lock is committed and shared, tokens are not.
    """
    return LockInputs(
        interpreter=spec.interpreter,
        name=spec.name,
        python=spec.python,
        dependencies=spec.dependencies,
        cuda_version=spec.cuda.version,
        cudnn=spec.cuda.cudnn,
        nccl=spec.cuda.nccl,
        driver_compat=spec.cuda.driver_compat,
        allow_ptx=spec.cuda.allow_ptx,
        default_index=redact_url(default_index),
        pytorch_index=redact_url(spec.indexes.pytorch) if spec.indexes.pytorch else None,
        extra_indexes=tuple(redact_url(u) for u in spec.indexes.extra),
        exclude_newer=spec.exclude_newer,
        targets=tuple(
            TargetInputs(
                name=t.name,
                platform=t.platform,
                glibc=t.glibc,
                gpus=tuple(cc.sm for cc in t.archs),
                driver=t.driver,
            )
            for t in spec.targets
        ),
        knowledge_base=kb_digest,
        build=spec.build,
        uniform=spec.uniform,
        allow_mixed=spec.cuda.allow_mixed,
        trust_inferred_archs=spec.cuda.trust_inferred_archs,
        toolkit=spec.cuda.toolkit,
        toolkit_source=spec.cuda.toolkit_source if spec.cuda.toolkit else None,
        nvidia_redist=redact_url(spec.indexes.nvidia_redist) if spec.indexes.nvidia_redist else None,
        conda_channels=spec.conda.channels if spec.conda else (),
        conda_dependencies=spec.conda.dependencies if spec.conda else (),
        image=ImageInputs(
            base=spec.image.base,
            user=spec.image.user,
            workdir=spec.image.workdir,
            env=spec.image.env,
            entrypoint=spec.image.entrypoint,
            labels=spec.image.labels,
        )
        if spec.image is not None
        else None,
    )


def _fmt(value: object) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]" if value else "[]"
    return str(value)


def staleness(lock: Lock, fresh: LockInputs) -> list[str]:
    """Human reasons why `lock` was not produced from `fresh`; empty when it is up to date."""
    old = lock.inputs
    reasons: list[str] = []
    if old.dependencies != fresh.dependencies:
        added = [d for d in fresh.dependencies if d not in old.dependencies]
        removed = [d for d in old.dependencies if d not in fresh.dependencies]
        parts = [f"+ {d}" for d in added] + [f"- {d}" for d in removed]
        reasons.append("env.dependencies changed: " + ", ".join(parts or ["order changed"]))
    simple = (
        ("env.name", old.name, fresh.name),
        ("env.python", old.python, fresh.python),
        ("cuda.version", old.cuda_version, fresh.cuda_version),
        ("cuda.cudnn", old.cudnn, fresh.cudnn),
        ("cuda.nccl", old.nccl, fresh.nccl),
        ("cuda.driver-compat", old.driver_compat, fresh.driver_compat),
        ("cuda.allow-ptx", old.allow_ptx, fresh.allow_ptx),
        ("cuda.allow-mixed", old.allow_mixed, fresh.allow_mixed),
        ("cuda.trust-inferred-archs", old.trust_inferred_archs, fresh.trust_inferred_archs),
        ("the default index", old.default_index, fresh.default_index),
        ("indexes.pytorch", old.pytorch_index, fresh.pytorch_index),
        ("indexes.extra", old.extra_indexes, fresh.extra_indexes),
        ("resolution.exclude-newer", old.exclude_newer, fresh.exclude_newer),
        ("resolution.build", old.build, fresh.build),
        ("resolution.uniform", old.uniform, fresh.uniform),
        ("cuda.toolkit", old.toolkit, fresh.toolkit),
        ("cuda.toolkit-source", old.toolkit_source, fresh.toolkit_source),
        ("indexes.nvidia-redist", old.nvidia_redist, fresh.nvidia_redist),
        ("conda.channels", old.conda_channels, fresh.conda_channels),
        ("conda.dependencies", old.conda_dependencies, fresh.conda_dependencies),
        ("env.interpreter", old.interpreter, fresh.interpreter),
    )
    for label, before, after in simple:
        if before != after:
            reasons.append(f"{label} changed: {_fmt(before)} -> {_fmt(after)}")
    old_targets = {t.name: t for t in old.targets}
    new_targets = {t.name: t for t in fresh.targets}
    for name in sorted(new_targets.keys() - old_targets.keys()):
        reasons.append(f"target {name} was added to the spec")
    for name in sorted(old_targets.keys() - new_targets.keys()):
        reasons.append(f"target {name} was removed from the spec")
    for name in sorted(new_targets.keys() & old_targets.keys()):
        a, b = old_targets[name], new_targets[name]
        for field in ("platform", "glibc", "gpus", "driver"):
            va, vb = getattr(a, field), getattr(b, field)
            if va != vb:
                reasons.append(f"target {name}: {field} changed: {_fmt(va)} -> {_fmt(vb)}")
    locked = {t.name for t in lock.targets}
    for name in sorted(t.name for t in old.targets if t.name not in locked):
        reasons.append(f"target {name} is in the lock's inputs but was never solved")
    if old.image != fresh.image:
        old_image, new_image = old.image or ImageInputs(), fresh.image or ImageInputs()
        for field in ("base", "user", "workdir", "env", "entrypoint", "labels"):
            va, vb = getattr(old_image, field), getattr(new_image, field)
            if field in ("env", "labels"):
                va, vb = (tuple(f"{k}={v}" for k, v in x) for x in (va, vb))
            if va != vb:
                reasons.append(f"image.{field} changed: {_fmt(va)} -> {_fmt(vb)}")
    if old.knowledge_base != fresh.knowledge_base:
        reasons.append("the knowledge base changed (new envlock release or a changed knowledge-base file)")
    return reasons
