"""Find the CUDA code in an ELF file, a wheel (member by member, streamed) or a directory tree."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from envlock.inspect.elf import ELF_MAGIC, Section, is_nobits, read_sections
from envlock.inspect.fatbin import walk_fatbin
from envlock.inspect.model import BinaryReport, CorruptBinaryError, NotABinaryError

# cuobjdump's order: the executable fatbin when there is one, else the relocatable one.
FATBIN_SECTIONS = (".nv_fatbin", "__nv_relfatbin")
_SHARED_LIB_RE = re.compile(r"\.so(?:\.\d+)*$")
# Suffixes that are never ELF: skipped without opening the file when walking a directory.
_NEVER_ELF = frozenset(
    {".py", ".pyc", ".pyi", ".pyx", ".pxd", ".h", ".hpp", ".cuh", ".txt", ".md", ".json", ".toml", ".cfg",
     ".yaml", ".yml", ".typed", ".dist-info", ".csv", ".html", ".js", ".css", ".png", ".jpg", ".svg",
     ".cmake", ".pc", ".c", ".cpp", ".cu", ".rst", ".ini", ".whl", ".zip", ".gz", ".pth", ".sh", ".bat"}
)  # fmt: skip


def _summarize(path: str, f: BinaryIO, file_size: int) -> BinaryReport:
    sections = read_sections(f, path, file_size)
    by_name = {s.name: s for s in sections if not is_nobits(s)}
    chosen: Section | None = next((by_name[n] for n in FATBIN_SECTIONS if n in by_name), None)
    if chosen is None:
        return BinaryReport(path=path, sass=(), ptx=(), compressed="none", containers=0, has_cuda=False)
    if chosen.offset + chosen.size > file_size:
        raise CorruptBinaryError(
            f"{path}: truncated ELF file: section {chosen.name} at offset {chosen.offset} "
            f"({chosen.size} bytes) ends past the end of the file ({file_size} bytes)",
            hint="the file is cut short (an interrupted download or copy?); reinstall it",
            details={"path": path, "offset": chosen.offset},
        )
    sass, ptx, sass_names, ptx_names, compressions = set(), set(), set(), set(), set()
    sass_entries = ptx_entries = containers = 0
    per_arch: dict[str, int] = {}
    for container, entry in walk_fatbin(
        f, base=chosen.offset, size=chosen.size, where=path, section=chosen.name
    ):
        containers = max(containers, container)
        compressions.add(entry.compression)
        if entry.kind == "sass":
            sass.add(entry.cc)
            sass_names.add(entry.arch)
            sass_entries += 1
            per_arch[entry.arch] = per_arch.get(entry.arch, 0) + 1
        else:
            ptx.add(entry.cc)
            ptx_names.add(entry.arch)
            ptx_entries += 1
    if not compressions:
        compressed = "none"
    elif len(compressions) == 1:
        compressed = compressions.pop()
    else:
        compressed = "mixed"

    def order(name: str) -> tuple[int, str]:
        digits = re.sub(r"\D", "", name)
        return int(digits), name

    sass_order = tuple(sorted(sass_names, key=order))
    return BinaryReport(
        path=path,
        sass=tuple(sorted(sass)),
        ptx=tuple(sorted(ptx)),
        compressed=compressed,
        containers=containers,
        has_cuda=sass_entries + ptx_entries > 0,
        sass_names=sass_order,
        ptx_names=tuple(sorted(ptx_names, key=order)),
        sass_entries=sass_entries,
        ptx_entries=ptx_entries,
        section=chosen.name,
        sass_counts=tuple((n, per_arch[n]) for n in sass_order),
    )


def summarize_stream(where: str, f: BinaryIO, size: int) -> BinaryReport:
    """The CUDA code of an ELF image open as the seekable stream `f` (`where` names it in errors)."""
    return _summarize(where, f, size)


def _is_elf_file(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError:
        return False


def inspect_elf(path: Path) -> BinaryReport:
    """The CUDA code of one ELF file.

    Raises NotABinaryError if it is not ELF, CorruptBinaryError if it is damaged.
    """
    try:
        with path.open("rb") as f:
            if f.read(4) != ELF_MAGIC:
                raise NotABinaryError(
                    f"{path}: not an ELF file, a wheel or a directory",
                    hint="inspect reads shared libraries (.so), executables, wheels (.whl) and "
                    "directories such as a virtual environment",
                    details={"path": str(path)},
                )
            return _summarize(str(path), f, path.stat().st_size)
    except OSError as exc:
        raise NotABinaryError(
            f"{path}: cannot read: {exc.strerror or exc}", details={"path": str(path)}
        ) from None


def inspect_wheel(path: Path) -> list[BinaryReport]:
    """Reports for every ELF shared library inside a wheel, read member by member from the zip."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise NotABinaryError(
            f"{path}: not a wheel: the file is not a zip archive ({exc})",
            hint="a wheel is a zip file; re-download it if it was cut short",
            details={"path": str(path)},
        ) from None
    reports = []
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not _SHARED_LIB_RE.search(info.filename):
                continue
            where = f"{path}!{info.filename}"
            try:
                with archive.open(info) as member:
                    if member.read(4) != ELF_MAGIC:
                        continue
                    # Reading ELF headers seeks back and forth; a zip member seeks backwards by
                    # decompressing again from its start, which made a large, highly compressed
                    # member cost time quadratic in its size. One streamed copy keeps it linear.
                    with tempfile.TemporaryFile() as copy:
                        copy.write(ELF_MAGIC)
                        shutil.copyfileobj(member, copy, 1 << 20)
                        reports.append(_summarize(where, copy, copy.tell()))
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise CorruptBinaryError(
                    f"{where}: the wheel member cannot be read: {exc}",
                    hint="the wheel is damaged; re-download it",
                    details={"path": where},
                ) from None
    return reports


