"""A full disk and a read-only store are the user's to fix: exit 1 with the path, never an internal
error (issue 8, finding 9). Both are simulated (the test runs as root, whom permissions do not stop,
and cannot fill a disk): the failing call raises the OSError the kernel would."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from envlock.cli.main import main
from envlock.errors import StoreError
from envlock.materialize.uvinstall import WheelFile, install_files
from envlock.store.layout import StoreLayout


def test_no_space_for_uvs_requirements_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = Path.write_text

    def full(self: Path, *args: object, **kwargs: object) -> int:
        if self.name == ".envlock-requirements.txt":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return original(self, *args, **kwargs)  # type: ignore[arg-type]  # passed through as given

    monkeypatch.setattr(Path, "write_text", full)
    venv = tmp_path / "venv"
    venv.mkdir()
    wheel = WheelFile(name="alpha", path=tmp_path / "alpha-1.0-py3-none-any.whl", sha256="0" * 64)
    with pytest.raises(StoreError) as err:
        install_files(venv, [wheel])
    assert "no space left" in err.value.message
    assert not (venv / ".envlock-requirements.txt").exists()


def test_gc_on_a_read_only_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = StoreLayout(root=tmp_path / "store")
    layout.ensure()
    (layout.envs / ("0" * 32 + "-demo-cpu")).mkdir()

    def read_only(self: Path, target: object) -> Path:
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "rename", read_only)
    code = main(["gc", "--store", str(layout.root)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "read-only" in err
    assert "internal error" not in err
    assert (layout.envs / ("0" * 32 + "-demo-cpu")).is_dir()
