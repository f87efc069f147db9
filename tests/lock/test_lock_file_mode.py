"""`solve` writes the lock like any file the user writes: the umask's mode, not mkstemp's private 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_WRITE = """
import sys
from pathlib import Path
from envlock.lock.read import load_lock
from envlock.lock.write import write_lock
write_lock(load_lock(Path(sys.argv[1])), Path(sys.argv[2]))
"""


def _write(source: Path, dest: Path, umask: int) -> None:
    subprocess.run(
        [sys.executable, "-c", _WRITE, str(source), str(dest)],
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        umask=umask,
    )


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_new_lock_gets_the_umask_mode(tmp_path: Path, umask: int, mode: int) -> None:
    source = next((REPO / "locks").glob("*/envlock.lock"))
    dest = tmp_path / "envlock.lock"
    _write(source, dest, umask)
    assert stat.S_IMODE(dest.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["envlock.lock"]  # no temporary file left


def test_a_rewritten_lock_keeps_its_mode(tmp_path: Path) -> None:
    source = next((REPO / "locks").glob("*/envlock.lock"))
    dest = tmp_path / "envlock.lock"
    dest.write_text("# an older lock\n")
    dest.chmod(0o640)
    _write(source, dest, 0o022)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert dest.read_text() == source.read_text()
