"""`envlock diff` as a user runs it: formats, exit codes, colour, bad input (architecture.md §7 codes)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from envlock.cli.main import main
from envlock.lock.write import dump_lock

from .conftest import make_lock, torch_target
from .scenarios import hash_only, torch_upgrade, unchanged


def _write(tmp_path: Path, old_new: tuple[object, object]) -> None:
    old, new = old_new
    (tmp_path / "old.lock").write_text(dump_lock(old), encoding="utf-8")  # type: ignore[arg-type]
    (tmp_path / "new.lock").write_text(dump_lock(new), encoding="utf-8")  # type: ignore[arg-type]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


def test_text_review_leads_with_the_cuda_stack(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(in_tmp, torch_upgrade())
    assert main(["diff", "old.lock", "new.lock"]) == 0
    out = capsys.readouterr().out
    first_target_line = next(line for line in out.splitlines() if line.startswith("h100:"))
    assert first_target_line.startswith(
        "h100: cu124 -> cu128, torch 2.5.1+cu124 -> 2.7.0+cu128, CUDA runtime 12.4 -> 12.8, "
        "cuDNN 9.1.0.70 -> 9.7.1.26, NCCL 2.21.5 -> 2.26.2, the locked stack now needs driver "
        ">= 570.26 (was 550.54.14), compatibility native -> minor-version"
    )
    assert first_target_line.endswith("download +898.8 MB")
    assert out.index("h100: cu124") < out.index("nvidia-cublas-cu12 12.4.5.8 -> 12.8.3.14")
    assert "\x1b[" not in out  # a pipe gets no colour


def test_exit_code_flag(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(in_tmp, torch_upgrade())
    assert main(["diff", "old.lock", "new.lock", "--exit-code"]) == 1
    _write(in_tmp, unchanged())
    assert main(["diff", "old.lock", "new.lock", "--exit-code"]) == 0
    assert "no differences" in capsys.readouterr().out


def test_json_is_one_document_with_the_documented_keys(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(in_tmp, hash_only())
    assert main(["diff", "old.lock", "new.lock", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "envlock-diff/1"
    assert list(doc) == ["schema", "old", "new", "empty", "warnings", "targets", "inputs", "lock"]
    assert doc["warnings"][0]["kind"] == "hash-changed"
    assert doc["targets"][0]["packages"][0]["reasons"] == ["hash"]


def test_markdown_has_summary_table_then_details(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(in_tmp, torch_upgrade())
    assert main(["diff", "old.lock", "new.lock", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.index("| target | variant |") < out.index("<details>")
    assert out.count("<details>") == 3 and out.count("</details>") == 3


def test_hand_edited_lock_is_reported_as_a_warning_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(in_tmp, unchanged())
    text = (in_tmp / "new.lock").read_text().replace('nccl = "2.21.5"', 'nccl = "2.21.6"')
    (in_tmp / "new.lock").write_text(text)
    assert main(["diff", "old.lock", "new.lock"]) == 0
    out = capsys.readouterr().out
    assert "warning: new.lock was edited by hand" in out
    assert "NCCL 2.21.5 -> 2.21.6" in out


@pytest.mark.parametrize(
    ("make", "message", "hint"),
    [
        (lambda p: None, "missing.lock: no such file", "REV:path"),
        (lambda p: (p / "missing.lock").write_bytes(b"\x00\xff\xfe binary"), "not a text file", None),
        (lambda p: (p / "missing.lock").write_text('[env]\nname = "x"\n'), "not an envlock lock", None),
        (lambda p: (p / "missing.lock").write_text("= not toml"), "not valid TOML", None),
        (lambda p: (p / "missing.lock").mkdir(), "is a directory", None),
    ],
)
def test_bad_input_is_a_usage_error(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], make: object, message: str, hint: str | None
) -> None:
    _write(in_tmp, unchanged())
    make(in_tmp)  # type: ignore[operator]
    assert main(["diff", "old.lock", "missing.lock"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "hint: " in err
    if hint:
        assert hint in err


def test_newer_lock_version_is_refused(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = unchanged()
    _write(in_tmp, (old, replace(new, lock_version=2)))
    assert main(["diff", "old.lock", "new.lock"]) == 2
    err = capsys.readouterr().err
    assert "new.lock: lock-version 2 was written by a newer envlock" in err
    assert "hint: upgrade envlock" in err


def test_errors_in_json_format_are_json(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(in_tmp, unchanged())
    assert main(["diff", "old.lock", "nope.lock", "--format", "json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"]["kind"] == "usage" and "no such file" in doc["error"]["message"]


def test_one_argument_is_a_usage_error(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "old.lock"]) == 2
    assert "needs two locks" in capsys.readouterr().err


def test_textconv_of_a_foreign_file_shows_it_verbatim(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conflicted = "<<<<<<< HEAD\nlock-version = 1\n=======\n>>>>>>> branch\n"
    (in_tmp / "x.lock").write_text(conflicted)
    assert main(["diff", "--textconv", "x.lock"]) == 0
    captured = capsys.readouterr()
    assert captured.out == conflicted
    assert "warning:" in captured.err


def test_textconv_with_old_and_new_is_a_usage_error(in_tmp: Path) -> None:
    _write(in_tmp, unchanged())
    assert main(["diff", "--textconv", "old.lock", "new.lock"]) == 2


def _run_on_tty(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run envlock with stdout on a real pseudo-terminal and return what it printed."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "envlock", *args],
            cwd=cwd,
            stdout=follower,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
            timeout=60,
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        assert proc.returncode == 0, proc.stderr
        return b"".join(chunks).decode()
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)


def test_colour_on_a_terminal_and_no_colour_with_no_color(tmp_path: Path) -> None:
    _write(tmp_path, torch_upgrade())
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    coloured = _run_on_tty(["diff", "old.lock", "new.lock"], tmp_path, env)
    assert "\x1b[1mh100\x1b[0m: cu124 -> cu128" in coloured
    plain = _run_on_tty(["diff", "old.lock", "new.lock"], tmp_path, {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in plain and "h100: cu124 -> cu128" in plain


def test_whole_command_in_a_pipe(tmp_path: Path) -> None:
    old = make_lock(torch_target("h100"))
    _write(tmp_path, (old, old))
    proc = subprocess.run(
        [sys.executable, "-m", "envlock", "diff", "old.lock", "new.lock", "--exit-code"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0
    assert proc.stdout.endswith("no differences\n")
