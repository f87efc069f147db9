"""The small things a first-day user trips over: -l DIR, malformed node overrides, help texts that agree,
export of a one-target lock, and the phase lines a batch job's log shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from lockmaker import FileServer, TargetDef, make_lock, run_envlock

from envlock.cli.locations import LOCK_HELP


@pytest.mark.parametrize("command", ["install", "run", "show", "export", "doctor", "fetch"])
def test_lock_that_is_a_directory_is_a_usage_error(command: str, tmp_path: Path) -> None:
    args = [command, "-l", str(tmp_path)]
    if command == "run":
        args += ["--", "true"]
    if command == "fetch":
        args += ["-o", str(tmp_path / "bundle")]
    if command == "export":
        args += ["--format", "requirements"]
    done = run_envlock(args)
    assert done.returncode == 2, done.stderr
    assert f"{tmp_path}: is a directory, not a lock file" in done.stderr
    assert "internal error" not in done.stderr


@pytest.mark.parametrize(
    ("variable", "value"), [("ENVLOCK_DRIVER", "abc"), ("ENVLOCK_DRIVER", "550"), ("ENVLOCK_GLIBC", "new")]
)
@pytest.mark.parametrize("command", ["install", "doctor"])
def test_malformed_node_overrides_are_refused_up_front(
    command: str, variable: str, value: str, lock: Path, store: Path, server: FileServer
) -> None:
    done = run_envlock([command, "-l", str(lock), "--store", str(store)][: 3 if command == "doctor" else 5],
                       env={variable: value})  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{variable}={value!r} is not" in done.stderr
    assert "hint:" in done.stderr
    assert server.requests == []


def _help(command: str) -> str:
    done = run_envlock([command, "--help"])
    assert done.returncode == 0
    return " ".join(done.stdout.split())  # argparse wraps lines


@pytest.mark.parametrize("command", ["install", "run", "shell", "show", "export", "doctor", "fetch"])
def test_the_lock_default_reads_the_same_in_every_help(command: str) -> None:
    assert LOCK_HELP in _help(command)


def test_install_help_documents_the_overrides_and_the_default_target() -> None:
    text = _help("install")
    for words in (
        "ENVLOCK_GPUS=H100,H100",
        "ENVLOCK_DRIVER=580.65.06",
        "MAJOR.MINOR[.PATCH]",
        "ENVLOCK_GLIBC=2.28",
    ):
        assert words in text
    assert "(the default for a lock with several targets, and the default for one)" not in text
    assert "else (`--target auto`, the default) the target that fits" in text
    for command in ("doctor", "--help"):
        text = _help(command) if command != "--help" else " ".join(run_envlock(["--help"]).stdout.split())
        assert (
            "ENVLOCK_GPUS=H100,H100" in text
            and "MAJOR.MINOR[.PATCH]" in text
            and "ENVLOCK_GLIBC=2.28" in text
        )


def test_export_needs_no_target_on_a_one_target_lock(
    tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    one = make_lock(tmp_path / "one.lock", wheels, server.url, [TargetDef(name="cpu")])
    done = run_envlock(["export", "-l", str(one), "--format", "requirements"])
    assert done.returncode == 0, done.stderr
    assert "# Requirements export of target 'cpu'" in done.stdout
    two = make_lock(tmp_path / "two.lock", wheels, server.url, [TargetDef(name="a"), TargetDef(name="b")])
    done = run_envlock(["export", "-l", str(two), "--format", "requirements"])
    assert done.returncode == 2
    assert "has 2 targets" in done.stderr and "a, b" in done.stderr


def test_without_a_terminal_install_writes_one_line_per_phase(lock: Path, store: Path) -> None:
    done = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store)])
    assert done.returncode == 0, done.stderr
    phases = [line for line in done.stderr.splitlines() if line.startswith("envlock: [")]
    words = ["lease won: building", "downloading 2 files / ", "installing 2 packages", "published at "]
    assert len(phases) == len(words), done.stderr
    for line, word in zip(phases, words, strict=True):
        assert word in line
        assert line.split("]", 1)[0].endswith("s")  # elapsed seconds
    assert phases[-1].endswith(done.stdout.strip())
    quiet = run_envlock(["install", "-l", str(lock), "--target", "small", "--store", str(store), "--quiet"])
    assert quiet.returncode == 0
    assert quiet.stderr == ""
