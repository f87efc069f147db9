"""Real CUDA binaries for the inspect tests, built once per session with nvcc (skipped without it)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

KERNEL_CU = """\
extern "C" __global__ void add_one(float *x, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += 1.0f;
}
extern "C" void launch(float *x, int n) { add_one<<<(n + 255) / 256, 256>>>(x, n); }
"""


@dataclass(frozen=True)
class Build:
    """One nvcc build and what it must contain."""

    name: str
    flags: tuple[str, ...]
    sass: tuple[str, ...]  # cuobjdump spelling
    ptx: tuple[str, ...]
    compressed: str


def _gencode(arch: str, code: str) -> tuple[str, str]:
    return ("-gencode", f"arch={arch},code={code}")


BUILDS = (
    # nvcc 13's default: cubins stored plain, PTX zstd-compressed.
    Build(
        "mixed",
        (*_gencode("compute_75", "sm_75"), *_gencode("compute_90", "[sm_90,compute_90]")),
        ("sm_75", "sm_90"),
        ("sm_90",),
        "mixed",
    ),
    Build(
        "zstd",
        (
            *_gencode("compute_80", "sm_80"),
            *_gencode("compute_120", "[sm_120,compute_120]"),
            "-Xfatbin=-compress-all",
        ),
        ("sm_80", "sm_120"),
        ("sm_120",),
        "zstd",
    ),
    # compress-mode=speed selects NVIDIA's LZ scheme (flag 0x2000) instead of zstd.
    Build(
        "lz",
        (*_gencode("compute_86", "[sm_86,compute_86]"), "-compress-mode=speed", "-Xfatbin=-compress-all"),
        ("sm_86",),
        ("sm_86",),
        "lz",
    ),
    # SASS only, uncompressed; sm_100 entries have 96/112-byte headers.
    Build(
        "plain",
        (*_gencode("compute_89", "sm_89"), *_gencode("compute_100", "sm_100"), "--no-compress"),
        ("sm_89", "sm_100"),
        (),
        "none",
    ),
    # An arch-specific cubin and PTX alone for another arch.
    Build(
        "special",
        (*_gencode("compute_90a", "sm_90a"), *_gencode("compute_75", "compute_75")),
        ("sm_90a",),
        ("sm_75",),
        "mixed",
    ),
)


@dataclass(frozen=True)
class Built:
    build: Build
    path: Path


def _nvcc(src: Path, out: Path, flags: tuple[str, ...]) -> None:
    subprocess.run(
        ["nvcc", "-shared", "-Xcompiler", "-fPIC", *flags, "-o", str(out), str(src)],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def fatbins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Every build of BUILDS, compiled in parallel once per session."""
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not installed: the inspect tests need real CUDA binaries")
    root = tmp_path_factory.mktemp("fatbins")
    src = root / "kernel.cu"
    src.write_text(KERNEL_CU)
    outs = {b.name: root / f"lib{b.name}.so" for b in BUILDS}
    with ThreadPoolExecutor(max_workers=len(BUILDS)) as pool:
        list(pool.map(lambda b: _nvcc(src, outs[b.name], b.flags), BUILDS))
    return {b.name: Built(b, outs[b.name]) for b in BUILDS}


@pytest.fixture(scope="session")
def plain_so(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ELF shared library without CUDA code, built with gcc."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    root = tmp_path_factory.mktemp("plain")
    src = root / "plain.c"
    src.write_text("int answer(void) { return 42; }\n")
    out = root / "libplain.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(out), str(src)], check=True)
    return out


def _find_cuobjdump() -> Path | None:
    try:
        import nvidia  # the namespace package of NVIDIA's PyPI wheels
    except ImportError:
        nvidia = None
    if nvidia is not None:
        for base in nvidia.__path__:
            for candidate in sorted(Path(base).glob("*/bin/cuobjdump")):
                return candidate
    found = shutil.which("cuobjdump")
    return Path(found) if found else None


@pytest.fixture(scope="session")
def cuobjdump() -> Iterator[Path]:
    """cuobjdump from the PyPI wheel nvidia-cuda-cuobjdump (or PATH): the ground truth."""
    found = _find_cuobjdump()
    if found is None:
        pytest.skip("cuobjdump not found: pip install nvidia-cuda-cuobjdump")
    yield found
