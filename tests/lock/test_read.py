"""Reading envlock.lock: what the reader returns, how it reports hand edits and damaged files."""

from __future__ import annotations

from typing import Any

import pytest
from lockfactory import make_lock

from envlock.errors import LockFormatError, StaleLockError
from envlock.lock.digest import compute_content_hash
from envlock.lock.read import parse_lock, parse_lock_unverified
from envlock.lock.write import dump_lock


def test_reads_back_what_was_written_and_its_hash_matches() -> None:
    lock = make_lock()
    text = dump_lock(lock)
    parsed = parse_lock_unverified(text)
    assert parsed.lock == lock
    assert parsed.hash_matches
    assert parse_lock(text) == lock
    assert dump_lock(parsed.lock) == text


def test_a_hand_edited_version_is_reported() -> None:
    text = dump_lock(make_lock()).replace('version = "1.26.4"', 'version = "1.26.5"')
    parsed = parse_lock_unverified(text)
    assert not parsed.hash_matches
    assert parsed.lock.targets[0].packages[1].version == "1.26.5"
    with pytest.raises(StaleLockError, match="edited by hand"):
        parse_lock(text)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # spelling out a default the writer leaves out does not change the content
        ("size = 1008, sha256", 'size = 1008, hash-source = "index", sha256'),
        # the same keys in another order
        ('hash-source = "downloaded", yanked = true }', 'yanked = true, hash-source = "downloaded" }'),
        ('size = 1008, sha256 = "', 'yanked = false, size = 1008, sha256 = "'),
        # keys the reader does not know are not content
        (
            'index = "https://mirror.example/simple"\nartifacts',
            'index = "https://mirror.example/simple"\nx = 1\nartifacts',
        ),
        ("size = 1008, sha256", 'note = "mine", size = 1008, sha256'),
        ("[[targets]]\n", "[[targets]]\nextra = true\n"),
        ("allow-ptx = false\n", 'allow-ptx = false\ncomment = "x"\n'),
        # other TOML spellings of the same values
        ("size = 1008,", "size = 1_008,"),
        ('version = "1.26.4"', "version = '1.26.4'"),
        ('[[targets.packages]]\nname = "numpy"', '[[targets.packages]]\nname = "num\\u0070y"'),
    ],
)
def test_layout_changes_keep_the_hash_an_edit_of_a_value_does_not(old: str, new: str) -> None:
    text = dump_lock(make_lock())
    assert text.count(old) >= 1, old
    edited = text.replace(old, new, 1)
    parsed = parse_lock_unverified(edited)
    assert parsed.lock == make_lock()
    assert parsed.hash_matches
    # and the same edit plus a changed value is a hand edit
    changed = edited.replace('"3.16.1"', '"3.16.2"')
    assert not parse_lock_unverified(changed).hash_matches


def test_hash_check_agrees_with_the_content_hash_for_every_single_line_deletion() -> None:
    text = dump_lock(make_lock())
    lines = text.splitlines(keepends=True)
    checked = 0
    for i in range(len(lines)):
        variant = "".join(lines[:i] + lines[i + 1 :])
        try:
            parsed = parse_lock_unverified(variant)
        except LockFormatError:
            continue
        checked += 1
        assert parsed.hash_matches == (compute_content_hash(parsed.lock) == parsed.lock.content_hash), i
    assert checked > 10


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("size = 1008,", 'size = "1008",', "targets[0].packages[0].artifacts[0].size: expected an integer"),
        ('name = "numpy"', "name = 3", "targets[0].packages[1].name: expected a string"),
        (
            "yanked = true",
            'yanked = "yes"',
            "targets[0].packages[2].artifacts[0].yanked: expected true or false",
        ),
        ('gpus = ["sm_90"]\n', "gpus = 90\n", "inputs.targets[0].gpus: expected a list of strings"),
    ],
)
def test_a_damaged_value_is_named_by_its_key_path(old: str, new: str, where: str) -> None:
    text = dump_lock(make_lock())
    assert old in text
    with pytest.raises(LockFormatError) as info:
        parse_lock_unverified(text.replace(old, new, 1), source="envlock.lock")
    assert info.value.message == f"envlock.lock: {where}"


def test_an_older_lock_version_is_upgraded_as_it_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if lock-version 1 had spelt a target's knowledge-base row `kb-row` and version 2 renamed it.
    from envlock.lock import read

    def rename(data: dict[str, Any]) -> dict[str, Any]:
        for target in data["targets"]:
            target["knowledge-base-row"] = target.pop("kb-row")
        return {**data, "lock-version": 2}

    monkeypatch.setattr(read, "LOCK_VERSION", 2)
    monkeypatch.setattr(read, "MIGRATIONS", {1: rename})
    old = dump_lock(make_lock()).replace("knowledge-base-row", "kb-row")
    lock = parse_lock_unverified(old).lock
    assert lock.lock_version == 2
    assert [t.kb_status for t in lock.targets] == ["confirmed", "confirmed"]


@pytest.mark.parametrize("version", [0, -1])
def test_a_lock_version_without_an_upgrade_is_refused(version: int) -> None:
    text = dump_lock(make_lock()).replace("lock-version = 1\n", f"lock-version = {version}\n", 1)
    with pytest.raises(LockFormatError) as info:
        parse_lock(text, source="old.lock")
    assert info.value.message == (
        f"old.lock: lock-version {version} is not one this envlock can read (it reads 1 to 1)"
    )
    assert info.value.hint == "regenerate the lock with `envlock solve`"
