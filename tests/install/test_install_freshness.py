"""Freshness on use: `install` and `run` check the lock against the spec beside it (or named with -s)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from lockmaker import PYTHON, FileServer, TargetDef, make_lock, run_envlock

from envlock.index.config import default_index_url
from envlock.kb import load_kb
from envlock.lock.digest import seal
from envlock.lock.read import load_lock
from envlock.lock.write import dump_lock
from envlock.solve.inputs import lock_inputs
from envlock.spec.parse import load_spec

SPEC = """\
[env]
name = "{name}"
python = "{python}"
dependencies = [{deps}]

[indexes]
default = "{index}"
pytorch = false

[[target]]
name = "cpu"
platform = "linux-x86_64"
glibc = "2.17"
"""


def _spec(path: Path, index: str, *, name: str = "demo", deps: tuple[str, ...] = ("alpha", "beta")) -> Path:
    path.write_text(
        SPEC.format(name=name, python=PYTHON, deps=", ".join(f'"{d}"' for d in deps), index=index),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def project(tmp_path: Path, wheels: Path, server: FileServer) -> Path:
    """A project directory: envlock.toml and a lock whose inputs are that spec's (a fresh lock)."""
    root = tmp_path / "project"
    root.mkdir()
    spec_path = _spec(root / "envlock.toml", server.url)
    lock_path = make_lock(root / "envlock.lock", wheels, server.url, [TargetDef(name="cpu")])
    spec = load_spec(spec_path)
    inputs = lock_inputs(
        spec, default_index=default_index_url(spec.indexes.default), kb_digest=load_kb().digest
    )
    lock = seal(replace(load_lock(lock_path), inputs=inputs, content_hash=""))
    lock_path.write_text(dump_lock(lock), encoding="utf-8")
    assert run_envlock(["check", "-s", str(spec_path)]).returncode == 0
    return root


def test_fresh_lock_beside_its_spec_installs(project: Path, store: Path) -> None:
    done = run_envlock(["install", "-l", str(project / "envlock.lock"), "--store", str(store)])
    assert done.returncode == 0, done.stderr


def test_stale_lock_is_refused_by_install_and_run_with_the_reasons_and_frozen_installs_it(
    project: Path, store: Path, server: FileServer
) -> None:
    _spec(project / "envlock.toml", server.url, deps=("alpha", "beta", "gamma"))  # the spec was edited
    lock = str(project / "envlock.lock")
    check = run_envlock(["check", "-s", str(project / "envlock.toml"), "--json"])
    reasons = json.loads(check.stdout)["reasons"]
    assert reasons == ["env.dependencies changed: + gamma"]
    for command in (["install"], ["run"]):
        args = [*command, "-l", lock, "--store", str(store)]
        if command == ["run"]:
            args += ["--", "python", "-c", "pass"]
        done = run_envlock(args)
        assert done.returncode == 1, done.stderr
        assert "is stale against" in done.stderr
        assert all(r in done.stderr for r in reasons)  # the very reasons `check` gives
        assert "hint: run `envlock solve`" in done.stderr and "--frozen" in done.stderr
    assert server.requests == []  # refused before anything was fetched
    as_json = run_envlock(["install", "-l", lock, "--store", str(store), "--json"])
    assert json.loads(as_json.stdout)["error"]["reasons"] == reasons
    frozen = run_envlock(["install", "-l", lock, "--store", str(store), "--frozen"])
    assert frozen.returncode == 0, frozen.stderr
    assert Path(frozen.stdout.strip(), "bin", "python").exists()


def test_a_spec_named_with_s_is_checked_too(
    project: Path, store: Path, tmp_path: Path, server: FileServer
) -> None:
    elsewhere = _spec(tmp_path / "other.toml", server.url, deps=("alpha",))
    done = run_envlock(
        ["install", "-l", str(project / "envlock.lock"), "-s", str(elsewhere), "--store", str(store)]
    )
    assert done.returncode == 1
    assert "env.dependencies changed: - beta" in done.stderr


def test_another_projects_lock_is_named_as_such(project: Path, store: Path, server: FileServer) -> None:
    _spec(project / "envlock.toml", server.url, name="vit-train")
    done = run_envlock(["install", "-l", str(project / "envlock.lock"), "--store", str(store)])
    assert done.returncode == 1
    assert "is another project's lock" in done.stderr
    assert "'demo'" in done.stderr and "'vit-train'" in done.stderr


def test_a_lock_without_a_spec_beside_it_is_used_as_it_is(lock: Path, store: Path) -> None:
    # the conftest lock lies alone in its directory (as in a bundle): nothing to judge it against
    done = run_envlock(["install", "-l", str(lock), "--store", str(store), "--target", "cpu"])
    assert done.returncode == 0, done.stderr


def test_a_broken_spec_beside_the_lock_is_a_spec_error_that_names_frozen(project: Path, store: Path) -> None:
    (project / "envlock.toml").write_text('[env]\nname = "demo"\npython = 3.11\n', encoding="utf-8")
    lock = str(project / "envlock.lock")
    done = run_envlock(["install", "-l", lock, "--store", str(store)])
    assert done.returncode == 2
    assert "env.python" in done.stderr and "--frozen skips that check" in done.stderr
    assert run_envlock(["install", "-l", lock, "--store", str(store), "--frozen"]).returncode == 0