def _walk_files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        dirnames[:] = [d for d in dirnames if d not in ("__pycache__", ".git")]
        for name in sorted(filenames):
            if Path(name).suffix in _NEVER_ELF:
                continue
            path = Path(dirpath) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            # Symlinks (libfoo.so.1 -> libfoo.so.1.2) would report the same file twice.
            if stat.S_ISREG(st.st_mode) and st.st_size >= 64:
                yield path


def inspect_directory(root: Path) -> list[BinaryReport]:
    """Reports for every ELF file under `root` (non-ELF files are skipped by their magic)."""
    return [inspect_elf(p) for p in _walk_files(root) if _is_elf_file(p)]


def inspect_path(path: Path) -> list[BinaryReport]:
    """What CUDA code `path` carries: an ELF file (one report), a wheel (one per ELF member), or a
    directory such as a virtual environment (one per ELF file under it, non-ELF files skipped).

    An ELF file without a fatbinary gets `has_cuda=False`, not an error. Raises NotABinaryError
    (exit 2) for a missing path, a file that is not ELF, or a `.whl` that is not a zip, and
    CorruptBinaryError (exit 1) for a truncated or malformed ELF file or fatbinary.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise NotABinaryError(f"{path}: no such file or directory", details={"path": str(path)}) from None
    except OSError as exc:
        raise NotABinaryError(
            f"{path}: cannot read: {exc.strerror or exc}", details={"path": str(path)}
        ) from None
    if stat.S_ISDIR(mode):
        return inspect_directory(path)
    if not stat.S_ISREG(mode):
        # a FIFO would block the read forever, /dev/zero never ends
        raise NotABinaryError(
            f"{path}: not a regular file (a device, FIFO or socket)",
            hint="inspect reads files, wheels and directories",
            details={"path": str(path)},
        )
    if path.suffix == ".whl":
        return inspect_wheel(path)
    return [inspect_elf(path)]
