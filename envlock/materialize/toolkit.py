"""The locked CUDA toolkit in `<env>/cuda`: NVIDIA redist archives unpacked, or NVIDIA's wheels merged.

Each archive holds one top directory (`cuda_nvcc-linux-x86_64-12.4.131-archive/`) whose `bin/`,
`include/`, `lib/`, `nvvm/`, ... are merged into one tree, as a CUDA installation lays them out;
files at the archive's top level (its LICENSE) go to `share/<component>/` so that components do
not overwrite each other's. `lib64` is a link to `lib` for build systems that look there.

With `toolkit-source = "index"` the components are NVIDIA's wheels, installed like every package
under `site-packages/nvidia/<component>/` (CUDA 12) or `nvidia/cu13/` (CUDA 13); `link_wheel_toolkit`
merges those trees into `<env>/cuda` with hard links, so that `nvcc` finds its headers and
libraries the way it does in a CUDA installation.

An archive is input like any other, verified by sha256 but made by someone else: nothing in it may
leave the tree. Refused, with nothing kept: absolute paths, `..`, members outside the archive's top
directory, links that point outside the tree (or hard links to anything not unpacked before them),
devices and FIFOs, set-id bits, members larger than `MAX_MEMBER`, more than `MAX_TOTAL` bytes or
`MAX_MEMBERS` members in all, and two archives writing different bytes to one path.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from envlock.errors import IntegrityError
from envlock.lock.model import LockedTarget

if TYPE_CHECKING:
    from envlock.materialize import LocalArtifact

MAX_MEMBER = 4 << 30
MAX_TOTAL = 24 << 30
MAX_MEMBERS = 200_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolkitArchive:
    component: str  # "cuda_nvcc"
    filename: str
    path: Path  # a verified local copy


@dataclass(frozen=True, slots=True)
class _Member:
    name: str  # path inside the archive, "/"-separated
    kind: str  # "dir" | "file" | "symlink" | "hardlink"
    size: int
    mode: int
    mtime: int
    link: str  # symlink or hardlink target
    handle: tarfile.TarInfo | zipfile.ZipInfo


def install_toolkit(cuda_home: Path, archives: Sequence[ToolkitArchive]) -> None:
    """Unpack `archives` (in component order) into `cuda_home`, which must not exist yet.

    Raises IntegrityError naming the archive and member when an archive breaks a rule above.
    """
    cuda_home.mkdir()
    budget = [MAX_TOTAL, MAX_MEMBERS]
    for archive in sorted(archives, key=lambda a: a.component):
        _unpack(archive, cuda_home, budget)
    lib, lib64 = cuda_home / "lib", cuda_home / "lib64"
    if lib.is_dir() and not lib64.exists() and not lib64.is_symlink():
        lib64.symlink_to("lib")


def _refuse(archive: ToolkitArchive, member: str, why: str) -> IntegrityError:
    return IntegrityError(
        f"CUDA toolkit archive {archive.filename}: member {member!r} {why}; nothing was installed",
        hint="the archive matches the lock's sha256 but is not a well-formed NVIDIA redist archive: "
        "check where the lock's toolkit entries point ([indexes].nvidia-redist) and re-solve",
        details={"file": archive.filename, "member": member},
    )


def _top_dir(filename: str) -> str:
    for suffix in (".tar.xz", ".zip"):
        if filename.endswith(suffix):
            return filename[: -len(suffix)]
    return filename


def _unpack(archive: ToolkitArchive, root: Path, budget: list[int]) -> None:
    top = _top_dir(archive.filename)
    if archive.filename.endswith(".zip"):
        with zipfile.ZipFile(archive.path) as zf:
            _place_all(archive, root, top, _zip_members(zf), lambda m: zf.open(m.name), budget)
        return
    # Streaming mode: every member is read once, in order, so the work is linear in the archive.
    with tarfile.open(archive.path, mode="r|*") as tf:
        _place_all(archive, root, top, _tar_members(tf), lambda m: _tar_open(tf, m), budget)


def _tar_open(tf: tarfile.TarFile, m: _Member) -> IO[bytes] | None:
    assert isinstance(m.handle, tarfile.TarInfo)
    return tf.extractfile(m.handle)


def _tar_members(tf: tarfile.TarFile) -> Iterator[_Member]:
    for info in tf:
        if info.isdir():
            kind = "dir"
        elif info.isreg():
            kind = "file"
        elif info.issym():
            kind = "symlink"
        elif info.islnk():
            kind = "hardlink"
        else:
            kind = "special"
        yield _Member(info.name, kind, info.size, info.mode, int(info.mtime), info.linkname, info)


def _zip_members(zf: zipfile.ZipFile) -> Iterator[_Member]:
    for info in zf.infolist():
        mode = (info.external_attr >> 16) & 0o7777
        kind = "dir" if info.is_dir() else "file"
        if stat.S_ISLNK(info.external_attr >> 16):
            kind = "special"  # NVIDIA's zip archives (Windows) carry no links
        yield _Member(info.filename, kind, info.file_size, mode or 0o644, 0, "", info)


def _place_all(
    archive: ToolkitArchive,
    root: Path,
    top: str,
    members: Iterator[_Member],
    opener: Callable[[_Member], IO[bytes] | None],
    budget: list[int],
) -> None:
    placed: dict[str, Path] = {}
    for m in members:
        budget[1] -= 1
        if budget[1] < 0:
            raise _refuse(archive, m.name, f"is beyond the limit of {MAX_MEMBERS} members")
        rel = _inside(archive, top, m.name)
        if rel is None:
            continue  # the top directory itself
        if m.kind == "special":
            raise _refuse(archive, m.name, "is a device, FIFO or other special file")
        if m.mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX):
            raise _refuse(archive, m.name, "has a set-id or sticky bit")
        if m.size > MAX_MEMBER:
            raise _refuse(archive, m.name, f"claims {m.size} bytes, more than {MAX_MEMBER}")
        budget[0] -= m.size
        if budget[0] < 0:
            raise _refuse(archive, m.name, f"takes the toolkit beyond {MAX_TOTAL} bytes")
        # Files at the top of the archive (LICENSE) are the component's own.
        dest_rel = rel if "/" in rel or m.kind == "dir" else f"share/{archive.component}/{rel}"
        dest = root / dest_rel
        _check_parents(archive, root, dest, m.name)
        if m.kind == "dir":
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if m.kind == "symlink":
            _symlink(archive, root, dest, m)
        elif m.kind == "hardlink":
            source_rel = _inside(archive, top, m.link)
            source = placed.get(source_rel) if source_rel else None
            if source is None or not source.is_file() or source.is_symlink():
                raise _refuse(archive, m.name, f"is a hard link to {m.link!r}, not a file unpacked before it")
            _write(archive, dest, m, source.open("rb"))
        else:
            _write(archive, dest, m, opener(m))
        placed[rel] = dest


def _inside(archive: ToolkitArchive, top: str, name: str) -> str | None:
    """`name` without the archive's top directory; refuses anything that could leave it."""
    if name.startswith("/") or "\\" in name or name.startswith("\\"):
        raise _refuse(archive, name, "has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise _refuse(archive, name, "climbs out with '..'")
    if not parts or parts[0] != top:
        raise _refuse(archive, name, f"is outside the archive's top directory {top}/")
    rest = "/".join(parts[1:])
    return rest or None


def _check_parents(archive: ToolkitArchive, root: Path, dest: Path, name: str) -> None:
    """No directory on the way to `dest` may be a link (an earlier member could have made one)."""
    current = root
    for part in dest.relative_to(root).parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise _refuse(archive, name, f"would be written through the link {current.relative_to(root)}")


def _symlink(archive: ToolkitArchive, root: Path, dest: Path, m: _Member) -> None:
    target = m.link
    if not target or target.startswith("/"):
        raise _refuse(archive, m.name, f"is a link to the absolute path {target!r}")
    resolved = posixpath.normpath(posixpath.join(dest.parent.relative_to(root).as_posix(), target))
    if resolved == ".." or resolved.startswith("../"):
        raise _refuse(archive, m.name, f"is a link to {target!r}, outside the toolkit")
    if dest.is_symlink() and str(dest.readlink()) == target:
        return  # the same link from another component
    if dest.exists() or dest.is_symlink():
        raise _refuse(archive, m.name, "would replace a file another component installed")
    dest.symlink_to(target)


def _write(archive: ToolkitArchive, dest: Path, m: _Member, stream: IO[bytes] | None) -> None:
    if stream is None:
        raise _refuse(archive, m.name, "cannot be read")
    existed = dest.exists() or dest.is_symlink()
    target = dest.with_name(f".{dest.name}.envlock-part") if existed else dest
    written = 0
    with stream, target.open("wb") as out:
        while chunk := stream.read(1 << 20):
            written += len(chunk)
            if written > m.size:
                raise _refuse(archive, m.name, "holds more bytes than its header says")
            out.write(chunk)
    if existed:
        same = dest.is_file() and not dest.is_symlink() and _same_bytes(dest, target)
        target.unlink()
        if not same:
            raise _refuse(archive, m.name, "would overwrite a different file another component installed")
        return
    dest.chmod(0o755 if m.mode & 0o111 else 0o644)
    os.utime(dest, (m.mtime, m.mtime))


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def link_wheel_toolkit(env: Path, cuda_home: Path) -> None:
    """Merge the `nvidia/<dir>/` trees of the env's NVIDIA wheels into `cuda_home` (hard links).

    Only files the wheels' RECORDs list are linked; package markers (`__init__.py`, caches) are
    left out; where two wheels ship one path, the first in name order is kept.
    """
    from importlib.metadata import distributions

    sites = sorted(env.glob("lib/python*/site-packages")) + sorted(env.glob("Lib/site-packages"))
    links: dict[str, Path] = {}
    for site in sites:
        for dist in sorted(distributions(path=[str(site)]), key=lambda d: d.metadata["Name"] or ""):
            if not (dist.metadata["Name"] or "").lower().startswith("nvidia-"):
                continue
            for file in dist.files or ():
                parts = file.parts
                if len(parts) < 3 or parts[0] != "nvidia" or "__pycache__" in parts:
                    continue
                if parts[-1] == "__init__.py":
                    continue
                rel = "/".join(parts[2:])
                links.setdefault(rel, site / file)
    if not links:
        return
    cuda_home.mkdir()
    for rel, source in sorted(links.items()):
        dest = cuda_home / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            dest.symlink_to(source.readlink())
        elif source.is_file():
            try:
                os.link(source, dest)
            except OSError:
                import shutil

                shutil.copy2(source, dest)
    lib, lib64 = cuda_home / "lib", cuda_home / "lib64"
    if lib.is_dir() and not lib64.exists() and not lib64.is_symlink():
        lib64.symlink_to("lib")


def place_toolkit(env: Path, target: LockedTarget, files: Sequence[LocalArtifact]) -> None:
    """`<env>/cuda` for a target with a locked toolkit: NVIDIA's wheels merged (toolkit-source
    "index"), or the verified redist archives among `files` unpacked; nothing for other targets."""
    if target.toolkit_source == "index":
        link_wheel_toolkit(env, env / "cuda")
    components = set(target.toolkit)
    archives = [
        ToolkitArchive(component=f.package.name, filename=f.artifact.filename, path=f.path)
        for f in files
        if f.package in components
    ]
    if archives:
        install_toolkit(env / "cuda", archives)
