"""The tree manifest: every path, kind, mode and content, one printable line each; differences named."""

from __future__ import annotations

from pathlib import Path

from envlock.store.tree import UNHASHED, manifest_text, scan_tree, tree_differences, tree_hash


def _tree(root: Path) -> str:
    return manifest_text(scan_tree(root, exclude=UNHASHED))


def test_manifest_names_odd_paths_on_one_line_each_and_leaves_out_the_record(tmp_path: Path) -> None:
    (tmp_path / "a dir").mkdir()
    (tmp_path / "a dir" / "new\nline.py").write_bytes(b"x")
    (tmp_path / "link").symlink_to("a dir")
    (tmp_path / "envlock-env.json").write_text("{}")
    (tmp_path / "tool").write_bytes(b"#!/bin/sh\n")
    (tmp_path / "tool").chmod(0o555)
    lines = _tree(tmp_path).splitlines()
    assert [line.split(" ", 3)[3] for line in lines] == ["a%20dir", "a%20dir/new%0Aline.py", "link", "tool"]
    assert lines[2] == "l - a%20dir link"
    assert lines[3].startswith("f 0555 ")


def test_one_changed_byte_changes_the_hash_and_is_named(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_bytes(b"VALUE = 1\n")
    (tmp_path / "pkg" / "other.py").write_bytes(b"")
    before = _tree(tmp_path)
    assert _tree(tmp_path) == before  # scanning twice gives the same bytes
    (tmp_path / "pkg" / "mod.py").write_bytes(b"VALUE = 2\n")
    (tmp_path / "pkg" / "other.py").unlink()
    (tmp_path / "pkg" / "new.py").write_bytes(b"")
    after = _tree(tmp_path)
    assert tree_hash(after) != tree_hash(before)
    assert tree_differences(before, after) == [
        "pkg/mod.py: contents changed",
        "pkg/new.py: added",
        "pkg/other.py: missing",
    ]
