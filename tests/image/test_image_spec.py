"""The spec's `[image]` table: parsed, hashed only when present, recorded in the lock, and a change of
it makes the lock stale with a reason naming the key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import conftest  # noqa: F401  # puts tests/install (lockmaker) on sys.path
import pytest

from envlock.errors import SpecError
from envlock.lock.digest import seal
from envlock.lock.model import ImageInputs
from envlock.lock.read import parse_lock
from envlock.lock.write import dump_lock
from envlock.solve.inputs import lock_inputs, staleness
from envlock.spec import load_spec, spec_hash

SPEC = """\
[env]
name = "demo"
python = "3.11"
dependencies = ["torch"]

[[target]]
name = "cpu"
platform = "linux-x86_64"
"""

IMAGE = """
[image]
base = "docker://nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04@sha256:{digest}"
user = "1000:1000"
workdir = "/work"
entrypoint = ["python", "-m", "train"]
env = {{ HF_HOME = "/cache/hf", OMP_NUM_THREADS = "8" }}
labels = {{ "org.example.team" = "vision", "dev.envlock.target" = "not-this" }}
"""


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "envlock.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_image_table_parses_and_changes_the_spec_hash_only_when_present(tmp_path: Path) -> None:
    plain = load_spec(_spec(tmp_path, SPEC))
    assert plain.image is None
    with_image = load_spec(_spec(tmp_path, SPEC + IMAGE.format(digest="a" * 64)))
    image = with_image.image
    assert image is not None
    assert image.base is not None and image.base.endswith("@sha256:" + "a" * 64)
    assert (image.user, image.workdir, image.entrypoint) == ("1000:1000", "/work", ("python", "-m", "train"))
    assert image.env == (("HF_HOME", "/cache/hf"), ("OMP_NUM_THREADS", "8"))
    assert dict(image.labels)["org.example.team"] == "vision"
    assert spec_hash(plain) != spec_hash(with_image)
    other_base = load_spec(_spec(tmp_path, SPEC + IMAGE.format(digest="b" * 64)))
    assert spec_hash(other_base) != spec_hash(with_image)


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ('[image]\nbsae = "docker://x/y"\n', "did you mean 'base'"),
        ('[image]\nbase = "nvcr.io/nvidia/cuda:12"\n', "has no known transport"),
        ('[image]\nworkdir = "work"\n', "is not absolute"),
        ("[image]\nenv = { A = 1 }\n", "image.env.A"),
    ],
)
def test_bad_image_tables_are_spec_errors(tmp_path: Path, table: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(_spec(tmp_path, SPEC + "\n" + table))
    assert words in str(caught.value) + str(caught.value.hint)


def _lock_text(tmp_path: Path, image: ImageInputs | None) -> str:
    from lockmaker import TargetDef, make_lock

    path = make_lock(
        tmp_path / "envlock.lock", tmp_path / "wheels", "http://127.0.0.1:9/", [TargetDef(name="cpu")]
    )
    lock = parse_lock(path.read_text(encoding="utf-8"))
    return dump_lock(seal(dataclasses.replace(lock, inputs=dataclasses.replace(lock.inputs, image=image))))


def test_lock_records_the_image_table_and_reads_it_back(tmp_path: Path) -> None:
    image = ImageInputs(
        base="docker://registry.example/base@sha256:" + "c" * 64,
        user="1000:1000",
        workdir="/work",
        env=(("A", "1"),),
        entrypoint=("python",),
        labels=(("org.example.team", "vision"),),
    )
    text = _lock_text(tmp_path, image)
    assert '"org.example.team" = "vision"' in text
    lock = parse_lock(text)  # verifies the content hash
    assert lock.inputs.image == image
    assert parse_lock(_lock_text(tmp_path, None)).inputs.image is None
    assert "[inputs.image]" not in _lock_text(tmp_path, None)


def test_a_changed_base_makes_the_lock_stale_naming_it(tmp_path: Path) -> None:
    old_spec = load_spec(_spec(tmp_path, SPEC + IMAGE.format(digest="a" * 64)))
    new_spec = load_spec(_spec(tmp_path, SPEC + IMAGE.format(digest="b" * 64)))
    lock = parse_lock(_lock_text(tmp_path, None))
    old_inputs = lock_inputs(
        old_spec, default_index=lock.inputs.default_index, kb_digest=lock.inputs.knowledge_base
    )
    locked = dataclasses.replace(lock, inputs=old_inputs)
    fresh = lock_inputs(
        new_spec, default_index=lock.inputs.default_index, kb_digest=lock.inputs.knowledge_base
    )
    reasons = staleness(locked, fresh)
    assert any(r.startswith("image.base changed:") and "b" * 64 in r for r in reasons), reasons
    assert not any("image" in r for r in staleness(locked, old_inputs))
