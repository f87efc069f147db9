"""envlock's files in the user's account: one cache root for every cache, and whole-file replacement."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from envlock.kb import cache as kb_cache
from envlock.kb import load_kb
from envlock.userfiles import default_cache_root, write_atomic


def test_the_cache_root_follows_envlock_then_xdg_then_home(tmp_path: Path) -> None:
    assert default_cache_root({"ENVLOCK_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/c")
    assert default_cache_root({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/x/envlock")
    assert default_cache_root({"HOME": "/h"}) == Path("/h/.cache/envlock")


def test_the_knowledge_base_cache_lives_under_the_same_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ENVLOCK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert kb_cache.cache_dir() == tmp_path / "xdg" / "envlock" / "kb"
    user = tmp_path / "mine.toml"
    user.write_text('[sources]\nmine = "our notes"\n')
    load_kb([user])
    assert list((tmp_path / "xdg" / "envlock" / "kb").glob("*.pickle"))


def test_write_atomic_replaces_the_whole_file_and_leaves_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "entry"
    write_atomic(path, b"old")
    write_atomic(path, b"new contents")
    assert path.read_bytes() == b"new contents"
    assert [p.name for p in path.parent.iterdir()] == ["entry"]


def test_write_atomic_modes_follow_the_umask_unless_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "shared", b"x")
        write_atomic(tmp_path / "mine", b"x", private=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "mine").stat().st_mode) == 0o600


def test_a_failed_write_keeps_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    path = tmp_path / "entry"
    write_atomic(path, b"old")
    with pytest.raises(OSError):
        write_atomic(path / "not-a-dir-child", b"x")  # its parent is a file
    (tmp_path / "dir").mkdir()
    with pytest.raises(OSError):
        write_atomic(tmp_path / "dir", b"x")  # a directory cannot be replaced by a file
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "entry"]
