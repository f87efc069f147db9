"""Reading envlock.lock: what the reader returns, how it reports hand edits and damaged files."""

from __future__ import annotations

from typing import Any

import pytest
from lockfactory import make_lock, make_target

from envlock.errors import LockFormatError, StaleLockError
from envlock.lock.digest import compute_content_hash
from envlock.lock.model import Artifact, LockedInterpreter
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
    ("old", "new", "message"),
    [
        (
            "size = 1008,",
            'size = "1008",',
            'targets[0].packages[0].artifacts[0].size: found "1008", expected an integer',
        ),
        ('name = "numpy"', "name = 3", "targets[0].packages[1].name: found 3, expected a string"),
        (
            "yanked = true",
            'yanked = "yes"',
            'targets[0].packages[2].artifacts[0].yanked: found "yes", expected true or false',
        ),
        ('gpus = ["sm_90"]\n', "gpus = 90\n", "inputs.targets[0].gpus: found 90, expected a list of strings"),
        # a bad item of a list is named by its index
        (
            'gpus = ["sm_90"]\n',
            'gpus = ["sm_90", 90]\n',
            "inputs.targets[0].gpus[1]: found 90, expected a string",
        ),
        (
            '"numpy<2",\n',
            '"numpy<2",\n    ["x"],\n',
            "inputs.dependencies[2]: found a list, expected a string",
        ),
        # a key every lock has, missing
        ('variant = "cpu"\n', "", "targets[1].variant: missing, expected a string"),
        ("lock-version = 1\n", 'lock-version = "1"\n', 'lock-version: found "1", expected an integer'),
        (
            "rejected = [\n",
            "rejected = 3\nx = [\n",
            "targets[0].rejected: found 3, expected a list of tables",
        ),
        (
            "rejected = [\n    {",
            "rejected = [\n    3, {",
            "targets[0].rejected[0]: found 3, expected a table",
        ),
        # the other tables of the model
        (
            'index = "https://mirror.example/simple"\nartifacts',
            'index = "https://mirror.example/simple"\n'
            'source = { path = "a.whl", url = "https://x.example/a.whl" }\nartifacts',
            "targets[0].packages[0].source: holds path and url, expected exactly one of path, url, git",
        ),
        (
            'index = "https://mirror.example/simple"\nartifacts',
            'index = "https://mirror.example/simple"\nsource = { commit = "abc" }\nartifacts',
            "targets[0].packages[0].source: holds no path, url or git, "
            "expected exactly one of path, url, git",
        ),
        (
            'knowledge-base = "',
            'build = "sometimes"\nknowledge-base = "',
            'inputs.build: found "sometimes", expected "never", "allowed" or a list of project names',
        ),
        (
            'knowledge-base = "',
            'image = { env = { "A.B" = 1 } }\nknowledge-base = "',
            'inputs.image.env."A.B": found 1, expected a string',
        ),
        (
            'reason = "lower',
            'reason = [1], x = "lower',
            "targets[0].rejected[0].reason: found a list, expected a string",
        ),
    ],
)
def test_a_damaged_value_is_named_by_its_key_path(old: str, new: str, message: str) -> None:
    text = dump_lock(make_lock())
    assert old in text
    with pytest.raises(LockFormatError) as info:
        parse_lock_unverified(text.replace(old, new, 1), source="envlock.lock")
    assert info.value.message == f"envlock.lock: {message}"
    assert info.value.details == {"file": "envlock.lock", "key": message.partition(": ")[0]}
    assert info.value.hint == "the lock is damaged or not an envlock lock; regenerate it with `envlock solve`"


def test_a_lock_without_its_inputs_table_names_it() -> None:
    text = dump_lock(make_lock())
    head, _, rest = text.partition("[inputs]\n")
    without = head + rest[rest.index("[[targets]]") :]
    with pytest.raises(LockFormatError) as info:
        parse_lock_unverified(without, source="envlock.lock")
    assert info.value.message == "envlock.lock: inputs: missing, expected a table"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'implementation = "cpython"',
            'implementation = "pypy"',
            'implementation: found "pypy", expected "cpython"',
        ),
        (
            'version = "3.11.14"',
            'version = "3.11"',
            'version: found "3.11", expected a version like "3.11.14"',
        ),
        (
            'file = "cpython-3.11.14+20251031-x86_64-unknown-linux-gnu-install_only.tar.gz"',
            'file = "cpython.zip"',
            'file: found "cpython.zip", expected the file name of a .tar.gz or .tar.zst archive',
        ),
    ],
)
def test_a_damaged_interpreter_is_named_by_its_key_path(old: str, new: str, message: str) -> None:
    archive = "cpython-3.11.14+20251031-x86_64-unknown-linux-gnu-install_only.tar.gz"
    interpreter = LockedInterpreter(
        implementation="cpython",
        version="3.11.14",
        artifact=Artifact(filename=archive, url=f"https://pbs.example/{archive}", size=1, sha256="d" * 64),
    )
    text = dump_lock(make_lock(targets=(make_target(interpreter=interpreter),)))
    assert old in text
    with pytest.raises(LockFormatError) as info:
        parse_lock_unverified(text.replace(old, new, 1), source="envlock.lock")
    assert info.value.message == f"envlock.lock: targets[0].interpreter.{message}"


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


@pytest.mark.parametrize(("key", "value"), [("glibc", "2.3000000"), ("python", "3.20000")])
def test_a_sealed_lock_with_an_absurd_version_is_refused_before_any_tag_is_listed(
    key: str, value: str
) -> None:
    """A lock is input: one whose hashes were recomputed after writing glibc "2.3000000" would make
    install list a wheel tag per minor version (millions; it ran out of memory). The reader refuses it."""
    text = dump_lock(make_lock(targets=(make_target(**{key: value}),)))
    with pytest.raises(LockFormatError) as info:
        parse_lock(text, source="envlock.lock")
    assert info.value.message == (
        f"envlock.lock: targets[0].{key}: {value!r} is not allowed: expected "
        + ("X.Y or X.Yt" if key == "python" else "X.Y")
        + " (at most two digits each)"
    )
