"""The fixture wheels are real and deterministic, and the catalog has the shape the solver tests rely on."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import httpx
from packaging.requirements import Requirement
from packaging.utils import parse_wheel_filename

from fixtures.catalog import EXCLUDE_NEWER, NVIDIA_PINS, TORCH_RELEASES, build_catalog
from fixtures.server import FixtureIndexServer, build_files
from fixtures.wheels import build_wheel


def test_wheels_are_byte_identical_across_builds(tmp_path: Path) -> None:
    first = build_wheel(
        tmp_path / "a", "demo-pkg", "1.0+cu124", "cp311-cp311-manylinux_2_28_x86_64", ["numpy<2"]
    )
    second = build_wheel(
        tmp_path / "b", "demo-pkg", "1.0+cu124", "cp311-cp311-manylinux_2_28_x86_64", ["numpy<2"]
    )

    assert first.name == "demo_pkg-1.0+cu124-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert first.read_bytes() == second.read_bytes()


def test_a_wheel_has_metadata_wheel_and_a_correct_record(tmp_path: Path) -> None:
    path = build_wheel(
        tmp_path, "nvidia-nccl-cu12", "2.21.5", "py3-none-manylinux2014_x86_64", ["nvidia-cublas-cu12"]
    )
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        metadata = archive.read("nvidia_nccl_cu12-2.21.5.dist-info/METADATA").decode()
        record = archive.read("nvidia_nccl_cu12-2.21.5.dist-info/RECORD").decode().splitlines()
        for line in record:
            member, digest, size = line.rsplit(",", 2)
            if not digest:
                continue
            data = archive.read(member)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}" and int(size) == len(data)

    assert "nvidia_nccl_cu12/__init__.py" in names
    assert "Name: nvidia-nccl-cu12\nVersion: 2.21.5\n" in metadata
    assert "Requires-Dist: nvidia-cublas-cu12" in metadata
    assert len(record) == len(names)


def test_catalog_builds_identically_twice(tmp_path: Path) -> None:
    first = build_files(tmp_path / "a")
    second = build_files(tmp_path / "b")

    assert {name: built.sha256 for name, built in first.items()} == {
        name: built.sha256 for name, built in second.items()
    }


def test_every_torchvision_pins_its_torch_exactly() -> None:
    for wheel in build_catalog().wheels:
        if wheel.name != "torchvision":
            continue
        [torch_pin] = [Requirement(r) for r in wheel.requires_dist if r.startswith("torch")]
        release = next(r for r in TORCH_RELEASES if wheel.version.startswith(r.torchvision))
        assert str(torch_pin.specifier) == f"=={release.version}"


def test_every_pinned_nvidia_release_is_served_where_its_torch_is() -> None:
    catalog = build_catalog()
    served = {(w.name, w.version, index) for w in catalog.wheels for index in w.indexes}
    for (_torch, variant), pins in NVIDIA_PINS.items():
        for project, version in pins.items():
            assert (project, version, "default") in served
            assert (project, version, f"whl/{variant}") in served


def test_variant_index_builds_carry_the_variant_as_local_version() -> None:
    catalog = build_catalog()
    for wheel in catalog.on("whl/cu128"):
        if wheel.name == "torch":
            assert wheel.version.endswith("+cu128")
            _, _, _, tags = parse_wheel_filename(wheel.filename)
            assert {tag.platform for tag in tags} <= {
                "manylinux_2_28_x86_64",
                "manylinux_2_28_aarch64",
                "win_amd64",
            }


def test_only_freshpkg_is_newer_than_the_exclude_newer_date() -> None:
    late = {(w.name, w.version) for w in build_catalog().wheels if w.upload_time > EXCLUDE_NEWER}
    assert late == {("freshpkg", "1.1.0")}


def test_fixed_port_server_serves_the_same_pages(fixed_port_index_server: FixtureIndexServer) -> None:
    assert fixed_port_index_server.base == "http://127.0.0.1:8765"
    page = httpx.get(fixed_port_index_server.variant("cu124") + "torch/", timeout=10)
    assert page.status_code == 200
    assert 'href="/whl/cu124/torch-2.5.1%2Bcu124-cp311-cp311-manylinux1_x86_64.whl' in page.text
