"""The on-disk knowledge-base cache: a second load skips validation, and no change of a file goes unseen."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

import envlock.kb.files
from envlock.errors import SpecError
from envlock.kb import ComputeCapability, KnowledgeBase, load_kb

ROW = """
[[torch]]
release = "2.5.1"
variant = "cu124"
platform = "linux-aarch64"
sass = [{archs}]
"""


def cache_entries() -> list[Path]:
    return sorted((Path(os.environ["ENVLOCK_CACHE_DIR"]) / "kb").glob("*.pickle"))


def user_file(tmp_path: Path, archs: str, name: str = "private.toml") -> Path:
    path = tmp_path / name
    path.write_text(ROW.format(archs=archs), encoding="utf-8")
    return path


def sass(kb: KnowledgeBase) -> tuple[str, ...]:
    build = kb.torch_build("2.5.1", "cu124", "linux-aarch64")
    assert build is not None
    return tuple(c.sm for c in build.sass)


def no_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make validating a file fail: a load that still works came from the cache."""

    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("the knowledge-base files were validated again")

    monkeypatch.setattr(envlock.kb.files, "parse_fragment", refuse)


def fields(kb: KnowledgeBase) -> dict[str, object]:
    return {f.name: getattr(kb, f.name) for f in dataclasses.fields(kb)}


def test_second_load_comes_from_the_cache_and_equals_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = user_file(tmp_path, '"sm_80"')
    first = load_kb([path])
    assert len(cache_entries()) == 1
    no_validation(monkeypatch)
    second = load_kb([path])
    assert fields(second) == fields(first)
    assert sass(second) == ("sm_80",)


def test_an_edited_user_file_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = user_file(tmp_path, '"sm_80"')
    before = load_kb([path])
    user_file(tmp_path, '"sm_80", "sm_90"')
    after = load_kb([path])
    assert sass(after) == ("sm_80", "sm_90")
    assert after.digest != before.digest
    # going back to the first content finds its entry again
    user_file(tmp_path, '"sm_80"')
    no_validation(monkeypatch)
    assert load_kb([path]).digest == before.digest


def test_a_broken_user_file_is_refused_even_after_a_good_one_was_cached(tmp_path: Path) -> None:
    path = user_file(tmp_path, '"sm_80"')
    load_kb([path])
    user_file(tmp_path, '"sm_8x"')
    with pytest.raises(SpecError, match="sass"):
        load_kb([path])


def test_the_same_content_under_another_name_keeps_its_own_name(tmp_path: Path) -> None:
    a = user_file(tmp_path, '"sm_80"', name="a.toml")
    b = user_file(tmp_path, '"sm_80"', name="b.toml")
    kb_a, kb_b = load_kb([a]), load_kb([b])
    assert kb_a.digest == kb_b.digest  # the bytes are the same
    assert kb_b.files == (b,)
    build = kb_b.torch_build("2.5.1", "cu124", "linux-aarch64")
    assert build is not None and build.source == "user file b.toml"


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),
        lambda data: b"",
        lambda data: b"envlock-kb-cache 1\n" + b"0" * 64 + b"\n" + b"not a pickle",
    ],
    ids=["truncated", "one-bit", "empty", "bad-payload"],
)
def test_a_damaged_cache_entry_is_ignored_and_replaced(tmp_path: Path, damage: object) -> None:
    path = user_file(tmp_path, '"sm_80"')
    good = load_kb([path])
    (entry,) = cache_entries()
    entry.write_bytes(damage(entry.read_bytes()))  # type: ignore[operator]
    again = load_kb([path])
    assert fields(again) == fields(good)
    assert entry.read_bytes()[:19] == b"envlock-kb-cache 1\n"
    assert sass(load_kb([path])) == ("sm_80",)


def test_an_unwritable_cache_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("ENVLOCK_CACHE_DIR", str(blocker))
    path = user_file(tmp_path, '"sm_80"')
    assert sass(load_kb([path])) == ("sm_80",)
    assert sass(load_kb([path])) == ("sm_80",)


def test_builtin_digest_is_over_the_data_files_bytes() -> None:
    import hashlib

    data_dir = Path(envlock.kb.files.__file__).parent / "data"
    h = hashlib.sha256()
    for path in sorted(data_dir.glob("*.toml")):
        data = path.read_bytes()
        h.update(f"{len(data)}:".encode() + data)
    assert load_kb().digest == "sha256:" + h.hexdigest()
    assert load_kb().resolve_gpu("H100") == ComputeCapability(major=9, minor=0)
