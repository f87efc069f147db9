"""Split an installed environment into OCI layers and write each as a reproducible tar+gzip.

Which files go where (`plan_layers`, a pure function of the tree and the lock):
* every package's files are those its `*.dist-info/RECORD` lists (console scripts in `bin/` too);
* torch, triton and every `nvidia-*` package, and any package whose files exceed `OWN_LAYER_BYTES`,
  get a layer of their own (the named ones first, then the largest), at most `MAX_LAYERS - 2` of
  them (the anchors are Nix's buildLayeredImage and nix2container, which also cap layers and give
  the biggest store paths their own). A torch upgrade re-ships torch's layer only, and a registry
  shares cuDNN's layer between images;
* every other package shares one layer ("packages");
* the rest of the venv (pyvenv.cfg, bin/python, activate scripts, envlock-env.json) is the last,
  small layer ("venv"), rewritten for the prefix inside the image.

Bytes (`write_layer`): entries sorted by path, parent directories included, owner 0:0 with no
names, modes 0755/0644 (0777 for symlinks), one mtime per layer taken from the newest upload time
the lock records for its files (else 0), no xattrs, hard links written as files; gzip level 6 with
no name and mtime 0 in the header. No `.pyc` is written (a store environment's `__pycache__` is
left out): byte-code caches are a product of the interpreter, and the image stays a function of the
locked files. uv's per-install notes (`direct_url.json` naming the store path, `uv_cache.json`
with timestamps) are left out too, with their RECORD lines.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
import tarfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from envlock.lock.model import Artifact, LockedPackage

MAX_LAYERS = 40  # layers envlock adds on top of the base (a base brings its own; overlayfs stops near 128)
OWN_LAYER_BYTES = 32 << 20
OWN_LAYER_NAMES = frozenset({"torch", "triton", "pytorch-triton", "jax", "jaxlib", "tensorflow"})
LAYER_FORMAT = 1  # bump when the bytes a layer plan produces change
GZIP_LEVEL = 6
_SKIPPED_NOTES = frozenset({"direct_url.json", "uv_cache.json"})
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One tar member: a regular file (from `source` or `data`), a directory or a symlink."""

    path: str  # relative to the environment root, POSIX
    kind: str  # "file" | "dir" | "symlink"
    mode: int = 0o644
    source: Path | None = None
    data: bytes | None = None
    link: str = ""
    size: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerPlan:
    """What one layer holds. `key` names its bytes in the store (None: rebuilt every time)."""

    name: str  # "torch", "packages", "venv"
    packages: tuple[str, ...]
    entries: tuple[Entry, ...] = field(repr=False)
    mtime: int
    key: str | None
    size: int  # bytes of file content, before compression
    artifacts: tuple[str, ...] = ()  # sha256 of the locked files its packages come from


@dataclass(frozen=True, slots=True, kw_only=True)
class BuiltLayer:
    plan_name: str
    packages: tuple[str, ...]
    diff_id: str  # sha256 of the uncompressed tar
    digest: str  # sha256 of the gzip blob
    size: int  # of the gzip blob
    path: Path  # where the blob is (the store's blob area, or --layer-only's output)
    reused: bool  # found in the store, not written now


