"""The checks a reviewer makes first, run as part of the suite: ruff's rules and mypy --strict."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(module: str) -> None:
    if (
        shutil.which(module) is None
        and subprocess.run(
            [sys.executable, "-m", module, "--version"], capture_output=True, check=False
        ).returncode
        != 0
    ):
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")


def test_ruff_finds_nothing() -> None:
    _tool("ruff")
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "envlock", "tests", "locks", "fixtures"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_finds_nothing() -> None:
    _tool("mypy")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "envlock"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
