"""End to end against the real default index of the user's uv/pip configuration (marker `network`).

Solves the README's quick-start spec: torch for an H100 target and a CPU-only Mac. Skips only when
that index cannot be reached, and says so.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from envlock.cli.main import main
from tests.solve.conftest import Run

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "envlock.toml"

pytestmark = pytest.mark.network


@pytest.fixture
def reachable_default_index() -> str:
    from envlock.errors import NetworkError
    from envlock.index.client import HttpIndexClient
    from envlock.index.config import default_index_url

    url = default_index_url(None)
    try:
        with HttpIndexClient(retries=1, timeout=20) as client:
            client.project(url, "nvidia-nccl-cu12")
    except NetworkError as err:
        pytest.skip(f"the default index of this machine's configuration is unreachable: {err.message}")
    return url


def test_quickstart_solves_from_the_real_default_index(
    reachable_default_index: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "envlock.toml"
    shutil.copy(QUICKSTART, spec)
    code = main(["solve", "-s", str(spec), "--json"])
    run = Run(code=code, out=capsys.readouterr().out, err="")
    assert code == 0
    doc = run.json()
    h100, mac = doc["targets"]
    pins = {p["name"]: p["version"] for p in h100["packages"]}
    # The stack is read from the nvidia-* wheels the resolution pins, not from a table.
    assert h100["cuda"] == ".".join(pins["nvidia-cuda-runtime-cu12"].split(".")[:2])
    assert h100["cudnn"] == pins["nvidia-cudnn-cu12"]
    assert h100["nccl"] == pins["nvidia-nccl-cu12"]
    assert (h100["variant"], h100["compat"]) == ("cu124", "native")
    assert all(p["index"] == reachable_default_index for p in h100["packages"])
    assert all(len(p["sha256"]) == 64 and p["size"] > 0 for p in h100["packages"])
    assert mac["variant"] == "cpu"
    assert not any(p["name"].startswith("nvidia-") for p in mac["packages"])


def _variant_index_reachable() -> bool:
    from envlock.errors import NetworkError
    from envlock.index.client import HttpIndexClient
    from envlock.spec.parse import DEFAULT_PYTORCH_INDEX

    try:
        with HttpIndexClient(retries=0, timeout=10) as client:
            client.project(f"{DEFAULT_PYTORCH_INDEX}/cpu", "torch")
    except NetworkError:
        return False
    return True


def _remove_tree(path: Path) -> None:
    """Remove a test's environments and caches (gigabytes), read-only store paths included."""
    import os
    import stat

    for root, dirs, _files in os.walk(path):
        for d in dirs:
            full = Path(root) / d
            if not full.is_symlink():
                full.chmod(full.stat().st_mode | stat.S_IWUSR | stat.S_IXUSR)
    shutil.rmtree(path, ignore_errors=True)


def test_torch_and_a_direct_reference_wheel_lock_and_install_from_the_real_default_index(
    reachable_default_index: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """torch and a wheel this test builds (which imports torch), locked and installed.

    Where the PyTorch `cpu` variant index is reachable, a CPU-only Linux target keeps the download
    small (~200 MB: torch from the variant index, its dependencies from the default index). Where
    it is not, the default index alone serves a GPU target's torch with its CUDA wheels (a few GB,
    installed with --no-node-check on this GPU-less machine; torch imports and computes on the CPU).
    """
    import subprocess
    import sys

    from fixtures.wheels import build_wheel

    work = tmp_path / "work"
    monkeypatch.setenv("ENVLOCK_STORE", str(work / "store"))
    monkeypatch.setenv("ENVLOCK_CACHE_DIR", str(work / "envlock-cache"))
    monkeypatch.setenv("UV_CACHE_DIR", str(work / "uv-cache"))
    monkeypatch.setenv("ENVLOCK_GPUS", "none")
    monkeypatch.setenv("ENVLOCK_DRIVER", "none")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    build_wheel(
        tmp_path / "dist",
        "envlock-probe",
        "0.1.0",
        "py3-none-any",
        requires_dist=("torch",),
        files={"envlock_probe/__init__.py": b"import torch\nSUM = int(torch.ones(3).sum())\n"},
    )
    small = _variant_index_reachable()
    target = '[[target]]\nname = "node"\nplatform = "linux-x86_64"\n'
    if not small:
        target += 'gpus = ["H100"]\ndriver = "580.95.05"\n\n[indexes]\npytorch = false\n'
    spec = tmp_path / "envlock.toml"
    spec.write_text(
        "[env]\n"
        'name = "probe"\n'
        f'python = "{python}"\n'
        'dependencies = ["torch", "envlock-probe @ ./dist/envlock_probe-0.1.0-py3-none-any.whl"]\n\n' + target
    )
    try:
        assert main(["solve", "-s", str(spec), "--json"]) == 0
        doc = Run(code=0, out=capsys.readouterr().out, err="").json()
        (node,) = doc["targets"]
        by_name = {p["name"]: p for p in node["packages"]}
        probe = by_name["envlock-probe"]
        assert probe["source"]["location"] == "dist/envlock_probe-0.1.0-py3-none-any.whl"
        assert probe["artifacts"][0]["hash-source"] == "file"
        if small:
            assert node["variant"] == "cpu" and by_name["torch"]["version"].endswith("+cpu")
        else:
            assert by_name["torch"]["index"] == reachable_default_index
        lock = str(tmp_path / "envlock.lock")
        assert main(["install", "-l", lock, "--target", "node", "--no-node-check"]) == 0
        env = Path(capsys.readouterr().out.strip().splitlines()[-1])
        done = subprocess.run(
            [str(env / "bin" / "python"), "-c", "import envlock_probe; print(envlock_probe.SUM)"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.strip() == "3"
    finally:
        _remove_tree(work)
