"""The GPU architectures a torch wheel carries, read from a few of its members by random access.

A wheel is a zip file whose central directory sits at its end. Reading the directory (one ranged read of
the tail, a second when the directory is larger) tells where each member lies; then only the members that
answer the question are read:

* the arch-list library (`torch/lib/libtorch_python.so`, about 10 MB compressed), which embeds the
  `CUDA_ARCH_FLAGS` string the build was compiled with, e.g. "sm_75 sm_80 sm_90 compute_90" (what
  `torch.cuda.get_arch_list()` returns): SASS for each `sm_XY`, PTX for each `compute_XY`;
* without such a library, the CUDA fatbinaries of shared libraries whose compressed size fits a byte
  budget, read with the same code as `envlock inspect` (the real torch's `libtorch_cuda.so` is far over
  it; small wheels fit).

The source is anything with `size`, `tail(n)` and `read(offset, n)`: `envlock.index.ranged.RangedFile`
for a file on an index, `LocalFile` for a bundle or a downloaded wheel. Nothing here touches the network.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from envlock.inspect.elf import ELF_MAGIC
from envlock.inspect.model import CorruptBinaryError
from envlock.kb.model import ComputeCapability

ARCH_LIST_MEMBERS = ("torch/lib/libtorch_python.so",)
DEFAULT_FATBIN_BUDGET = 16 << 20  # compressed bytes of shared libraries scanned for fatbins, per wheel
MAX_ARCH_LIST_MEMBER = 64 << 20  # an arch-list library larger than this is not read
_TAIL = 64 << 10
_LOCAL_EXTRA_GUESS = 64  # bytes read past a local header's name for its extra field (zip64, timestamps)
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_SHARED_LIB = re.compile(r"\.so(?:\.\d+)*$")
# The body of an arch-list string, "sm_50 sm_60 sm_90 compute_90": arch tokens only, between NULs.
_ARCH_TOKENS = re.compile(rb"(?:(?:sm|compute)_\d{2,3}[a-z]? )*(?:sm|compute)_\d{2,3}[a-z]?")


class RandomAccess(Protocol):
    """A file read by offset: a ranged HTTP file or a local one."""

    @property
    def size(self) -> int: ...

    def tail(self, length: int) -> bytes: ...

    def read(self, offset: int, length: int) -> bytes: ...


class LocalFile:
    """`RandomAccess` over a file on disk (a bundle, a downloaded wheel)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fetched = 0

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def tail(self, length: int) -> bytes:
        size = self.size
        return self.read(max(0, size - length), min(length, size))

    def read(self, offset: int, length: int) -> bytes:
        with self.path.open("rb") as f:
            f.seek(offset)
            data = f.read(length)
        self.fetched += len(data)
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class ZipMember:
    """One member of the zip central directory."""

    name: str
    method: int  # 0 stored, 8 deflated
    compressed_size: int
    size: int
    header_offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WheelArchs:
    """What a wheel's own bytes say about its GPU code; `found` is False when they say nothing."""

    sass: tuple[ComputeCapability, ...]
    ptx: tuple[ComputeCapability, ...]
    sass_names: tuple[str, ...]  # "sm_90", "sm_90a"
    ptx_names: tuple[str, ...]  # "compute_90"
    evidence: tuple[str, ...]  # the members that told: "torch/lib/libtorch_python.so (arch list)"
    found: bool


def _corrupt(where: str, what: str) -> CorruptBinaryError:
    return CorruptBinaryError(
        f"{where}: not a readable wheel: {what}",
        hint="the file on the index may be damaged; envlock falls back to its knowledge base",
        details={"path": where},
    )


def read_directory(source: RandomAccess, where: str) -> list[ZipMember]:
    """The members of the zip `source`, from its central directory (zip64 included)."""
    tail = source.tail(_TAIL)  # a file shorter than this comes whole
    size = source.size
    tail_start = size - len(tail)
    at = tail.rfind(_EOCD)
    if at < 0 or at + 22 > len(tail):
        raise _corrupt(where, "no end-of-central-directory record in the last 64 KiB")
    entries, cd_size, cd_offset = struct.unpack_from("<xxxxxxxxxxHII", tail, at)
    if 0xFFFFFFFF in (cd_size, cd_offset) or entries == 0xFFFF:
        loc = at - 20
        if loc < 0 or tail[loc : loc + 4] != _ZIP64_LOCATOR:
            raise _corrupt(where, "a zip64 archive without its locator")
        (eocd64_offset,) = struct.unpack_from("<Q", tail, loc + 8)
        record = (
            tail[eocd64_offset - tail_start : eocd64_offset - tail_start + 56]
            if eocd64_offset >= tail_start
            else source.read(eocd64_offset, 56)
        )
        if record[:4] != _ZIP64_EOCD:
            raise _corrupt(where, "the zip64 end record is not where its locator says")
        cd_size, cd_offset = struct.unpack_from("<QQ", record, 40)
    if cd_offset + cd_size > size:
        raise _corrupt(where, "the central directory lies past the end of the file")
    if cd_offset >= tail_start:
        directory = tail[cd_offset - tail_start : cd_offset - tail_start + cd_size]
    else:
        directory = source.read(cd_offset, cd_size)
    return _parse_directory(directory, where)


