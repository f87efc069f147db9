"""What an image says about itself: its config (user, environment, labels) and its default tag."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from envlock.lock.model import ImageInputs, Lock, LockedTarget

DEFAULT_USER = "1000:1000"
PREFIX_ROOT = "/opt/envlock"
LABEL = "dev.envlock."


def image_prefix(env_name: str, target: str) -> str:
    """Where the environment lives inside the image."""
    return f"{PREFIX_ROOT}/{env_name}-{target}"


def nvidia_require_cuda(target: LockedTarget) -> str | None:
    """`NVIDIA_REQUIRE_CUDA` in the form of NVIDIA's own CUDA images: the NVIDIA container toolkit
    refuses to start the container on a node whose driver supports an older CUDA.

    A target that runs natively needs `cuda>=X.Y` of its runtime and its driver floor; one that runs
    through minor-version compatibility needs only the CUDA major family (the driver reports an older
    minor) and the family's driver floor, which the lock records as `requires-driver`.
    """
    if target.cuda is None:
        return None
    major, _, _minor = target.cuda.partition(".")
    parts = [f"cuda>={target.cuda}" if target.compat != "minor-version" else f"cuda>={major}.0"]
    if target.requires_driver:
        parts.append(f"driver>={target.requires_driver}")
    return " ".join(parts)


def default_tag(lock: Lock, target: LockedTarget) -> str:
    """`torch2.5.1-cu124-py3.11-<8 hex of the env hash>`: what is inside, readable, and unique."""
    parts = []
    if target.torch:
        parts.append("torch" + target.torch.split("+", 1)[0])
    parts.append(target.variant)
    parts.append("py" + target.python)
    parts.append(target.env_hash.split(":", 1)[-1][:8])
    tag = "-".join(parts)
    return re.sub(r"[^A-Za-z0-9_.-]", "_", tag)[:128]


def created_at(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def labels(
    lock: Lock, target: LockedTarget, *, prefix: str, base_name: str, base_digest: str, created: str, tag: str
) -> dict[str, str]:
    """The labels (config) and annotations (manifest) of the image: OCI's keys and envlock's."""
    found: dict[str, str | None] = {
        "org.opencontainers.image.title": f"{lock.inputs.name}-{target.name}",
        "org.opencontainers.image.description": f"envlock env {lock.inputs.name}, target {target.name}",
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.version": tag,
        "org.opencontainers.image.base.digest": base_digest or None,
        "org.opencontainers.image.base.name": base_name or None,
        LABEL + "lock.content-hash": lock.content_hash,
        LABEL + "env": lock.inputs.name,
        LABEL + "target": target.name,
        LABEL + "env-hash": target.env_hash,
        LABEL + "platform": target.platform,
        LABEL + "python": target.python,
        LABEL + "variant": target.variant,
        LABEL + "torch": target.torch,
        LABEL + "cuda": target.cuda,
        LABEL + "cudnn": target.cudnn,
        LABEL + "nccl": target.nccl,
        LABEL + "gpu-archs": ",".join(target.gpus) or None,
        LABEL + "requires-driver": target.requires_driver,
        LABEL + "compat": target.compat,
        LABEL + "prefix": prefix,
    }
    own = {k: v for k, v in found.items() if v is not None}
    settings = lock.inputs.image
    return {**(dict(settings.labels) if settings is not None else {}), **own}  # envlock's facts win


def _env_list(env: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def toolkit_env(target: LockedTarget, prefix: str, path: str) -> dict[str, str]:
    """CUDA_HOME, CUDA_PATH and PATH for a target with a locked CUDA toolkit (`<env>/cuda`), as
    `envlock run` sets them; nothing for a target without one."""
    if not target.toolkit_source:
        return {}
    home = f"{prefix}/cuda"
    return {"CUDA_HOME": home, "CUDA_PATH": home, "PATH": f"{prefix}/bin:{home}/bin:{path}"}


def image_config(
    *,
    base_config: Mapping[str, Any],
    target: LockedTarget,
    prefix: str,
    diff_ids: Sequence[str],
    history: Sequence[dict[str, Any]],
    labels: Mapping[str, str],
    created: str,
    user: str,
    settings: ImageInputs | None = None,
) -> dict[str, Any]:
    """The image config: the base's, with the environment on PATH, a non-root user and the labels;
    then what the spec's `[image]` table sets (workdir, env, entrypoint)."""
    base_inner = dict(base_config.get("config") or {})
    env = _env_list(base_inner.get("Env") or [])
    path = env.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env["PATH"] = f"{prefix}/bin:{path}"
    env["VIRTUAL_ENV"] = prefix
    env.update(toolkit_env(target, prefix, path))
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the environment is read-only for the image's user
    env.pop("PYTHONHOME", None)
    require = nvidia_require_cuda(target)
    if require:
        env["NVIDIA_REQUIRE_CUDA"] = require
        env.setdefault("NVIDIA_VISIBLE_DEVICES", "all")
        env.setdefault("NVIDIA_DRIVER_CAPABILITIES", "compute,utility")
    inner: dict[str, Any] = {
        **base_inner,
        "User": user,
        "Env": [f"{k}={v}" for k, v in env.items()],
        "Labels": {**(base_inner.get("Labels") or {}), **labels},
        "WorkingDir": base_inner.get("WorkingDir") or "/",
    }
    if settings is not None:
        env.update(dict(settings.env))
        inner["Env"] = [f"{k}={v}" for k, v in env.items()]
        if settings.workdir:
            inner["WorkingDir"] = settings.workdir
        if settings.entrypoint is not None:
            inner["Entrypoint"] = list(settings.entrypoint)
            inner.pop("Cmd", None)  # as a Dockerfile's ENTRYPOINT resets the base's CMD
    if not inner.get("Entrypoint") and not inner.get("Cmd"):
        inner["Cmd"] = ["python"]
    return {
        "created": created,
        "architecture": base_config.get("architecture") or "",
        "os": base_config.get("os") or "linux",
        **({"variant": base_config["variant"]} if base_config.get("variant") else {}),
        "config": inner,
        "rootfs": {
            "type": "layers",
            "diff_ids": [*(base_config.get("rootfs") or {}).get("diff_ids", []), *diff_ids],
        },
        "history": [*(base_config.get("history") or []), *history],
    }
