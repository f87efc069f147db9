"""uv's version, recorded in every lock: asked once per uv binary, then remembered in the user cache."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from envlock.resolvers import uv as uv_backend


@pytest.fixture(autouse=True)
def _fresh_memo() -> Iterator[None]:
    uv_backend.uv_version.cache_clear()  # the in-process answer; the user cache is per test (conftest)
    yield
    uv_backend.uv_version.cache_clear()


def test_a_uv_binary_is_asked_once_then_answered_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = tmp_path / "bin" / "uv"
    binary.parent.mkdir()
    shutil.copy2(uv_backend.uv_binary(), binary)
    monkeypatch.setattr(uv_backend, "uv_binary", lambda: str(binary))
    first = uv_backend.uv_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", first)
    # Not runnable any more, same bytes and mtime: the answer can only come from the cache.
    binary.chmod(0o644)
    uv_backend.uv_version.cache_clear()
    assert uv_backend.uv_version() == first


def test_a_script_in_uvs_place_is_asked_every_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A version manager's shim may start another uv each time: its answer is never remembered.
    shim = tmp_path / "uv"
    monkeypatch.setattr(uv_backend, "uv_binary", lambda: str(shim))
    for version in ("9.9.1", "9.9.2"):
        shim.write_text(f"#!/bin/sh\necho 'uv {version} (shim)'\n")
        shim.chmod(0o755)
        uv_backend.uv_version.cache_clear()
        assert uv_backend.uv_version() == version
