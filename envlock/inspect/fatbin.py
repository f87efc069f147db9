"""Walk the containers and entries of a CUDA fatbinary section, reading headers only.

Layout (reference/formats.md §5): a section holds containers, each a 16-byte header (magic
0xBA55ED50, version, header size, fat size) followed by entries; containers are concatenated with
padding, so the next one is found by scanning in 8-byte steps. Each entry starts with a header of
its own size (64, 80, 96, 112, 120 ... bytes; always step by it): kind at +0 (1 PTX, 2 ELF cubin,
4 old cubin), header size at +4, payload size at +8, arch at +0x1C, flags at +0x28. Payloads are
skipped, never decompressed: flag 0x2000 marks NVIDIA's LZ scheme, 0x8000 zstd.

Observed with nvcc 13.0 (not in NVIDIA's public headers): flag 0x100000 marks an arch-specific
cubin (`sm_90a`), 0x200000 a family cubin (`sm_100f`, which cuobjdump lists as `sm_100`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from envlock.inspect.model import CorruptBinaryError, FatbinEntry
from envlock.kb.model import ComputeCapability

CONTAINER_MAGIC = 0xBA55ED50
_MAGIC_BYTES = struct.pack("<I", CONTAINER_MAGIC)
_CONTAINER_HEADER = struct.Struct("<IHHQ")
_ENTRY_MIN = 64
_KIND_PTX = 1
_KINDS_SASS = (2, 4)
FLAG_LZ = 0x2000
FLAG_ZSTD = 0x8000
FLAG_ARCH_SPECIFIC = 0x100000
_SCAN_CHUNK = 1 << 16


def _corrupt(where: str, section: str, offset: int, what: str) -> CorruptBinaryError:
    return CorruptBinaryError(
        f"{where}: corrupt CUDA fatbinary in {section} at offset {offset} (from the section start): {what}",
        hint="the file is damaged or cut short; reinstall it (report it if a fresh copy fails too)",
        details={"path": where, "section": section, "offset": offset},
    )


def _find_magic(f: BinaryIO, base: int, start: int, end: int) -> int | None:
    """Offset (relative to `base`) of the next 8-aligned container magic in [start, end)."""
    pos = start
    while pos < end:
        f.seek(base + pos)
        chunk = f.read(min(_SCAN_CHUNK, end - pos) + 3)
        if not chunk:
            return None
        i = chunk.find(_MAGIC_BYTES)
        while i >= 0:
            if (pos + i) % 8 == 0 and pos + i < end:
                return pos + i
            i = chunk.find(_MAGIC_BYTES, i + 1)
        pos += _SCAN_CHUNK
    return None


def _entry(header: bytes, where: str, section: str, offset: int) -> FatbinEntry | None:
    kind, header_size, _payload = struct.unpack_from("<HxxIQ", header, 0)
    arch = struct.unpack_from("<I", header, 0x1C)[0]
    flags = struct.unpack_from("<Q", header, 0x28)[0]
    if kind != _KIND_PTX and kind not in _KINDS_SASS:
        return None
    if not 10 <= arch <= 999:
        raise _corrupt(where, section, offset, f"entry architecture {arch} is not an SM number")
    compression = "zstd" if flags & FLAG_ZSTD else "lz" if flags & FLAG_LZ else "none"
    cc = ComputeCapability(major=arch // 10, minor=arch % 10)
    name = cc.sm + ("a" if flags & FLAG_ARCH_SPECIFIC else "")
    return FatbinEntry(
        kind="ptx" if kind == _KIND_PTX else "sass",
        arch=name,
        cc=cc,
        compression=compression,
        header_size=header_size,
        offset=offset,
    )


def walk_fatbin(
    f: BinaryIO, *, base: int, size: int, where: str, section: str
) -> Iterator[tuple[int, FatbinEntry]]:
    """Yield (container number, entry) for every SASS/PTX entry of the section at `base`, `size` bytes.

    Raises CorruptBinaryError naming `where` and the offset when a header is cut short or points
    outside its container or section.
    """
    pos = 0
    container = 0
    while pos + _CONTAINER_HEADER.size <= size:
        found = _find_magic(f, base, pos, size - _CONTAINER_HEADER.size + 1)
        if found is None:
            return
        pos = found
        f.seek(base + pos)
        raw = f.read(_CONTAINER_HEADER.size)
        if len(raw) != _CONTAINER_HEADER.size:
            raise _corrupt(where, section, pos, "the container header is cut short")
        _, _version, header_size, fat_size = _CONTAINER_HEADER.unpack(raw)
        if header_size < _CONTAINER_HEADER.size:
            raise _corrupt(where, section, pos, f"container header size {header_size} is below 16")
        end = pos + header_size + fat_size
        if end > size:
            raise _corrupt(
                where, section, pos, f"the container claims {fat_size} bytes, past the section end ({size})"
            )
        container += 1
        entry_pos = pos + header_size
        while entry_pos < end:
            if entry_pos + _ENTRY_MIN > end:
                raise _corrupt(where, section, entry_pos, "an entry header runs past its container")
            f.seek(base + entry_pos)
            header = f.read(_ENTRY_MIN)
            if len(header) != _ENTRY_MIN:
                raise _corrupt(where, section, entry_pos, "the entry header is cut short")
            _kind, ehs, payload = struct.unpack_from("<HxxIQ", header, 0)
            if ehs < _ENTRY_MIN or entry_pos + ehs + payload > end:
                raise _corrupt(
                    where,
                    section,
                    entry_pos,
                    f"entry header size {ehs} with payload {payload} runs past its container",
                )
            entry = _entry(header, where, section, entry_pos)
            if entry is not None:
                yield container, entry
            entry_pos += ehs + payload
        pos = end
