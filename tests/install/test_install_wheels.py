"""Which locked file of a package a target installs."""

from __future__ import annotations

import pytest

from envlock.errors import ResolutionError
from envlock.install.wheels import choose_artifact
from envlock.lock.model import Artifact, LockedPackage, LockedTarget


def _target(platform: str = "linux-x86_64", glibc: str = "2.28", python: str = "3.11") -> LockedTarget:
    return LockedTarget(
        name="t", platform=platform, glibc=glibc, python=python, gpus=(), driver=None, variant="cpu",
        torch=None, cuda=None, cudnn=None, nccl=None, requires_driver=None, compat=None,
        kb_status="confirmed", env_hash="sha256:" + "0" * 64, packages=(), rejected=(),
    )  # fmt: skip


def _pkg(*files: str) -> LockedPackage:
    arts = tuple(Artifact(filename=f, url="file:///x/" + f, size=1, sha256="0" * 64) for f in files)
    return LockedPackage(name="numpy", version="2.0.0", index="file:///x/", artifacts=arts)


FILES = (
    "numpy-2.0.0.tar.gz",
    "numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "numpy-2.0.0-cp311-cp311-musllinux_1_1_x86_64.whl",
    "numpy-2.0.0-cp311-cp311-manylinux_2_31_x86_64.whl",
    "numpy-2.0.0-cp312-cp312-manylinux_2_17_x86_64.whl",
    "numpy-2.0.0-cp311-cp311-manylinux_2_17_aarch64.whl",
    "numpy-2.0.0-cp311-cp311-win_amd64.whl",
)


def test_best_wheel_for_the_target_not_for_the_node() -> None:
    assert "manylinux2014_x86_64" in choose_artifact(_pkg(*FILES), _target(glibc="2.28")).filename
    assert choose_artifact(_pkg(*FILES), _target(glibc="2.35")).filename.endswith("manylinux_2_31_x86_64.whl")
    assert choose_artifact(_pkg(*FILES), _target(platform="linux-aarch64")).filename.endswith("aarch64.whl")
    assert choose_artifact(_pkg(*FILES), _target(platform="windows-amd64")).filename.endswith("win_amd64.whl")
    assert "cp312" in choose_artifact(_pkg(*FILES), _target(python="3.12")).filename


def test_pure_python_wheel_fits_everywhere() -> None:
    assert choose_artifact(_pkg("six-1.0-py2.py3-none-any.whl"), _target(python="3.13t")).filename.startswith(
        "six"
    )


def test_sdist_only_is_refused_with_the_reason() -> None:
    with pytest.raises(ResolutionError, match=r"no locked file of numpy 2\.0\.0 is a wheel"):
        choose_artifact(_pkg("numpy-2.0.0.tar.gz"), _target())
