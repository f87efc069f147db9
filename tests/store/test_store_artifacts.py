"""Artifacts in the store: every use re-hashes them (several at once), corrupt copies are removed."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from envlock.errors import IntegrityError
from envlock.lock.model import Artifact
from envlock.store.artifacts import ArtifactState, check_stored_all, store_artifact
from envlock.store.layout import StoreLayout


def _stored(layout: StoreLayout, name: str, data: bytes) -> Artifact:
    sha = hashlib.sha256(data).hexdigest()
    path = layout.artifact_path(sha, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return Artifact(filename=name, url=f"https://example.invalid/{name}", size=len(data), sha256=sha)


def test_every_copy_is_checked_and_only_the_bad_ones_are_removed(tmp_path: Path) -> None:
    layout = StoreLayout(root=tmp_path)
    arts = [_stored(layout, f"p{i}-1.0-py3-none-any.whl", os.urandom(1000 + 70_000 * i)) for i in range(12)]
    rotten, truncated = arts[3], arts[8]
    # same size, other bytes: only hashing can tell
    path = layout.artifact_path(rotten.sha256, rotten.filename)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    layout.artifact_path(truncated.sha256, truncated.filename).write_bytes(b"short")
    mtime = layout.artifact_path(arts[0].sha256, arts[0].filename).stat().st_mtime_ns
    missing = Artifact(
        filename="gone-1.0-py3-none-any.whl", url="https://example.invalid/x", size=3, sha256="0" * 64
    )

    states = check_stored_all(layout, [*arts, missing], threads=4)

    expected = [ArtifactState.OK] * len(arts) + [ArtifactState.MISSING]
    expected[3] = expected[8] = ArtifactState.CORRUPT
    assert states == expected
    assert not layout.artifact_path(rotten.sha256, rotten.filename).exists()
    assert not layout.artifact_path(truncated.sha256, truncated.filename).exists()
    # a good copy is left exactly as it was (uv's cache of the local file stays valid)
    assert layout.artifact_path(arts[0].sha256, arts[0].filename).stat().st_mtime_ns == mtime


def test_one_thread_and_many_agree(tmp_path: Path) -> None:
    layout = StoreLayout(root=tmp_path)
    arts = [_stored(layout, f"q{i}-1.0-py3-none-any.whl", os.urandom(5000)) for i in range(5)]
    assert check_stored_all(layout, arts, threads=1) == check_stored_all(layout, arts, threads=8)
    assert check_stored_all(layout, [], threads=8) == []


def test_stored_bytes_are_verified_whatever_the_source_claims(tmp_path: Path) -> None:
    layout = StoreLayout(root=tmp_path)
    layout.ensure()
    good = os.urandom(4096)
    art = Artifact(
        filename="r-1.0-py3-none-any.whl",
        url="https://example.invalid/r",
        size=len(good),
        sha256=hashlib.sha256(good).hexdigest(),
    )

    def writer(data: bytes, claim: str | None) -> Callable[[Path], str | None]:
        def write(dest: Path) -> str | None:
            dest.write_bytes(data)
            return claim

        return write

    # a source that measured nothing, or claims another digest, or the right digest for bytes of
    # another size: the file is hashed and refused
    for data, claim in ((b"x" * 4096, None), (b"x" * 4096, "0" * 64), (good + b"!", art.sha256)):
        with pytest.raises(IntegrityError):
            store_artifact(layout, art, writer(data, claim), origin="test")
        assert not layout.artifact_path(art.sha256, art.filename).exists()
    assert list(layout.scratch.iterdir()) == []
    path = store_artifact(layout, art, writer(good, None), origin="test")
    assert path.read_bytes() == good
