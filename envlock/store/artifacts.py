"""Content-addressed artifacts: `v1/artifacts/sha256/<hex>/<filename>`, verified before every use."""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Callable
from enum import Enum
from pathlib import Path

from envlock.errors import IntegrityError
from envlock.lock.model import Artifact
from envlock.store.errors import store_error
from envlock.store.layout import StoreLayout

_CHUNK = 1 << 20


def hash_file(path: Path) -> tuple[str, int]:
    """(sha256 hex, size) of the file at `path`."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class ArtifactState(Enum):
    OK = "ok"
    MISSING = "missing"
    CORRUPT = "corrupt"


def check_file(path: Path, artifact: Artifact) -> ArtifactState:
    """Whether `path` holds exactly the bytes `artifact` pins (size first, then sha256)."""
    try:
        if path.stat().st_size != artifact.size:
            return ArtifactState.CORRUPT
        sha, _ = hash_file(path)
    except FileNotFoundError:
        return ArtifactState.MISSING
    return ArtifactState.OK if sha == artifact.sha256 else ArtifactState.CORRUPT


def check_stored(layout: StoreLayout, artifact: Artifact) -> ArtifactState:
    """Re-verify the store's copy of `artifact`; a corrupt copy is removed so it can be fetched again.

    A verified copy gets its mtime touched, which tells `envlock gc` it is in use.
    """
    path = layout.artifact_path(artifact.sha256, artifact.filename)
    state = check_file(path, artifact)
    if state is ArtifactState.CORRUPT:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    elif state is ArtifactState.OK:
        with contextlib.suppress(OSError):
            os.utime(path)
    return state


def store_artifact(
    layout: StoreLayout, artifact: Artifact, write: Callable[[Path], None], *, origin: str
) -> Path:
    """Put `artifact` into the store: `write(tmp)` fills a scratch file, which is verified against
    the lock and renamed into place. Raises IntegrityError (nothing is stored) on a mismatch."""
    final = layout.artifact_path(artifact.sha256, artifact.filename)
    tmp = layout.scratch / f"artifact-{uuid.uuid4().hex}-{artifact.filename}"
    try:
        try:
            write(tmp)
        except OSError as exc:
            raise store_error(exc, tmp, "write an artifact") from exc
        state = check_file(tmp, artifact)
        if state is not ArtifactState.OK:
            got = hash_file(tmp) if tmp.exists() else None
            raise IntegrityError(
                f"{artifact.filename}: {origin} gave bytes that do not match the lock "
                f"(expected sha256 {artifact.sha256}, size {artifact.size}; got "
                + (f"sha256 {got[0]}, size {got[1]})" if got else "nothing)"),
                hint="the index or bundle changed the file after the lock was made; nothing was installed. "
                "Re-solve the lock, or fetch the bundle again",
                details={"file": artifact.filename, "expected-sha256": artifact.sha256},
            )
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp.replace(final)
        except OSError as exc:
            raise store_error(exc, final, "store an artifact") from exc
        return final
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
