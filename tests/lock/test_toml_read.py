"""Reading envlock.lock: what the reader returns, how it reports hand edits and damaged files."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envlock import _toml
from envlock.errors import LockFormatError, StaleLockError
from envlock.lock.model import (
    Artifact,
    Lock,
    LockedPackage,
    LockedTarget,
    LockInputs,
    Rejection,
    TargetInputs,
)
from envlock.lock.toml import (
    _load_blocks,
    _load_toml,
    compute_content_hash,
    dump_lock,
    parse_lock,
    parse_lock_unverified,
    seal,
)

INDEX = "https://mirror.example/simple"


def _artifact(name: str, version: str, **extra: object) -> Artifact:
    filename = f"{name}-{version}-py3-none-any.whl"
    digest = hashlib.sha256(filename.encode()).hexdigest()
    return Artifact(
        filename=filename, url=f"{INDEX}/{filename}", size=1000 + len(name), sha256=digest, **extra
    )  # type: ignore[arg-type]


def _package(name: str, version: str, *artifacts: Artifact) -> LockedPackage:
    return LockedPackage(
        name=name, version=version, index=INDEX, artifacts=artifacts or (_artifact(name, version),)
    )


def make_lock() -> Lock:
    packages = (
        _package("filelock", "3.16.1"),
        _package("numpy", "1.26.4", _artifact("numpy", "1.26.4", upload_time="2024-02-05T23:00:00Z")),
        _package("sympy", "1.13.1", _artifact("sympy", "1.13.1", yanked=True, hash_source="downloaded")),
        _package("torch", "2.5.1+cu124"),
    )
    target = LockedTarget(
        name="h100",
        platform="linux-x86_64",
        glibc="2.28",
        python="3.11",
        gpus=("sm_90",),
        driver="550.54.15",
        variant="cu124",
        torch="2.5.1+cu124",
        cuda="12.4",
        cudnn="9.1.0.70",
        nccl="2.21.5",
        requires_driver="550.54.14",
        compat="native",
        kb_status="confirmed",
        env_hash="sha256:" + "e" * 64,
        packages=packages,
        rejected=(Rejection(variant="cu118", reason="lower CUDA than cu124", fix=None),),
    )
    cpu = LockedTarget(
        name="login",
        platform="linux-x86_64",
        glibc="2.28",
        python="3.11",
        gpus=(),
        driver=None,
        variant="cpu",
        torch=None,
        cuda=None,
        cudnn=None,
        nccl=None,
        requires_driver=None,
        compat=None,
        kb_status="confirmed",
        env_hash="sha256:" + "c" * 64,
        packages=(),
        rejected=(),
    )
    inputs = LockInputs(
        name="demo",
        python="3.11",
        dependencies=("torch>=2.5", "numpy<2"),
        cuda_version=None,
        cudnn=None,
        nccl=None,
        driver_compat="prefer-native",
        allow_ptx=False,
        default_index=INDEX,
        pytorch_index="https://download.pytorch.org/whl",
        extra_indexes=(),
        exclude_newer=None,
        targets=(
            TargetInputs(
                name="h100", platform="linux-x86_64", glibc="2.28", gpus=("H100",), driver="550.54.15"
            ),
            TargetInputs(name="login", platform="linux-x86_64", glibc="2.28", gpus=(), driver=None),
        ),
        knowledge_base="sha256:" + "0" * 64,
    )
    return seal(
        Lock(
            lock_version=1,
            envlock_version="0.1.0",
            uv_version="0.5.0",
            spec_hash="sha256:" + "1" * 64,
            inputs=inputs,
            targets=(target, cpu),
            content_hash="",
        )
    )


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
        ('gpus = ["sm_90"]\n', "gpus = 90\n", "targets[0].gpus: expected a list of strings"),
    ],
)
def test_a_damaged_value_is_named_by_its_key_path(old: str, new: str, where: str) -> None:
    text = dump_lock(make_lock())
    assert old in text
    with pytest.raises(LockFormatError) as info:
        parse_lock_unverified(text.replace(old, new, 1), source="envlock.lock")
    assert info.value.message == f"envlock.lock: {where}"


# The reader's own TOML front end (`_load_toml`) must give what the TOML parser gives, for every
# text: the same tables for a text it reads, and a refusal for a text the parser refuses. It is
# exercised on the writer's layout and on that layout damaged at random.

_SNIPPETS = [
    "\n",
    " ",
    "\t",
    "\r\n",
    '"',
    "'",
    "\\",
    "#",
    "[",
    "]",
    "{",
    "}",
    ",",
    "=",
    "x",
    "0",
    "1_0",
    "+1",
    '"""',
    "'''",
    "\\u0041",
    "\\n",
    "\x7f",
    "\x00",
    "é",
    "\n[[targets.packages]]\n",
    "\n[targets.packages.x]\n",
    "\n[targets.packages]\n",
    "\nx = 1\n",
    "\n[[targets]]\n",
    "\n[inputs]\n",
    "packages = []\n",
    "\n__envlock_package_block__ = 0\n",
    '\n"__envlock_package_block__" = 1\n',
    "\n[[targets.packages]]\n__envlock_package_block__ = 0\n",
    ", yanked = false",
    ", yanked = true",
    ', hash-source = "index"',
    "size = 01, ",
    "artifacts = [\n",
]


