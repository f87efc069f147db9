"""The committed example locks in locks/: fresh against their specs, and reproduced byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from envlock.cli.main import main
from fixtures.server import FixtureIndexServer

LOCKS = Path(__file__).resolve().parent.parent / "locks"
EXAMPLES = sorted(p.parent.name for p in LOCKS.glob("*/envlock.toml"))


def test_there_are_at_least_three_examples() -> None:
    assert len(EXAMPLES) >= 3
    for name in EXAMPLES:
        assert (LOCKS / name / "envlock.lock").exists(), f"locks/{name} has no committed lock"


@pytest.mark.parametrize("name", EXAMPLES)
def test_committed_lock_is_fresh(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = LOCKS / name / "envlock.toml"
    assert main(["check", "-s", str(spec)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("name", EXAMPLES)
def test_solve_reproduces_the_committed_lock_twice(
    name: str, tmp_path: Path, fixed_port_index_server: FixtureIndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / name
    shutil.copytree(LOCKS / name, work)
    committed = (LOCKS / name / "envlock.lock").read_bytes()
    for _ in range(2):
        (work / "envlock.lock").unlink()
        assert main(["solve", "-s", str(work / "envlock.toml")]) == 0, capsys.readouterr().err
        assert (work / "envlock.lock").read_bytes() == committed, (
            f"locks/{name}/envlock.lock is not what envlock solves today; refresh it with "
            "`python locks/refresh.py` and review the diff"
        )


def test_no_committed_lock_names_a_public_registry() -> None:
    for lock in LOCKS.glob("*/envlock.lock"):
        for line in lock.read_text().splitlines():
            if "url = " in line or "index = " in line:
                assert "127.0.0.1:8765" in line, f"{lock}: {line[:120]}"
