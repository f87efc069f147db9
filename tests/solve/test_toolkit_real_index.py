"""`toolkit-source = "index"` against the real default index (marker `network`): NVIDIA's nvcc wheel
of the locked CUDA minor is locked, installed, merged into `<env>/cuda`, and compiles a kernel for
sm_90 that `envlock inspect` then reads. Skips only when that index cannot be reached.

CUDA 13, because NVIDIA's CUDA 12 nvcc wheels carry ptxas and headers but not the nvcc driver."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "install"))
from lockmaker import run_envlock  # the install tests' subprocess runner

pytestmark = pytest.mark.network
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
NODE = {"ENVLOCK_GPUS": "H100", "ENVLOCK_DRIVER": "580.65.06"}

SPEC = f"""
[env]
name = "nvcc-from-wheels"
python = "{PYTHON}"
dependencies = []

[cuda]
version = "==13.0.*"
toolkit = ["nvcc", "crt", "nvvm", "cudart"]
toolkit-source = "index"

[[target]]
name = "h100"
platform = "linux-x86_64"
gpus = ["H100"]
driver = "550.54.15"

[indexes]
pytorch = false
"""

KERNEL = "__global__ void twice(float* x) { x[threadIdx.x] *= 2.0f; }\n"


@pytest.fixture
def reachable_default_index() -> str:
    from envlock.errors import NetworkError
    from envlock.index.client import HttpIndexClient
    from envlock.index.config import default_index_url

    url = default_index_url(None)
    try:
        with HttpIndexClient(retries=1, timeout=20) as client:
            client.project(url, "cuda-toolkit")
    except NetworkError as err:
        pytest.skip(f"the default index of this machine's configuration is unreachable: {err.message}")
    return url


def test_nvcc_from_the_index_compiles_for_sm_90(reachable_default_index: str, tmp_path: Path) -> None:
    spec = tmp_path / "envlock.toml"
    spec.write_text(SPEC)
    store = tmp_path / "store"
    solved = run_envlock(["solve", "-s", str(spec), "--json"], store=store, timeout=600)
    assert solved.returncode == 0, solved.stderr
    (target,) = json.loads(solved.stdout)["targets"]
    pins = {p["name"]: p["version"] for p in target["packages"]}
    assert pins["cuda-toolkit"].startswith("13.0.")
    assert pins["nvidia-cuda-nvcc"].startswith("13.0.")
    assert target["toolkit"]["source"] == "index"
    assert target["toolkit"]["release"] == pins["cuda-toolkit"]

    lock = spec.with_name("envlock.lock")
    version = run_envlock(
        ["run", "-l", str(lock), "--", "nvcc", "--version"], store=store, env=NODE, timeout=900
    )
    assert version.returncode == 0, version.stderr
    assert "release 13.0" in version.stdout
    which = run_envlock(["run", "-l", str(lock), "--", "sh", "-c", "command -v nvcc"], store=store, env=NODE)
    assert which.stdout.strip().startswith(str(store)), "nvcc must be the locked one, not the machine's"

    (tmp_path / "twice.cu").write_text(KERNEL)
    built = run_envlock(
        ["run", "-l", str(lock), "--", "nvcc", "-arch=sm_90", "-c", "twice.cu", "-o", "twice.o"],
        store=store,
        env=NODE,
        cwd=tmp_path,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    seen = run_envlock(["inspect", str(tmp_path / "twice.o"), "--json"], store=store)
    assert seen.returncode == 0, seen.stderr
    assert "sm_90" in seen.stdout