def _canonical(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _epoch(upload_time: str | None) -> int:
    if not upload_time:
        return 0
    try:
        return int(datetime.fromisoformat(upload_time.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def layer_mtime(artifacts: Iterable[Artifact]) -> int:
    """The mtime of every entry of a layer: the newest upload time of its files (0 when none is known)."""
    return max((_epoch(a.upload_time) for a in artifacts), default=0)


def _mode(st_mode: int) -> int:
    return 0o755 if st_mode & 0o111 else 0o644


def _read_record(dist_info: Path) -> list[str]:
    try:
        text = (dist_info / "RECORD").read_text(encoding="utf-8")
    except OSError:
        return []
    return [row[0] for row in csv.reader(io.StringIO(text)) if row]


def _record_without_notes(dist_info: Path) -> bytes:
    text = (dist_info / "RECORD").read_text(encoding="utf-8")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in csv.reader(io.StringIO(text)):
        if row and PurePosixPath(row[0]).name in _SKIPPED_NOTES and row[0].count("/") == 1:
            continue
        writer.writerow(row)
    return out.getvalue().encode()


def _skipped(rel: str) -> bool:
    parts = rel.split("/")
    if "__pycache__" in parts or rel.endswith(".pyc"):
        return True
    if len(parts) >= 2 and parts[-2].endswith(".dist-info") and parts[-1] in _SKIPPED_NOTES:
        return True
    return rel == ".lock"  # uv's lock file of the venv


def scan_env(env_dir: Path) -> dict[str, Entry]:
    """Every file, symlink and empty directory of `env_dir`, by relative POSIX path (what goes in)."""
    found: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(env_dir):
        dirnames.sort()
        base = Path(dirpath)
        rel_dir = base.relative_to(env_dir).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        names = sorted(filenames) + [d for d in dirnames if (base / d).is_symlink()]
        for name in names:
            rel = prefix + name
            if _skipped(rel):
                continue
            path = base / name
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                found[rel] = Entry(path=rel, kind="symlink", mode=0o777, link=str(path.readlink()))
            elif stat.S_ISREG(st.st_mode):
                if name == "RECORD" and base.name.endswith(".dist-info"):
                    data = _record_without_notes(base)
                    found[rel] = Entry(path=rel, kind="file", mode=0o644, data=data, size=len(data))
                else:
                    found[rel] = Entry(
                        path=rel, kind="file", mode=_mode(st.st_mode), source=path, size=st.st_size
                    )
        dirnames[:] = [d for d in dirnames if not (base / d).is_symlink() and d != "__pycache__"]
        if not filenames and not dirnames and rel_dir != ".":
            found[rel_dir] = Entry(path=rel_dir, kind="dir", mode=0o755)
    return found


def owners(env_dir: Path, site_packages: str, packages: Sequence[LockedPackage]) -> dict[str, str]:
    """Relative path -> owning package name, from each installed distribution's RECORD."""
    by_name = {_canonical(p.name): p.name for p in packages}
    owned: dict[str, str] = {}
    site = env_dir / site_packages
    if not site.is_dir():
        return owned
    for dist_info in sorted(site.glob("*.dist-info")):
        dist = _canonical(dist_info.name[: -len(".dist-info")].rsplit("-", 1)[0])
        name = by_name.get(dist)
        if name is None:
            continue
        for listed in _read_record(dist_info):
            rel = os.path.normpath(f"{site_packages}/{listed}").replace(os.sep, "/")
            if not rel.startswith("../"):
                owned[rel] = name
        for member in dist_info.iterdir():
            owned.setdefault(f"{site_packages}/{dist_info.name}/{member.name}", name)
    return owned


def _key(
    *, prefix: str, python: str, mtime: int, tool: str, packages: Sequence[tuple[LockedPackage, Artifact]]
) -> str:
    doc = {
        "format": LAYER_FORMAT,
        "prefix": prefix,
        "python": python,
        "mtime": mtime,
        "installer": tool,
        "files": sorted((p.name, p.version, a.sha256) for p, a in packages),
    }
    import json

    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def plan_layers(
    *,
    entries: Mapping[str, Entry],
    owned: Mapping[str, str],
    chosen: Sequence[tuple[LockedPackage, Artifact]],
    prefix: str,
    python: str,
    installer: str,
    venv_entries: Sequence[Entry],
    venv_mtime: int,
    single: bool = False,
) -> tuple[LayerPlan, ...]:
    """The layers of an environment whose files are `entries` (owned as `owned` says).

    `venv_entries` replace the unowned files (the venv rewritten for the image). `single` puts
    everything in one layer (`--layer-only`).
    """
    per_package: dict[str, list[Entry]] = {p.name: [] for p, _a in chosen}
    venv: dict[str, Entry] = {}
    for rel, entry in entries.items():
        owner = owned.get(rel)
        if owner is not None and owner in per_package:
            per_package[owner].append(entry)
        else:
            venv[rel] = entry
    for entry in venv_entries:
        venv[entry.path] = entry
    artifact_of = {p.name: (p, a) for p, a in chosen}
    sizes = {name: sum(e.size for e in files) for name, files in per_package.items()}

    def make(name: str, names: Sequence[str], files: Iterable[Entry], *, cached: bool) -> LayerPlan:
        pairs = [artifact_of[n] for n in names]
        mtime = layer_mtime(a for _p, a in pairs) if cached else venv_mtime
        items = tuple(sorted(files, key=lambda e: e.path))
        key = (
            _key(prefix=prefix, python=python, mtime=mtime, tool=installer, packages=pairs)
            if cached
            else None
        )
        return LayerPlan(
            name=name,
            packages=tuple(sorted(names)),
            entries=items,
            mtime=mtime,
            key=key,
            size=sum(e.size for e in items),
            artifacts=tuple(sorted({a.sha256 for _p, a in pairs})),
        )

    if single:
        everything = [e for files in per_package.values() for e in files] + list(venv.values())
        return (make("environment", list(per_package), everything, cached=False),)

    def wants_own(name: str) -> bool:
        return name in OWN_LAYER_NAMES or name.startswith("nvidia-") or sizes[name] >= OWN_LAYER_BYTES

    # named packages first (torch must not lose its layer to many nvidia-* ones), then the largest
    candidates = sorted(
        (n for n in per_package if wants_own(n)), key=lambda n: (n not in OWN_LAYER_NAMES, -sizes[n], n)
    )
    own = sorted(candidates[: MAX_LAYERS - 2])
    rest = sorted(n for n in per_package if n not in own)
    plans = [make(n, [n], per_package[n], cached=True) for n in own]
    if rest:
        plans.append(make("packages", rest, (e for n in rest for e in per_package[n]), cached=True))
    plans.append(make("venv", [], venv.values(), cached=False))
    return tuple(plans)


class _HashingGzip:
    """A file-like sink: hashes the tar stream (diff_id), gzips it, hashes and writes the result."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.raw = hashlib.sha256()
        self.packed = hashlib.sha256()
        self.crc = 0
        self.length = 0
        self.size = 0
        self._z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, 8)  # as gzip(1)
        # gzip header: magic, deflate, no flags, mtime 0, xfl 0, OS 255 ("unknown") on every machine
        self._emit(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")

    def _emit(self, data: bytes) -> None:
        if data:
            self.packed.update(data)
            self.out.write(data)
            self.size += len(data)

    def write(self, data: bytes) -> int:
        self.raw.update(data)
        self.crc = zlib.crc32(data, self.crc)
        self.length += len(data)
        self._emit(self._z.compress(data))
        return len(data)

    def tell(self) -> int:
        return self.length

    def close(self) -> None:
        self._emit(self._z.flush())
        self._emit(self.crc.to_bytes(4, "little") + (self.length & 0xFFFFFFFF).to_bytes(4, "little"))


def _dirs_of(paths: Iterable[str], root: str) -> set[str]:
    dirs: set[str] = set()
    parts = root.split("/")
    for i in range(1, len(parts) + 1):
        dirs.add("/".join(parts[:i]))
    for path in paths:
        parent = PurePosixPath(path).parent
        while str(parent) not in (".", ""):
            dirs.add(f"{root}/{parent}")
            parent = parent.parent
    return dirs


def write_layer(plan: LayerPlan, prefix: str, out: BinaryIO) -> tuple[str, str, int]:
    """Write `plan` as a gzip'd tar with every entry under `prefix`; returns (diff_id, digest, size)."""
    root = prefix.strip("/")
    sink = _HashingGzip(out)
    members: list[tuple[str, Entry | None]] = [
        (d, None) for d in _dirs_of((e.path for e in plan.entries), root)
    ]
    members += [(f"{root}/{e.path}", e) for e in plan.entries]
    members.sort(key=lambda m: m[0])
    with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]  # a write-only sink is enough for mode "w"
        tar.copybufsize = _CHUNK
        seen: set[str] = set()
        for name, entry in members:
            if name in seen:
                continue
            seen.add(name)
            info = tarfile.TarInfo(name)
            info.mtime = plan.mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if entry is None or entry.kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif entry.kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.mode = 0o777
                info.linkname = entry.link
                tar.addfile(info)
            elif entry.data is not None:
                info.mode = entry.mode
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                assert entry.source is not None
                with entry.source.open("rb") as f:
                    info.mode = entry.mode
                    info.size = os.fstat(f.fileno()).st_size
                    tar.addfile(info, f)
    sink.close()
    return "sha256:" + sink.raw.hexdigest(), "sha256:" + sink.packed.hexdigest(), sink.size
