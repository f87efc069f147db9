"""Git integration for real: REV:path sides, and `git diff` through the documented textconv driver."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envlock.lock.write import dump_lock

from .scenarios import hash_only, torch_upgrade

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
        NO_COLOR="1",
    )
    return env


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env=_git_env(repo.parent), capture_output=True, text=True, check=True
    )
    return done.stdout


def _envlock(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envlock", *args],
        cwd=repo,
        env=_git_env(repo.parent),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose HEAD holds the old lock of a torch upgrade and whose worktree the new."""
    repo = tmp_path / "repo"
    (repo / "locks" / "vit").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    old, new = torch_upgrade()
    lock = repo / "locks" / "vit" / "envlock.lock"
    lock.write_text(dump_lock(old), encoding="utf-8")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "old lock")
    lock.write_text(dump_lock(new), encoding="utf-8")
    return repo


def _textconv_command() -> str:
    # The documented command is `envlock diff --textconv`; spell it with this interpreter so the
    # test runs the checkout under test whatever `envlock` is first on PATH.
    return f"{shlex.quote(sys.executable)} -m envlock diff --textconv"


def test_git_diff_shows_the_semantic_lines_through_textconv(repo: Path) -> None:
    (repo / ".gitattributes").write_text("envlock.lock diff=envlock\n")
    _git(repo, "config", "diff.envlock.textconv", _textconv_command())
    out = _git(repo, "-c", "core.pager=cat", "diff", "--", "locks/vit/envlock.lock")
    lines = out.splitlines()
    for expected in (
        "-h100: variant cu124",
        "+h100: variant cu128",
        "-h100: CUDA runtime 12.4",
        "+h100: CUDA runtime 12.8",
        "-h100: requires driver >= 550.54.14",
        "+h100: requires driver >= 570.26",
        "-input dependency torch>=2.5,<2.6",
        "+input dependency torch>=2.7,<2.8",
    ):
        assert expected in lines
    # without the driver, git shows raw TOML lines instead
    raw = _git(repo, "-c", "core.pager=cat", "diff", "--no-textconv", "--", "locks/vit/envlock.lock")
    assert "variant cu128" not in raw and 'variant = "cu128"' in raw


def test_git_diff_textconv_shows_a_hash_only_change_as_one_file_line(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / ".gitattributes").write_text("envlock.lock diff=envlock\n")
    _git(repo, "config", "diff.envlock.textconv", _textconv_command())
    old, new = hash_only()
    (repo / "envlock.lock").write_text(dump_lock(old))
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "x")
    (repo / "envlock.lock").write_text(dump_lock(new))
    out = _git(repo, "-c", "core.pager=cat", "diff", "-U0", "--", "envlock.lock")
    changed = [line for line in out.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert [line[:1] for line in changed if "numpy-1.26.4" in line] == ["-", "+"]
    assert all("numpy" in line or "env hash" in line or "spec-hash" in line for line in changed), changed


def test_rev_path_reads_the_committed_lock(repo: Path) -> None:
    done = _envlock(repo, "diff", "HEAD:locks/vit/envlock.lock", "locks/vit/envlock.lock", "--exit-code")
    assert done.returncode == 1, done.stderr
    assert "envlock diff HEAD:locks/vit/envlock.lock -> locks/vit/envlock.lock" in done.stdout
    assert "h100: cu124 -> cu128" in done.stdout


def test_rev_path_relative_to_the_current_directory(repo: Path) -> None:
    done = _envlock(repo / "locks" / "vit", "diff", "HEAD:./envlock.lock", "envlock.lock")
    assert done.returncode == 0, done.stderr
    assert "h100: cu124 -> cu128" in done.stdout


def test_unknown_revision(repo: Path) -> None:
    done = _envlock(repo, "diff", "no-such-branch:locks/vit/envlock.lock", "locks/vit/envlock.lock")
    assert done.returncode == 2
    assert "git revision 'no-such-branch' does not exist" in done.stderr
    assert "hint: " in done.stderr


def test_path_missing_in_revision(repo: Path) -> None:
    done = _envlock(repo, "diff", "HEAD:locks/other/envlock.lock", "locks/vit/envlock.lock")
    assert done.returncode == 2
    assert "'locks/other/envlock.lock' does not exist in HEAD" in done.stderr
    assert "relative to the repository root" in done.stderr


def test_rev_path_outside_a_repository(tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    done = _envlock(outside, "diff", "HEAD:envlock.lock", "HEAD:envlock.lock")
    assert done.returncode == 2
    assert "not inside a git repository" in done.stderr


def test_existing_path_wins_over_rev_path_parsing(repo: Path) -> None:
    odd = repo / "v1:envlock.lock"
    odd.write_text((repo / "locks" / "vit" / "envlock.lock").read_text())
    done = _envlock(repo, "diff", "v1:envlock.lock", "locks/vit/envlock.lock", "--exit-code")
    assert done.returncode == 0, done.stderr


def test_a_revision_cannot_become_a_git_option(repo: Path) -> None:
    """The attack: `envlock diff -- '--output=FILE:envlock.lock' new` once made git write FILE."""
    target = repo.parent / "pwned"
    for side in (f"--output={target}:envlock.lock", "-p:locks/vit/envlock.lock"):
        done = _envlock(repo, "diff", "--", side, "locks/vit/envlock.lock")
        assert done.returncode == 2, done.stderr
        assert "is not a git revision" in done.stderr and "hint: " in done.stderr
    assert not list(repo.parent.glob("pwned*"))
