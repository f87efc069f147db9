"""A real single-node Slurm cluster (munged, slurmctld, slurmd) for the session, in a temporary directory."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools" / "slurm"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment variables (SLURM_CONF) under which sbatch talks to the test cluster."""
    missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch", "sinfo") if shutil.which(b) is None]
    if missing:
        pytest.skip(f"Slurm binaries not installed ({', '.join(missing)}); apt-get install slurm-wlm munge")
    if os.geteuid() != 0:
        pytest.skip("starting slurmd needs root")
    state = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ, SLURM_TEST_CTLD_PORT=str(_free_port()), SLURM_TEST_SLURMD_PORT=str(_free_port()))
    started = subprocess.run(
        [str(TOOLS / "start.sh"), str(state)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    try:
        if started.returncode != 0:
            logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in (state / "log").glob("*.log"))
            raise AssertionError(f"the test cluster did not start:\n{started.stdout}{started.stderr}\n{logs}")
        yield {"SLURM_CONF": str(state / "slurm.conf")}
    finally:
        subprocess.run([str(TOOLS / "stop.sh"), str(state)], capture_output=True, timeout=60, check=False)
