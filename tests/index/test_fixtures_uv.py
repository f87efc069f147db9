"""The fixture indexes are real enough for uv: it resolves against them and installs their wheels."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from envlock import _toml
from fixtures.server import FixtureIndexServer


def _uv() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def _run_uv(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([_uv(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result


def _compile(
    server: FixtureIndexServer, tmp_path: Path, variant: str, *requirements: str
) -> dict[str, object]:
    (tmp_path / "pyproject.toml").write_text(
        f"""\
[project]
name = "smoke"
version = "0"
requires-python = ">=3.10"
dependencies = {list(requirements)!r}

[[tool.uv.index]]
name = "pytorch-{variant}"
url = "{server.variant(variant)}"
explicit = true

[tool.uv.sources]
torch = {{ index = "pytorch-{variant}" }}
torchvision = {{ index = "pytorch-{variant}" }}
"""
    )
    output = tmp_path / "pylock.t.toml"
    _run_uv(
        [
            "pip", "compile", "pyproject.toml",
            "--default-index", server.default,
            "--python-version", "3.11",
            "--python-platform", "x86_64-manylinux_2_28",
            "--format", "pylock.toml",
            "-o", str(output),
            "--cache-dir", str(tmp_path / "uv-cache"),
            "--no-header",
        ],
        cwd=tmp_path,
    )  # fmt: skip
    return _toml.load(output)


def _versions(lock: dict[str, object]) -> dict[str, str]:
    packages = lock["packages"]
    assert isinstance(packages, list)
    return {package["name"]: package["version"] for package in packages}


def test_uv_resolves_torch_from_an_explicit_variant_index(
    index_server: FixtureIndexServer, tmp_path: Path
) -> None:
    lock = _compile(index_server, tmp_path, "cu124", "torch==2.5.1")

    assert _versions(lock) == {
        "filelock": "3.16.1",
        "nvidia-cublas-cu12": "12.4.5.8",
        "nvidia-cuda-runtime-cu12": "12.4.127",
        "nvidia-cudnn-cu12": "9.1.0.70",
        "nvidia-cusparse-cu12": "12.3.1.170",
        "nvidia-nccl-cu12": "2.21.5",
        "nvidia-nvjitlink-cu12": "12.4.127",
        "torch": "2.5.1+cu124",
        "triton": "3.1.0",
        "typing-extensions": "4.12.2",
    }
    packages = {package["name"]: package for package in lock["packages"]}  # type: ignore[attr-defined]
    [torch_wheel] = packages["torch"]["wheels"]
    assert torch_wheel["url"] == (
        f"{index_server.base}/whl/cu124/torch-2.5.1%2Bcu124-cp311-cp311-manylinux1_x86_64.whl"
    )
    [cudnn_wheel] = packages["nvidia-cudnn-cu12"]["wheels"]
    assert cudnn_wheel["url"].startswith(f"{index_server.base}/files/")
    built = index_server.wheel(cudnn_wheel["url"].rsplit("/", 1)[1])
    assert cudnn_wheel["hashes"] == {"sha256": built.sha256}
    assert cudnn_wheel["size"] == built.size


def test_unpinned_nvjitlink_floats_to_the_newest_release(
    index_server: FixtureIndexServer, tmp_path: Path
) -> None:
    versions = _versions(_compile(index_server, tmp_path, "cu121", "torch==2.5.1"))

    assert versions["torch"] == "2.5.1+cu121"
    assert versions["nvidia-cuda-runtime-cu12"] == "12.1.105"
    assert versions["nvidia-nvjitlink-cu12"] == "12.9.86"  # through nvidia-cusparse-cu12, unpinned


def test_torchvision_pins_its_torch(index_server: FixtureIndexServer, tmp_path: Path) -> None:
    versions = _versions(_compile(index_server, tmp_path, "cu130", "torch", "torchvision==0.24.1"))

    assert versions["torchvision"] == "0.24.1+cu130"
    assert versions["torch"] == "2.9.1+cu130"
    assert versions["nvidia-cuda-runtime"] == "13.0.48"
    assert versions["nvidia-cudnn-cu13"] == "9.13.0.50"
    assert versions["nvidia-nccl-cu13"] == "2.27.7"
    assert "numpy" in versions


def test_uv_installs_a_fixture_wheel(index_server: FixtureIndexServer, tmp_path: Path) -> None:
    wheel = index_server.wheel_path("torch-2.7.1+cu128-cp311-cp311-manylinux_2_28_x86_64.whl")
    target = tmp_path / "target"
    _run_uv(
        [
            "pip", "install", "--no-deps", "--offline", "--target", str(target),
            "--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28",
            "--cache-dir", str(tmp_path / "uv-cache"), str(wheel),
        ],
        cwd=tmp_path,
    )  # fmt: skip

    assert (target / "torch" / "version.py").read_text() == '__version__ = "2.7.1+cu128"\ncuda = "12.8"\n'
    record = next(target.glob("torch-2.7.1+cu128.dist-info")) / "RECORD"
    assert "torch/version.py,sha256=" in record.read_text()


@pytest.mark.parametrize("platform", ["x86_64-manylinux_2_17", "x86_64-manylinux_2_28"])
def test_glibc_floor_decides_whether_torch_2_7_resolves(
    index_server: FixtureIndexServer, tmp_path: Path, platform: str
) -> None:
    (tmp_path / "req.in").write_text("torch==2.7.1\n")
    result = subprocess.run(
        [
            _uv(), "pip", "compile", "req.in", "--default-index", index_server.default,
            "--python-version", "3.11", "--python-platform", platform, "--no-header",
            "--cache-dir", str(tmp_path / "uv-cache"),
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    if platform.endswith("2_28"):
        assert result.returncode == 0, result.stderr
        assert "nvidia-cudnn-cu12==9.5.1.17" in result.stdout  # the default index's 2.7.1 is the cu126 build
    else:
        assert result.returncode != 0  # 2.7 wheels are manylinux_2_28 only, as on the real indexes


def test_a_transitive_torch_escapes_the_variant_index(
    index_server: FixtureIndexServer, tmp_path: Path
) -> None:
    # uv applies `tool.uv.sources` to direct dependencies only: torch pulled in by torchvision alone
    # comes from the default index (the cu128 build) next to a cu130 torchvision. A solver must name
    # torch itself.
    versions = _versions(_compile(index_server, tmp_path, "cu130", "torchvision==0.24.1"))

    assert versions["torchvision"] == "0.24.1+cu130"
    assert versions["torch"] == "2.9.1"
    assert versions["nvidia-cuda-runtime-cu12"] == "12.8.90"
