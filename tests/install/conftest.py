"""Fixtures for install tests: fixture wheels served on 127.0.0.1, a store, and an envlock runner."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lockmaker import FileServer, TargetDef, make_lock


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    path = tmp_path / "wheels"
    path.mkdir()
    return path


@pytest.fixture
def server(wheels: Path) -> Iterator[FileServer]:
    srv = FileServer(wheels)
    yield srv
    srv.close()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def lock(tmp_path: Path, wheels: Path, server: FileServer) -> Path:
    """A lock with two CPU targets: `cpu` (alpha, beta) and `small` (alpha only)."""
    return make_lock(
        tmp_path / "envlock.lock",
        wheels,
        server.url,
        [TargetDef(name="cpu"), TargetDef(name="small", packages=(("alpha", "1.0"),))],
    )