def _tables_or_refusal(load: object, text: str) -> object:
    try:
        return load(text)  # type: ignore[operator]
    except _toml.TOMLDecodeError:
        return "refused"


def _edit_points(text: str) -> list[int]:
    """Where edits matter most: line starts and ends, after `= `, inside `{ ... }` and strings."""
    points = {0, len(text)}
    for i, ch in enumerate(text):
        if ch == "\n":
            points.update((i, i + 1))
        elif ch in '"{}[]' or text.startswith("= ", i):
            points.update((i, i + 1, i + 2))
    return sorted(p for p in points if p <= len(text))


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_toml_front_end_gives_what_the_parser_gives(data: st.DataObject) -> None:
    text = dump_lock(make_lock())
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.sampled_from(_edit_points(text)))
        snippet = data.draw(st.sampled_from(_SNIPPETS))
        cut = data.draw(st.integers(0, 2))
        text = text[:at] + snippet + text[at + cut :]
    expected = _tables_or_refusal(_toml.loads, text)
    assert _tables_or_refusal(_load_toml, text) == expected
    quick = _load_blocks(text)
    if expected == "refused":
        assert quick is None
    else:
        assert quick is None or quick == expected


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # a multi-line string holding what looks like package blocks
        ("rejected = [\n", 'note = """\n'),
        ("rejected = [\n", "note = '''\n"),
        # a key after the last package of a target belongs to that package
        (']\n\n[[targets]]\nname = "login"', ']\nextra = 1\n\n[[targets]]\nname = "login"'),
        # a subtable of the last package
        (']\n\n[[targets]]\nname = "login"', ']\n[targets.packages.x]\n\n[[targets]]\nname = "login"'),
        # not TOML: a leading zero, a control character
        ("size = 1008,", "size = 01008,"),
        ('name = "numpy"', 'name = "num\x7fpy"'),
        # the placeholder the front end uses, written by hand
        (
            '[[targets]]\nname = "login"',
            '[[targets.packages]]\n__envlock_package_block__ = 0\n[[targets]]\nname = "login"',
        ),
        (
            '[[targets]]\nname = "login"',
            '[[targets.packages]]\n"__envlock_package\\u005fblock__" = 1\n[[targets]]\nname = "login"',
        ),
    ],
)
def test_toml_front_end_on_tricky_texts(old: str, new: str) -> None:
    text = dump_lock(make_lock())
    assert old in text
    text = text.replace(old, new, 1)
    if new.startswith("note = "):  # close the string after the packages
        quotes = new[7:10]
        text = text.replace('[[targets]]\nname = "login"', f'{quotes}\n[[targets]]\nname = "login"')
    expected = _tables_or_refusal(_toml.loads, text)
    assert _tables_or_refusal(_load_toml, text) == expected
    quick = _load_blocks(text)
    assert quick is None or quick == expected


def test_toml_front_end_takes_the_writers_layout() -> None:
    text = dump_lock(make_lock())
    assert _load_blocks(text) == _toml.loads(text)
    assert _load_blocks(text.replace("\n", "\r\n")) is None  # another layout: the parser reads it
