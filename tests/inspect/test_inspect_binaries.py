"""inspect on real nvcc-built binaries, cross-checked with cuobjdump; wheels, directories, bad input."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from envlock.cli.main import main
from envlock.inspect import CorruptBinaryError, NotABinaryError, inspect_path
from envlock.kb.model import ComputeCapability

# The builds of conftest.BUILDS (conftest is not importable as a module under every pytest import mode).
NAMES = ("mixed", "zstd", "lz", "plain", "special")
Built = Any


def _cuobjdump_list(tool: Path, binary: Path) -> tuple[list[str], list[str]]:
    done = subprocess.run(
        [str(tool), "--list-elf", "--list-ptx", str(binary)], capture_output=True, text=True, check=False
    )
    text = done.stdout + done.stderr
    sass = re.findall(r"^ELF file\s+\d+: .*\.(sm_\d+[a-z]?)\.cubin$", text, re.M)
    ptx = re.findall(r"^PTX file\s+\d+: .*\.(sm_\d+[a-z]?)\.ptx$", text, re.M)
    return sass, ptx


@pytest.mark.parametrize("name", NAMES)
def test_archs_and_compression_as_built(fatbins: dict[str, Built], name: str) -> None:
    built = fatbins[name]
    [report] = inspect_path(built.path)
    assert report.has_cuda
    assert report.sass_names == built.build.sass
    assert report.ptx_names == built.build.ptx
    assert report.compressed == built.build.compressed
    assert report.section == ".nv_fatbin"
    assert report.containers >= 1


@pytest.mark.parametrize("name", NAMES)
def test_agrees_with_cuobjdump(fatbins: dict[str, Built], cuobjdump: Path, name: str) -> None:
    built = fatbins[name]
    sass, ptx = _cuobjdump_list(cuobjdump, built.path)
    assert sass, "cuobjdump listed no cubin: the cross-check would prove nothing"
    [report] = inspect_path(built.path)
    assert report.sass_names == tuple(sorted(set(sass), key=lambda n: int(re.sub(r"\D", "", n))))
    assert report.ptx_names == tuple(sorted(set(ptx), key=lambda n: int(re.sub(r"\D", "", n))))
    assert report.sass_entries == len(sass)
    assert report.ptx_entries == len(ptx)
    assert dict(report.sass_counts) == {n: sass.count(n) for n in set(sass)}


def test_every_build_is_covered(fatbins: dict[str, Built]) -> None:
    assert sorted(fatbins) == sorted(NAMES)


def test_compute_capabilities_drop_the_arch_specific_suffix(fatbins: dict[str, Built]) -> None:
    [report] = inspect_path(fatbins["special"].path)
    assert report.sass == (ComputeCapability(major=9, minor=0),)
    assert report.arch_specific == (ComputeCapability(major=9, minor=0),)
    [zstd] = inspect_path(fatbins["zstd"].path)
    assert zstd.sass == (ComputeCapability(major=8, minor=0), ComputeCapability(major=12, minor=0))
    assert zstd.arch_specific == ()


def test_elf_without_fatbin_is_not_an_error(plain_so: Path) -> None:
    [report] = inspect_path(plain_so)
    assert not report.has_cuda
    assert report.sass == () and report.ptx == () and report.containers == 0


def test_wheel_members_are_read_from_the_zip(
    fatbins: dict[str, Built], plain_so: Path, tmp_path: Path
) -> None:
    wheel = tmp_path / "kern-1.0-py3-none-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(fatbins["zstd"].path, "kern/lib/libkern.so.1")
        zf.write(fatbins["plain"].path, "kern/lib/libplain_cuda.so")
        zf.write(plain_so, "kern/_native.cpython-311-x86_64-linux-gnu.so")
        zf.writestr("kern/fake.so", "not an ELF file at all, only named like one")
        zf.writestr("kern/__init__.py", "")
    reports = {r.path: r for r in inspect_path(wheel)}
    assert set(reports) == {
        f"{wheel}!kern/lib/libkern.so.1",
        f"{wheel}!kern/lib/libplain_cuda.so",
        f"{wheel}!kern/_native.cpython-311-x86_64-linux-gnu.so",
    }
    assert reports[f"{wheel}!kern/lib/libkern.so.1"].sass_names == ("sm_80", "sm_120")
    assert reports[f"{wheel}!kern/lib/libplain_cuda.so"].sass_names == ("sm_89", "sm_100")
    assert not reports[f"{wheel}!kern/_native.cpython-311-x86_64-linux-gnu.so"].has_cuda


def test_directory_walk_skips_non_elf_and_symlinks(
    fatbins: dict[str, Built], plain_so: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "pkg"
    venv.mkdir(parents=True)
    shutil.copy(fatbins["mixed"].path, venv / "libmixed.so.12.1")
    (venv / "libmixed.so.12").symlink_to("libmixed.so.12.1")
    shutil.copy(plain_so, venv / "libplain.so")
    (venv / "README").write_text("x" * 200)
    (venv / "module.py").write_text("print('hi')\n" * 20)
    reports = inspect_path(tmp_path / "venv")
    assert sorted(Path(r.path).name for r in reports) == ["libmixed.so.12.1", "libplain.so"]
    assert [r.has_cuda for r in sorted(reports, key=lambda r: r.path)] == [True, False]


def test_not_elf_is_a_usage_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(NotABinaryError, match="not an ELF file"):
        inspect_path(text)
    with pytest.raises(NotABinaryError, match="no such file"):
        inspect_path(tmp_path / "missing.so")


def test_wheel_that_is_not_a_zip(tmp_path: Path) -> None:
    bad = tmp_path / "bad-1.0-py3-none-any.whl"
    bad.write_bytes(b"<html>503 Service Unavailable</html>")
    with pytest.raises(NotABinaryError, match="not a wheel: the file is not a zip archive"):
        inspect_path(bad)


def test_truncated_copy_names_file_and_offset(fatbins: dict[str, Built], tmp_path: Path) -> None:
    data = fatbins["mixed"].path.read_bytes()
    cut = tmp_path / "libcut.so"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptBinaryError, match=r"libcut\.so: truncated ELF file: .* at offset \d+"):
        inspect_path(cut)


def test_corrupt_fatbin_entry_names_the_offset(fatbins: dict[str, Built], tmp_path: Path) -> None:
    data = bytearray(fatbins["plain"].path.read_bytes())
    container = data.find(struct.pack("<I", 0xBA55ED50))
    entry = container + 16
    struct.pack_into("<Q", data, entry + 8, 1 << 40)  # payload size far past the container
    bad = tmp_path / "libbad.so"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptBinaryError, match=r"corrupt CUDA fatbinary in \.nv_fatbin at offset \d+"):
        inspect_path(bad)


def test_cli_table_json_and_exit_codes(
    fatbins: dict[str, Built], plain_so: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(fatbins["zstd"].path), str(plain_so)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["PATH", "SASS", "PTX", "COMPRESSION"]
    assert lines[1].split()[1:] == ["sm_80", "sm_120", "sm_120", "zstd"]
    assert "no CUDA code" in lines[2]
    assert "2 ELF file(s), 1 with CUDA code; SASS sm_80 sm_120; PTX sm_120" in err

    assert main(["inspect", "--json", str(fatbins["special"].path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc[0]["sass"] == ["sm_90a"] and doc[0]["ptx"] == ["sm_75"] and doc[0]["has-cuda"] is True

    text = tmp_path / "x.txt"
    text.write_text("hello")
    assert main(["inspect", str(text)]) == 2
    assert "not an ELF file" in capsys.readouterr().err
    cut = tmp_path / "libcut.so"
    cut.write_bytes(fatbins["zstd"].path.read_bytes()[:5000])
    assert main(["inspect", "--json", str(cut)]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["kind"] == "integrity"
