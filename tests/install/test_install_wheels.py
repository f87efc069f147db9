"""Which locked file of a package a target installs."""

from __future__ import annotations

import pytest
from lockfactory import make_cpu_target

from envlock.errors import ResolutionError
from envlock.install.wheels import choose_artifact
from envlock.lock.model import Artifact, LockedPackage


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


def _chosen(package: LockedPackage, **target: str) -> str:
    """The file of `package` that install takes for a CPU target with the `target` fields."""
    return choose_artifact(package, make_cpu_target(**target)).filename


def test_best_wheel_for_the_target_not_for_the_node() -> None:
    numpy = _pkg(*FILES)
    assert "manylinux2014_x86_64" in _chosen(numpy, glibc="2.28")
    assert _chosen(numpy, glibc="2.35").endswith("manylinux_2_31_x86_64.whl")
    assert _chosen(numpy, platform="linux-aarch64").endswith("aarch64.whl")
    assert _chosen(numpy, platform="windows-amd64").endswith("win_amd64.whl")
    assert "cp312" in _chosen(numpy, python="3.12")


def test_pure_python_wheel_fits_everywhere() -> None:
    assert _chosen(_pkg("six-1.0-py2.py3-none-any.whl"), python="3.13t").startswith("six")


def test_sdist_only_is_refused_with_the_reason() -> None:
    with pytest.raises(ResolutionError, match=r"no locked file of numpy 2\.0\.0 is a wheel"):
        _chosen(_pkg("numpy-2.0.0.tar.gz"))
