"""A small lock with a CUDA 13.0, a CUDA 12.6 and a CPU target, written with the real lock writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lockfactory import make_inputs, make_target
from lockfactory import make_lock as factory_lock

from envlock.lock.model import Artifact, Lock, LockedPackage, LockedTarget
from envlock.lock.write import dump_lock

SHA = "0" * 64


def _pkg(name: str, version: str, filename: str) -> LockedPackage:
    url = f"https://download.pytorch.org/whl/{filename}"
    artifact = Artifact(filename=filename, url=url, size=1, sha256=SHA)
    return LockedPackage(
        name=name, version=version, index="https://download.pytorch.org/whl/cu130", artifacts=(artifact,)
    )


def target(
    name: str,
    *,
    variant: str,
    torch: str,
    cuda: str | None,
    requires_driver: str | None,
    compat: str | None,
    gpus: tuple[str, ...],
    glibc_tag: str = "manylinux_2_28_x86_64",
) -> LockedTarget:
    packages = (
        _pkg("numpy", "2.3.0", "numpy-2.3.0-cp312-cp312-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"),
        _pkg("torch", torch, f"torch-{torch}-cp312-cp312-{glibc_tag}.whl"),
        _pkg("typing-extensions", "4.12.2", "typing_extensions-4.12.2-py3-none-any.whl"),
    )
    return make_target(
        name,
        python="3.12",
        gpus=gpus,
        driver=requires_driver,
        variant=variant,
        torch=torch,
        cuda=cuda,
        cudnn=None,
        nccl=None,
        requires_driver=requires_driver,
        compat=compat,
        env_hash="sha256:" + SHA,
        packages=packages,
        rejected=(),
    )


H100_CU130 = target(
    "h100-cu130", variant="cu130", torch="2.11.0+cu130", cuda="13.0", requires_driver="580.65.06",
    compat="native", gpus=("sm_90",),
)  # fmt: skip
V100_CU126 = target(
    "v100-cu126", variant="cu126", torch="2.9.1+cu126", cuda="12.6", requires_driver="560.28.03",
    compat="minor-version", gpus=("sm_70", "sm_90"),
)  # fmt: skip
CPU = target(
    "cpu", variant="cpu", torch="2.11.0+cpu", cuda=None, requires_driver=None, compat=None, gpus=()
)  # fmt: skip


def make_lock(*targets: LockedTarget) -> Lock:
    inputs = make_inputs(
        targets,
        name="doctor-test",
        python="3.12",
        dependencies=("torch",),
        knowledge_base="sha256:" + SHA,
    )
    return factory_lock(
        targets=targets,
        inputs=inputs,
        envlock_version="0.0.0",
        uv_version="0.13.0",
        spec_hash="sha256:" + SHA,
    )


LockWriter = Callable[..., Path]


@pytest.fixture
def write_lock(tmp_path: Path) -> LockWriter:
    """Write a lock of the given targets (default: h100-cu130, v100-cu126, cpu) and return its path."""

    def write(*targets: LockedTarget, name: str = "envlock.lock") -> Path:
        path = tmp_path / name
        path.write_text(dump_lock(make_lock(*(targets or (H100_CU130, V100_CU126, CPU)))))
        return path

    return write


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the detection overrides (CI has no GPU): node(gpus="H100", driver="580.95.05", glibc="2.39")."""

    def set_node(*, gpus: str, driver: str, glibc: str = "2.39") -> None:
        monkeypatch.setenv("ENVLOCK_GPUS", gpus)
        monkeypatch.setenv("ENVLOCK_DRIVER", driver)
        monkeypatch.setenv("ENVLOCK_GLIBC", glibc)
        monkeypatch.setenv("ENVLOCK_NVML_LIBRARY", "libnvidia-ml-absent.so.1")

    return set_node


@pytest.fixture
def targets() -> dict[str, LockedTarget]:
    """The three stock targets, by name, for tests that derive their own (dataclasses.replace)."""
    return {t.name: t for t in (H100_CU130, V100_CU126, CPU)}
