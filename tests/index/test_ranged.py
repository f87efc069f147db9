"""Ranged reads of wheels: a server honouring `Range`, one ignoring it, and the zip reading on top."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envlock.index.client import HttpIndexClient
from envlock.index.ranged import RangeNotSupported
from envlock.inspect.wheel_archs import LocalFile, arch_list, learn_archs, read_directory
from fixtures.catalog import arch_library, build_catalog
from fixtures.server import FixtureIndexServer

TORCH = "torch-2.10.5+cu128-cp311-cp311-manylinux_2_28_x86_64.whl"


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FixtureIndexServer, FixtureIndexServer]]:
    catalog = build_catalog("newrelease")
    honours = FixtureIndexServer(tmp_path_factory.mktemp("ranges"), catalog=catalog).start()
    ignores = FixtureIndexServer(
        tmp_path_factory.mktemp("no-ranges"), catalog=catalog, honour_range=False
    ).start()
    yield honours, ignores
    honours.stop()
    ignores.stop()


def _url(server: FixtureIndexServer) -> str:
    return f"{server.pytorch}/cu128/{TORCH.replace('+', '%2B')}"


def test_a_server_honouring_range_gives_exactly_the_bytes_asked(
    servers: tuple[FixtureIndexServer, FixtureIndexServer], tmp_path: Path
) -> None:
    honours, _ = servers
    honours.clear_requests()
    whole = honours.wheel_path(TORCH).read_bytes()
    with HttpIndexClient(cache_dir=tmp_path) as client:
        remote = client.ranged(_url(honours))
        assert remote.tail(100) == whole[-100:]
        assert remote.size == len(whole)
        assert remote.read(10, 50) == whole[10:60]
        archs = learn_archs(remote, TORCH)
    assert archs.found and archs.sass_names == ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")
    assert archs.evidence == ("torch/lib/libtorch_python.so (arch list)",)
    assert all(r.status == 206 for r in honours.requests if r.range)


def test_a_server_ignoring_range_is_detected_and_not_read_whole(
    servers: tuple[FixtureIndexServer, FixtureIndexServer], tmp_path: Path
) -> None:
    _, ignores = servers
    ignores.clear_requests()
    with HttpIndexClient(cache_dir=tmp_path) as client:
        remote = client.ranged(_url(ignores))
        with pytest.raises(RangeNotSupported, match="does not answer HTTP range requests"):
            learn_archs(remote, TORCH)
    assert remote.fetched == 0
    assert [r.status for r in ignores.requests] == [200]  # one request, abandoned at the answer


def _zip(members: dict[str, bytes], *, compression: int, zip64: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as archive:
        for name, data in members.items():
            with archive.open(zipfile.ZipInfo(name), "w", force_zip64=zip64) as member:
                member.write(data)
    return buf.getvalue()


@pytest.mark.parametrize("zip64", [False, True])
def test_deflated_members_and_zip64_directories_are_read(tmp_path: Path, zip64: bool) -> None:
    members = {
        "torch/__init__.py": b"",
        "torch/lib/libtorch_python.so": arch_library("sm_80 sm_90 compute_90") + b"\x00" * 50_000,
        "torch-2.99.0.dist-info/RECORD": b"",
    }
    wheel = tmp_path / "torch-2.99.0-cp311-cp311-linux_x86_64.whl"
    wheel.write_bytes(_zip(members, compression=zipfile.ZIP_DEFLATED, zip64=zip64))
    assert [m.name for m in read_directory(LocalFile(wheel), wheel.name)] == list(members)
    archs = learn_archs(LocalFile(wheel), wheel.name)
    assert (archs.sass_names, archs.ptx_names) == (("sm_80", "sm_90"), ("compute_90",))


def test_the_arch_list_is_the_longest_string_of_arch_tokens_only() -> None:
    data = b"\x00use sm_80 here\x00sm_90\x00sm_50 sm_60 sm_70 compute_70\x00"
    assert arch_list(data) == (["sm_50", "sm_60", "sm_70"], ["compute_70"])
    assert arch_list(b"\x00no archs at all\x00") is None


# The arch-list string as one pattern over the whole library (what arch_list found before it looked
# only around `sm_` / `compute_`): a NUL, arch tokens only, a NUL.
_WHOLE_PATTERN = re.compile(
    rb"(?<=\x00)((?:(?:sm|compute)_\d{2,3}[a-z]? )*(?:sm|compute)_\d{2,3}[a-z]?)(?=\x00)"
)
_PIECES = [b"\x00", b" ", b"sm_", b"compute_", b"80", b"90", b"100", b"a", b"x", b"sm_90", b"compute_90"]


def _longest_by_whole_pattern(data: bytes) -> tuple[list[str], list[str]] | None:
    best: bytes | None = None
    for match in _WHOLE_PATTERN.finditer(data):
        if best is None or len(match.group(1)) > len(best):
            best = match.group(1)
    if best is None:
        return None
    tokens = best.decode("ascii").split()
    return [t for t in tokens if t.startswith("sm_")], [t for t in tokens if t.startswith("compute_")]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_the_arch_list_found_around_tokens_is_the_one_the_whole_pattern_finds(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    assert arch_list(data) == _longest_by_whole_pattern(data)


def test_a_big_library_beyond_the_budget_is_never_read(tmp_path: Path) -> None:
    # Like the real wheel: a small arch-list library beside a libtorch_cuda.so far over the fatbin budget.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("torch/lib/libtorch_python.so", arch_library("sm_90 sm_100"))
        archive.writestr("torch/lib/libtorch_cuda.so", b"\x7fELF" + b"\x00" * (24 << 20))
    wheel = tmp_path / "torch-2.99.0-cp311-cp311-linux_x86_64.whl"
    wheel.write_bytes(buf.getvalue())
    source = LocalFile(wheel)
    archs = learn_archs(source, wheel.name)
    assert archs.sass_names == ("sm_90", "sm_100")
    assert source.fetched < 200_000 < wheel.stat().st_size