def _parse_directory(data: bytes, where: str) -> list[ZipMember]:
    members: list[ZipMember] = []
    pos = 0
    while pos + 46 <= len(data) and data[pos : pos + 4] == _CENTRAL:
        fields = struct.unpack_from("<HxxxxxxxxIIHHH", data, pos + 10)
        method, comp, size, name_len, extra_len, comment_len = fields
        (offset,) = struct.unpack_from("<I", data, pos + 42)
        name = data[pos + 46 : pos + 46 + name_len].decode("utf-8", "replace")
        extra = data[pos + 46 + name_len : pos + 46 + name_len + extra_len]
        if 0xFFFFFFFF in (comp, size, offset):
            size, comp, offset = _zip64_extra(extra, size, comp, offset)
        members.append(
            ZipMember(name=name, method=method, compressed_size=comp, size=size, header_offset=offset)
        )
        pos += 46 + name_len + extra_len + comment_len
    if not members:
        raise _corrupt(where, "an empty or unreadable central directory")
    return members


def _zip64_extra(extra: bytes, size: int, comp: int, offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        if tag == 1:
            values = list(struct.unpack_from(f"<{length // 8}Q", extra, pos + 4))
            if size == 0xFFFFFFFF and values:
                size = values.pop(0)
            if comp == 0xFFFFFFFF and values:
                comp = values.pop(0)
            if offset == 0xFFFFFFFF and values:
                offset = values.pop(0)
            break
        pos += 4 + length
    return size, comp, offset


def read_member(source: RandomAccess, member: ZipMember, where: str) -> bytes:
    """The uncompressed bytes of one member (stored or deflated), in one read when its local header's
    extra field is as short as usual."""
    guess = 30 + len(member.name.encode()) + _LOCAL_EXTRA_GUESS
    first = source.read(
        member.header_offset, min(guess + member.compressed_size, source.size - member.header_offset)
    )
    if first[:4] != _LOCAL:
        raise _corrupt(where, f"{member.name}: no local header at offset {member.header_offset}")
    name_len, extra_len = struct.unpack_from("<HH", first, 26)
    start = 30 + name_len + extra_len
    raw = first[start : start + member.compressed_size]
    if len(raw) < member.compressed_size:
        raw = source.read(member.header_offset + start, member.compressed_size)
    if member.method == 0:
        return raw
    if member.method == 8:
        try:
            return zlib.decompressobj(-15).decompress(raw)
        except zlib.error as exc:
            raise _corrupt(where, f"{member.name}: cannot inflate ({exc})") from None
    raise _corrupt(where, f"{member.name}: compression method {member.method} is not supported")


def _arch_strings(data: bytes) -> Iterator[bytes]:
    """Every NUL-delimited string of `data` made of arch tokens only, in order of position.

    Only the strings around an `sm_` or `compute_` are matched: a pattern tried at each of a 30 MB
    library's positions took about 1 s.
    """
    starts: set[int] = set()
    for token in (b"sm_", b"compute_"):
        at = data.find(token)
        while at >= 0:
            start = data.rfind(b"\x00", 0, at)
            if start >= 0:
                starts.add(start + 1)
            at = data.find(token, at + 1)
    for start in sorted(starts):
        end = data.find(b"\x00", start)
        if end >= 0 and _ARCH_TOKENS.fullmatch(data, start, end):
            yield data[start:end]


def arch_list(data: bytes) -> tuple[list[str], list[str]] | None:
    """(SASS names, PTX names) from the longest arch-token string embedded in `data`, or None."""
    best: bytes | None = None
    for found in _arch_strings(data):
        if best is None or len(found) > len(best):
            best = found
    if best is None:
        return None
    tokens = best.decode("ascii").split()
    sass = [t for t in tokens if t.startswith("sm_")]
    ptx = [t for t in tokens if t.startswith("compute_")]
    return sass, ptx


def learn_archs(
    source: RandomAccess,
    where: str,
    *,
    fatbin_budget: int = DEFAULT_FATBIN_BUDGET,
    arch_list_members: Sequence[str] = ARCH_LIST_MEMBERS,
) -> WheelArchs:
    """What the wheel `source` carries (see the module docstring). Raises CorruptBinaryError for a file
    that is not a readable zip; a wheel without any GPU evidence gives `found=False`."""
    from envlock.inspect.scan import summarize_stream

    members = read_directory(source, where)
    sass_names: set[str] = set()
    ptx_names: set[str] = set()
    evidence: list[str] = []
    read: dict[str, bytes] = {}  # members already read, so that none is fetched twice
    for member in members:
        if member.name in arch_list_members and member.compressed_size <= MAX_ARCH_LIST_MEMBER:
            read[member.name] = read_member(source, member, where)
            found = arch_list(read[member.name])
            if found is not None:
                sass_names.update(found[0])
                ptx_names.update(found[1])
                evidence.append(f"{member.name} (arch list)")
    # The arch list is the whole answer when there is one; fatbins are read only without it.
    budget = 0 if evidence else fatbin_budget
    for member in sorted(members, key=lambda m: (m.compressed_size, m.name)):
        if not _SHARED_LIB.search(member.name) or member.compressed_size > budget:
            continue
        data = read.get(member.name)
        if data is None:
            budget -= member.compressed_size
            data = read_member(source, member, where)
        if not data.startswith(ELF_MAGIC):
            continue
        report = summarize_stream(f"{where}!{member.name}", io.BytesIO(data), len(data))
        if report.has_cuda:
            sass_names.update(report.sass_names)
            ptx_names.update(report.ptx_names)
            evidence.append(f"{member.name} (fatbin)")
    return WheelArchs(
        sass=tuple(sorted({ComputeCapability.parse(n) for n in sass_names})),
        ptx=tuple(sorted({ComputeCapability.parse(n) for n in ptx_names})),
        sass_names=tuple(sorted(sass_names, key=_order)),
        ptx_names=tuple(sorted(ptx_names, key=_order)),
        evidence=tuple(evidence),
        found=bool(evidence),
    )


def _order(name: str) -> tuple[int, str]:
    return int(re.sub(r"\D", "", name) or 0), name
