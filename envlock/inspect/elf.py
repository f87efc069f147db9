"""Read the section table of an ELF file (32/64-bit, either byte order) with the standard library."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from envlock.inspect.model import CorruptBinaryError

ELF_MAGIC = b"\x7fELF"
_SHN_XINDEX = 0xFFFF
_SHT_NOBITS = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """One ELF section: its name and where its bytes lie in the file."""

    name: str
    type: int
    offset: int
    size: int


def _read_exact(f: BinaryIO, offset: int, size: int, where: str, what: str) -> bytes:
    f.seek(offset)
    data = f.read(size)
    if len(data) != size:
        raise CorruptBinaryError(
            f"{where}: truncated ELF file: {what} at offset {offset} needs {size} bytes, "
            f"the file has {len(data)} there",
            hint="the file is cut short (an interrupted download or copy?); reinstall it",
            details={"path": where, "offset": offset},
        )
    return data


def read_sections(f: BinaryIO, where: str, file_size: int) -> list[Section]:
    """The sections of the ELF file open as `f` (`where` names it in errors).

    The caller has checked the ELF magic. Raises CorruptBinaryError when the header or the section
    table is truncated or inconsistent.
    """
    ident = _read_exact(f, 0, 16, where, "ELF identification")
    elf_class, data = ident[4], ident[5]
    if elf_class not in (1, 2) or data not in (1, 2):
        raise CorruptBinaryError(
            f"{where}: not a valid ELF file: class {elf_class}, data encoding {data} at offset 4",
            details={"path": where, "offset": 4},
        )
    bo = "<" if data == 1 else ">"
    if elf_class == 2:
        hdr = _read_exact(f, 0, 64, where, "ELF header")
        shoff = struct.unpack_from(bo + "Q", hdr, 0x28)[0]
        shentsize, shnum, shstrndx = struct.unpack_from(bo + "HHH", hdr, 0x3A)
        sh_fmt, sh_min = bo + "IIQQQQIIQQ", 64
    else:
        hdr = _read_exact(f, 0, 52, where, "ELF header")
        shoff = struct.unpack_from(bo + "I", hdr, 0x20)[0]
        shentsize, shnum, shstrndx = struct.unpack_from(bo + "HHH", hdr, 0x2E)
        sh_fmt, sh_min = bo + "IIIIIIIIII", 40
    if shoff == 0:
        return []
    if shentsize < sh_min:
        raise CorruptBinaryError(
            f"{where}: corrupt ELF header: section header size {shentsize} at offset {shoff}",
            details={"path": where, "offset": shoff},
        )

    def unpack(raw: bytes) -> tuple[int, int, int, int, int]:
        fields = struct.unpack_from(sh_fmt, raw, 0)
        # name, type, offset, size, link (same positions in both classes)
        return fields[0], fields[1], fields[4], fields[5], fields[6]

    if shnum == 0 or shstrndx == _SHN_XINDEX:
        first = unpack(_read_exact(f, shoff, shentsize, where, "section header 0"))
        shnum = shnum or first[3]
        if shstrndx == _SHN_XINDEX:
            shstrndx = first[4]
    if shoff + shnum * shentsize > file_size:
        raise CorruptBinaryError(
            f"{where}: truncated ELF file: the section table at offset {shoff} ({shnum} entries) "
            f"ends past the end of the file ({file_size} bytes)",
            hint="the file is cut short (an interrupted download or copy?); reinstall it",
            details={"path": where, "offset": shoff},
        )
    table = _read_exact(f, shoff, shnum * shentsize, where, "section table")
    raw = [unpack(table[i * shentsize : (i + 1) * shentsize]) for i in range(shnum)]
    if shstrndx >= shnum:
        raise CorruptBinaryError(
            f"{where}: corrupt ELF header: section name table index {shstrndx} of {shnum}",
            details={"path": where, "offset": shoff},
        )
    _, _, str_off, str_size, _ = raw[shstrndx]
    if str_off + str_size > file_size:
        raise CorruptBinaryError(
            f"{where}: truncated ELF file: section names at offset {str_off} end past the end of the file",
            details={"path": where, "offset": str_off},
        )
    names = _read_exact(f, str_off, str_size, where, "section names")
    sections = []
    for name_off, sh_type, off, size, _ in raw:
        end = names.find(b"\0", name_off)
        name = names[name_off : end if end >= 0 else len(names)].decode("ascii", "replace")
        sections.append(Section(name=name, type=sh_type, offset=off, size=size))
    return sections


def is_nobits(section: Section) -> bool:
    return section.type == _SHT_NOBITS
