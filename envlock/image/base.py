"""The base image: where it is, what it pins, and whether a lock target can run on it.

Facts come from the base's own files: its config says the platform; its layers' file lists say
which Pythons it has (`usr/local/bin/python3.X`, `usr/bin/python3.X`) and which C library
(`libc.so.6` of glibc, with its version read from the library, or musl's loader). They are read
once per base digest and kept in the store (`v1/oci/bases/<hex>.json`).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from envlock import processes
from envlock.errors import IncompatibleNodeError, UsageError
from envlock.image.layout import Descriptor, blob_path, digest_of, read_json_blob
from envlock.lock.model import Artifact, LockedTarget
from envlock.platforms import wheel_glibc
from envlock.userfiles import write_atomic

_PLATFORMS = {("linux", "amd64"): "linux-x86_64", ("linux", "arm64"): "linux-aarch64"}
OCI_ARCH = {v: k[1] for k, v in _PLATFORMS.items()}
_PYTHON = re.compile(r"(usr/local/bin|usr/bin|bin)/python(\d+)\.(\d+)")
_GLIBC_VERSION = re.compile(rb"GNU C Library[^\n]*?version (\d+)\.(\d+)")
_GLIBC_NAME = re.compile(r"libc-(\d+)\.(\d+)\.so")


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseFacts:
    """What envlock needs to know about a base image."""

    platform: str | None  # "linux-x86_64"; None when the config names an unknown os/architecture
    os_arch: tuple[str, str]
    pythons: tuple[tuple[str, str], ...]  # (X.Y, path inside the image), best first
    glibc: str | None  # "2.36"
    musl: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "os-arch": list(self.os_arch),
            "pythons": [list(p) for p in self.pythons],
            "glibc": self.glibc,
            "musl": self.musl,
        }

    @staticmethod
    def from_json(doc: dict[str, Any]) -> BaseFacts:
        return BaseFacts(
            platform=doc["platform"],
            os_arch=(str(doc["os-arch"][0]), str(doc["os-arch"][1])),
            pythons=tuple((str(v), str(p)) for v, p in doc["pythons"]),
            glibc=doc["glibc"],
            musl=bool(doc["musl"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Base:
    """A resolved base: the layout its blobs are in, its manifest, config and layers."""

    reference: str  # as the user wrote it
    name: str  # HOST/REPO for a registry base, else ""
    digest: str  # the manifest digest the image records
    root: Path | None  # the OCI layout holding its blobs (None: scratch)
    config: dict[str, Any]
    layers: tuple[Descriptor, ...]
    facts: BaseFacts | None  # None: scratch


def _layer_names(path: Path, want_libc: list[tuple[str, bytes | str]]) -> list[str]:
    names: list[str] = []
    with _open_layer(path) as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
        for member in tar:
            name = member.name.lstrip("./")
            names.append(name)
            if name.endswith("/libc.so.6") or re.search(r"/libc-\d+\.\d+\.so$", name):
                if member.issym():
                    want_libc.append((name, member.linkname))
                elif member.isfile():
                    f = tar.extractfile(member)
                    if f is not None:
                        want_libc.append((name, f.read()))
    return names


@contextlib.contextmanager
def _open_layer(path: Path) -> Iterator[IO[bytes]]:
    """The uncompressed bytes of a layer blob: gzip, zstd (through the `zstd` program) or plain tar."""
    with path.open("rb") as f:
        magic = f.read(4)
    if magic[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as g:
            yield cast("IO[bytes]", g)  # a GzipFile reads bytes like any binary file
        return
    if magic == b"\x28\xb5\x2f\xfd":
        zstd = shutil.which("zstd")
        if zstd is None:
            raise UsageError(
                f"the base has a zstd layer ({path.name}) and the zstd program is not installed",
                hint="install zstd, or use a base with gzip layers",
            )
        proc = processes.start([zstd, "-dc", str(path)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert proc.stdout is not None
        try:
            yield proc.stdout
        finally:
            proc.kill()
            proc.wait()
        return
    with path.open("rb") as plain:
        yield plain


def read_facts(root: Path, config: dict[str, Any], layers: Sequence[Descriptor]) -> BaseFacts:
    """Read the platform, Pythons and C library of a base from its config and layers."""
    os_arch = (str(config.get("os", "")), str(config.get("architecture", "")))
    files: set[str] = set()
    libc: list[tuple[str, bytes | str]] = []
    for layer in layers:
        for name in _layer_names(blob_path(root, layer.digest), libc):
            base, _, leaf = name.rpartition("/")
            if leaf.startswith(".wh."):
                files.discard(f"{base}/{leaf[4:]}" if base else leaf[4:])
            else:
                files.add(name)
    pythons: list[tuple[int, str, str]] = []
    for name in files:
        m = _PYTHON.fullmatch(name)
        if m:
            rank = ("usr/local/bin", "usr/bin", "bin").index(m.group(1))
            pythons.append((rank, f"{m.group(2)}.{m.group(3)}", "/" + name))
    pythons.sort()
    glibc = None
    for _name, content in libc:
        if isinstance(content, str):
            g = _GLIBC_NAME.search(content)
            version = f"{g.group(1)}.{g.group(2)}" if g else None
        else:
            b = _GLIBC_VERSION.search(content)
            version = f"{int(b.group(1))}.{int(b.group(2))}" if b else None
        if version and (glibc is None or _vt(version) > _vt(glibc)):
            glibc = version
    musl = any(re.fullmatch(r"(usr/)?lib/ld-musl-[^/]+\.so\.1", n) for n in files)
    return BaseFacts(
        platform=_PLATFORMS.get(os_arch),
        os_arch=os_arch,
        pythons=tuple((v, p) for _r, v, p in pythons),
        glibc=glibc,
        musl=musl,
    )


def _vt(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split(".") if x.isdigit())


def cached_facts(facts_dir: Path, digest: str, compute: Any) -> BaseFacts:
    """The facts of base `digest`, read from `facts_dir` or computed by `compute()` and kept there."""
    path = facts_dir / f"{digest.split(':', 1)[1]}.json"
    try:
        from envlock.store.safe_read import read_store_text

        return BaseFacts.from_json(json.loads(read_store_text(path)))  # never blocks on a planted FIFO
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    facts: BaseFacts = compute()
    with contextlib.suppress(OSError):  # a read-only store still builds; it reads the base again next time
        write_atomic(path, json.dumps(facts.to_json(), sort_keys=True).encode())
    return facts


def load_base_from_layout(
    root: Path, manifest: Descriptor, *, reference: str, name: str, digest: str
) -> Base:
    """The base whose manifest `manifest` is in the OCI layout `root`."""
    doc = read_json_blob(root, manifest.digest)
    config_desc = doc["config"]
    config = read_json_blob(root, str(config_desc["digest"]))
    layers = tuple(
        Descriptor(media_type=str(d["mediaType"]), digest=str(d["digest"]), size=int(d["size"]))
        for d in doc.get("layers") or []
    )
    return Base(
        reference=reference, name=name, digest=digest, root=root, config=config, layers=layers, facts=None
    )


def scratch_base() -> Base:
    return Base(reference="scratch", name="", digest="", root=None, config={}, layers=(), facts=None)


def _manylinux_need(artifacts: Sequence[Artifact]) -> tuple[tuple[int, int], str] | None:
    """The newest glibc any of `artifacts` needs (a wheel tagged for several needs its oldest)."""
    need: tuple[tuple[int, int], str] | None = None
    for art in artifacts:
        glibc = wheel_glibc(art.filename)
        if glibc is not None and (need is None or glibc > need[0]):
            need = (glibc, art.filename)
    return need


def check_fit(target: LockedTarget, facts: BaseFacts, artifacts: Sequence[Artifact], reference: str) -> str:
    """The path of the base's Python that runs `target`; raises IncompatibleNodeError (exit 1)
    saying why the target cannot run on the base."""

    def refuse(why: str, hint: str) -> IncompatibleNodeError:
        return IncompatibleNodeError(
            f"target {target.name} does not fit the base {reference}: {why}",
            hint=hint,
            details={"target": target.name, "base": reference},
        )

    if facts.platform != target.platform:
        shown = "/".join(facts.os_arch) if any(facts.os_arch) else "an unknown platform"
        raise refuse(
            f"the base is {shown}, the target is locked for {target.platform}",
            f"use a base image for {target.platform}, or a lock target for the base's platform",
        )
    python = target.python.rstrip("t")
    paths = [p for v, p in facts.pythons if v == python]
    if not paths:
        have = ", ".join(f"{v} ({p})" for v, p in facts.pythons) or "none"
        raise refuse(
            f"the lock target needs Python {target.python}, the base has Python {have}",
            f"use a base image with Python {target.python}, or re-solve the lock for the base's Python",
        )
    need = _manylinux_need(artifacts)
    if need is not None:
        (major, minor), filename = need
        if facts.glibc is None:
            libc = "musl, not glibc" if facts.musl else "no glibc (no libc.so.6 in its layers)"
            raise refuse(
                f"the base has {libc}, and {filename} is a manylinux wheel that needs glibc {major}.{minor}",
                "use a glibc-based base image (Debian, Ubuntu, RHEL, NVIDIA CUDA images)",
            )
        if _vt(facts.glibc) < (major, minor):
            raise refuse(
                f"the base has glibc {facts.glibc}, and {filename} needs glibc {major}.{minor}",
                f"use a base image with glibc >= {major}.{minor}",
            )
    return paths[0]


__all__ = ["Base", "BaseFacts", "check_fit", "digest_of"]
