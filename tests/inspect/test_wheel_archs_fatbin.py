"""Architectures read from the fatbins of a wheel's small libraries by random access (the path a solve
takes for libraries under the fatbin budget) agree with `envlock inspect` on the same real nvcc builds."""

from __future__ import annotations

import zipfile
from pathlib import Path

from envlock.inspect import inspect_elf
from envlock.inspect.wheel_archs import LocalFile, learn_archs
from tests.inspect.conftest import Built


def test_fatbins_inside_a_deflated_wheel_are_read_like_inspect_reads_them(
    fatbins: dict[str, Built], tmp_path: Path
) -> None:
    wheel = tmp_path / "torch-2.99.0+cu130-cp311-cp311-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("torch/__init__.py", "")
        for name in ("mixed", "plain"):
            archive.write(fatbins[name].path, f"torch/lib/lib{name}.so")
    archs = learn_archs(LocalFile(wheel), wheel.name)
    expected_sass: set[str] = set()
    expected_ptx: set[str] = set()
    for name in ("mixed", "plain"):
        report = inspect_elf(fatbins[name].path)
        expected_sass.update(report.sass_names)
        expected_ptx.update(report.ptx_names)
    assert set(archs.sass_names) == expected_sass == {"sm_75", "sm_90", "sm_89", "sm_100"}
    assert set(archs.ptx_names) == expected_ptx
    assert set(archs.evidence) == {"torch/lib/libmixed.so (fatbin)", "torch/lib/libplain.so (fatbin)"}

def test_libraries_over_the_budget_are_left_unread(fatbins: dict[str, Built], tmp_path: Path) -> None:
    wheel = tmp_path / "torch-2.99.0+cu130-cp311-cp311-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.write(fatbins["plain"].path, "torch/lib/libtorch_cuda.so")
    archs = learn_archs(LocalFile(wheel), wheel.name, fatbin_budget=16)
    assert not archs.found and archs.sass_names == ()
