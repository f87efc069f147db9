"""OCI image layouts on disk: read a manifest by tag, and write a layout that appears whole or not at all.

A layout is `oci-layout`, `index.json` and `blobs/sha256/<hex>`. Every JSON document envlock writes
is canonical (sorted keys, no spaces), so the same content always has the same digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envlock.errors import InternalError, UsageError
from envlock.store.layout import hostname, new_token
from envlock.userfiles import write_atomic

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
REF_NAME = "org.opencontainers.image.ref.name"
_LAYOUT_FILE = '{"imageLayoutVersion":"1.0.0"}'
_OWNER = ".envlock-owner"  # in a partial layout: "PID HOST" of its writer


def canonical_json(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        return doc


def blob_path(root: Path, digest: str) -> Path:
    algo, _, hex_digest = digest.partition(":")
    if algo != "sha256" or len(hex_digest) != 64 or not all(c in "0123456789abcdef" for c in hex_digest):
        raise UsageError(f"{root}: {digest!r} is not a sha256 digest")
    return root / "blobs" / "sha256" / hex_digest


def is_layout(root: Path) -> bool:
    return (root / "oci-layout").is_file() and (root / "index.json").is_file()


def read_json_blob(root: Path, digest: str) -> dict[str, Any]:
    path = blob_path(root, digest)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"{root}: the image layout lacks blob {digest} ({exc.strerror})",
            hint="the layout is incomplete; copy the image again",
        ) from exc
    if digest_of(data) != digest:
        raise UsageError(f"{root}: blob {digest} does not match its digest", hint="copy the image again")
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise UsageError(f"{root}: blob {digest} is not a JSON object")
    return doc


def find_manifest(root: Path, tag: str | None, *, what: str) -> Descriptor:
    """The manifest of `root` tagged `tag` (or its only manifest when `tag` is None)."""
    if not is_layout(root):
        raise UsageError(
            f"{what}: {root} is not an OCI image layout (no oci-layout / index.json)",
            hint="give the directory that `skopeo copy ... oci:DIR:TAG` wrote",
        )
    index = json.loads((root / "index.json").read_text(encoding="utf-8"))
    entries = index.get("manifests") or []
    found = [e for e in entries if tag is None or (e.get("annotations") or {}).get(REF_NAME) == tag]
    if tag is None and len(found) > 1:
        tags = sorted(str((e.get("annotations") or {}).get(REF_NAME)) for e in found)
        raise UsageError(
            f"{what}: {root} holds several images ({', '.join(tags)})",
            hint="name one with oci:DIR:TAG",
        )
    if not found:
        raise UsageError(
            f"{what}: {root} has no image tagged {tag!r}",
            hint="list its tags with `skopeo inspect oci:DIR:TAG` or look at index.json",
        )
    entry = found[0]
    return Descriptor(
        media_type=str(entry.get("mediaType", MANIFEST)), digest=str(entry["digest"]), size=int(entry["size"])
    )


def _link_or_copy(src: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.{new_token(4)}.tmp")
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    tmp.replace(dest)


class LayoutWriter:
    """Writes a layout at `dest` so that it appears whole or not at all.

    A new `dest` is filled in a hidden sibling directory and renamed into place; an existing
    layout gets its new blobs first (content-addressed, so harmless if the writer dies) and then a
    new `index.json` by one rename. A killed writer leaves a hidden `.NAME.envlock-*` directory
    beside `dest`, which the next write there removes.
    """

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        if dest.exists() and not is_layout(dest) and (not dest.is_dir() or any(dest.iterdir())):
            raise UsageError(
                f"{dest} exists and is not an OCI image layout",
                hint="choose a new directory, or an existing layout to add the image to",
            )
        self.update = is_layout(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        for old in dest.parent.glob(f".{dest.name}.envlock-*"):
            if _abandoned(old):
                shutil.rmtree(old, ignore_errors=True)
        self.root = dest if self.update else dest.parent / f".{dest.name}.envlock-{new_token(6)}"
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        if not self.update:
            (self.root / _OWNER).write_text(f"{os.getpid()} {hostname()}\n", encoding="utf-8")

    def add_bytes(self, data: bytes) -> str:
        digest = digest_of(data)
        path = blob_path(self.root, digest)
        if not path.exists():
            write_atomic(path, data)
        return digest

    def add_file(self, src: Path, digest: str) -> None:
        path = blob_path(self.root, digest)
        if not path.exists():
            _link_or_copy(src, path)

    def commit(self, manifest: Descriptor, tag: str) -> None:
        """Point `tag` at `manifest` (replacing an older image of that tag) and publish the layout."""
        entries: list[dict[str, Any]] = []
        if self.update:
            index = json.loads((self.root / "index.json").read_text(encoding="utf-8"))
            entries = [
                e for e in index.get("manifests") or [] if (e.get("annotations") or {}).get(REF_NAME) != tag
            ]
        entry = manifest.to_json()
        entry["annotations"] = {REF_NAME: tag}
        entries.append(entry)
        index_doc = {"schemaVersion": 2, "mediaType": INDEX, "manifests": entries}
        tmp = self.root / f".index.json.{new_token(4)}.tmp"
        tmp.write_bytes(canonical_json(index_doc))
        (self.root / "oci-layout").write_text(_LAYOUT_FILE, encoding="utf-8")
        _pause_for_tests()
        tmp.replace(self.root / "index.json")
        if not self.update:
            (self.root / _OWNER).unlink(missing_ok=True)
            try:
                self.root.rename(self.dest)
            except OSError as exc:
                if self.dest.is_dir() and not any(self.dest.iterdir()):
                    self.dest.rmdir()
                    self.root.rename(self.dest)
                else:
                    raise InternalError(f"cannot publish the image layout at {self.dest}: {exc}") from exc

    def abort(self) -> None:
        if not self.update:
            shutil.rmtree(self.root, ignore_errors=True)


def _abandoned(partial: Path) -> bool:
    """Whether a hidden partial layout was left by a writer that is gone: its process is dead on this
    host, or it has not changed for an hour (a writer on another host)."""
    import time

    try:
        from envlock.store.safe_read import read_store_text

        pid_text, _, host = read_store_text(partial / _OWNER).strip().partition(" ")
        if host == hostname() and pid_text.isdigit():
            try:
                os.kill(int(pid_text), 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                return False
            return False
        return time.time() - partial.stat().st_mtime > 3600
    except (OSError, ValueError):
        return True


def _pause_for_tests() -> None:
    text = os.environ.get("ENVLOCK_TEST_IMAGE_PAUSE")
    if text:
        import time

        time.sleep(float(text))


def copy_blobs(src_root: Path, digests: Iterable[str], writer: LayoutWriter) -> None:
    for digest in digests:
        writer.add_file(blob_path(src_root, digest), digest)


def annotations_of(doc: Mapping[str, Any]) -> dict[str, str]:
    raw = doc.get("annotations") or {}
    return {str(k): str(v) for k, v in raw.items()}
