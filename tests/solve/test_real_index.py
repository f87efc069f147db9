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
