"""The shipped integration files run for real: the pre-commit hook entry and the CI review step."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from envlock.index.config import default_index_url
from envlock.kb import load_kb
from envlock.lock.digest import seal
from envlock.lock.write import dump_lock
from envlock.solve.inputs import lock_inputs
from envlock.spec.parse import load_spec

from .scenarios import torch_upgrade

ROOT = Path(__file__).resolve().parents[2]

SPEC = """\
[env]
name = "vit-train"
python = "3.11"
dependencies = ["torch>=2.7,<2.8", "numpy<2"]

[indexes]
default = "https://mirror.example/simple"

[[target]]
name = "h100"
platform = "linux-x86_64"
gpus = ["H100"]
driver = "550.54.15"
"""


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH entry whose `envlock` is this checkout under this interpreter."""
    d = tmp_path / "bin"
    d.mkdir()
    exe = d / "envlock"
    exe.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m envlock "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return d


def _env(bin_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "ENVLOCK_KB"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def _hook(hook_id: str) -> dict[str, object]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return next(h for h in hooks if h["id"] == hook_id)


def _fresh_lock(spec_file: Path) -> str:
    spec = load_spec(spec_file)
    inputs = lock_inputs(
        spec,
        default_index=default_index_url(spec.indexes.default or ""),
        kb_digest=load_kb(spec.knowledge_base).digest,
    )
    _, new = torch_upgrade()
    return dump_lock(seal(replace(new, inputs=inputs, targets=new.targets[:1])))


def test_pre_commit_manifest_runs_envlock_check(tmp_path: Path, bin_dir: Path) -> None:
    root_hook = _hook("envlock-check")
    assert root_hook["entry"] == "envlock check" and root_hook["pass_filenames"] is False
    hook = _hook("envlock-check-dirs")
    lock_dir = tmp_path / "locks" / "vit"
    lock_dir.mkdir(parents=True)
    (lock_dir / "envlock.toml").write_text(SPEC)
    (lock_dir / "envlock.lock").write_text(_fresh_lock(lock_dir / "envlock.toml"))
    files = ["locks/vit/envlock.toml", "locks/vit/envlock.lock"]
    # pre-commit splits `entry` like a shell and appends the changed file names.
    argv = [*shlex.split(str(hook["entry"])), *files]

    fresh = subprocess.run(argv, cwd=tmp_path, env=_env(bin_dir), capture_output=True, text=True, timeout=120)
    assert fresh.returncode == 0, fresh.stderr
    assert "is fresh" in fresh.stderr

    (lock_dir / "envlock.toml").write_text(SPEC.replace("numpy<2", "numpy<3"))
    stale = subprocess.run(argv, cwd=tmp_path, env=_env(bin_dir), capture_output=True, text=True, timeout=120)
    assert stale.returncode == 1
    assert "is stale" in stale.stderr and "numpy<3" in stale.stderr


def _git(repo: Path, *args: str) -> str:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "HOME": str(repo.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def _step(name: str) -> str:
    workflow = yaml.safe_load((ROOT / "docs" / "ci" / "lock-review.yml").read_text())
    steps = workflow["jobs"]["lock-review"]["steps"]
    return str(next(s for s in steps if s.get("name") == name)["run"])


def test_ci_review_step_writes_the_markdown_review(tmp_path: Path, bin_dir: Path) -> None:
    repo = tmp_path / "repo"
    for d in ("vit", "bert"):
        (repo / "locks" / d).mkdir(parents=True)
        (repo / "locks" / d / "envlock.toml").write_text(SPEC)
    old, new = torch_upgrade()
    (repo / "locks" / "vit" / "envlock.lock").write_text(dump_lock(old))
    (repo / "locks" / "bert" / "envlock.lock").write_text(dump_lock(old))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "locks" / "vit" / "envlock.lock").write_text(dump_lock(new))
    (repo / "locks" / "gpt").mkdir()
    (repo / "locks" / "gpt" / "envlock.toml").write_text(SPEC)
    (repo / "locks" / "gpt" / "envlock.lock").write_text(dump_lock(new))
    output = tmp_path / "github_output"
    output.write_text("")

    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", _step("Review the lock changes")],  # GitHub's default shell
        cwd=repo,
        env=_env(bin_dir, BASE=base, GITHUB_OUTPUT=str(output)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    review = (repo / "review.md").read_text()
    assert f"`{base}:locks/vit/envlock.lock` → `locks/vit/envlock.lock`" in review
    assert "<details>" in review and "cu124 → cu128" in review
    assert "locks/bert" not in review  # unchanged locks stay out of the comment
    assert "`locks/gpt/envlock.lock`\n\nNew lock" in review
    assert "changed=true" in output.read_text()


def test_ci_check_step_fails_on_a_stale_lock(tmp_path: Path, bin_dir: Path) -> None:
    lock_dir = tmp_path / "locks" / "vit"
    lock_dir.mkdir(parents=True)
    (lock_dir / "envlock.toml").write_text(SPEC)
    (lock_dir / "envlock.lock").write_text(dump_lock(torch_upgrade()[0]))
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", _step("Every lock is fresh for its spec")],
        cwd=tmp_path,
        env=_env(bin_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "is stale" in done.stderr
