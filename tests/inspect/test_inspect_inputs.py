"""inspect on inputs that are not files, and on wheels whose members are large and compressed
(issue 8, finding 8): refused at once, or read in one pass."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from envlock.inspect import inspect_path


def _inspect(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envlock", "inspect", str(path)],
        capture_output=True,
        text=True,
        timeout=60,  # a blocked read of a FIFO would hang here and fail the test
        check=False,
    )


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "libfake.so"
    os.mkfifo(fifo)
    done = _inspect(fifo)
    assert done.returncode == 2
    assert "not a regular file" in done.stderr


def test_dev_zero_is_refused() -> None:
    done = _inspect(Path("/dev/zero"))
    assert done.returncode == 2
    assert "not a regular file" in done.stderr


def test_a_compressed_wheel_member_is_read_once_front_to_back(
    plain_so: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seeking backwards in a compressed zip member decompresses it again from the start: done once
    # per ELF header read, a large member cost time quadratic in its size.
    wheel = tmp_path / "big-1.0-py3-none-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big/libbig.so", plain_so.read_bytes() + b"\0" * (8 << 20))
    rewinds: list[int] = []
    original = zipfile.ZipExtFile.seek

    def seek(self: zipfile.ZipExtFile, offset: int, whence: int = 0) -> int:
        if whence != 1 and offset < self.tell():
            rewinds.append(offset)
        return original(self, offset, whence)

    monkeypatch.setattr(zipfile.ZipExtFile, "seek", seek)
    [report] = inspect_path(wheel)
    assert not report.has_cuda
    assert rewinds == []
