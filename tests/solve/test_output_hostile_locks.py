"""The attack: a lock (from a pull request, a colleague, a mirror) carries credentials in its URLs
or terminal escape sequences in its strings, and a reviewer runs show / export / diff on it.

Nothing envlock prints may contain the credentials, and no control character from the lock may
reach the terminal raw. A lock reader that refuses such a lock outright is as good: the
assertions on what is printed hold whatever the exit code, and the positive checks apply when
the command printed the lock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from envlock.lock.digest import seal
from envlock.lock.model import Lock, Rejection
from envlock.lock.write import dump_lock
from tests.diff.conftest import make_lock, torch_target
from tests.solve.conftest import Run, target_block

Envlock = Callable[..., Run]

SECRET = "s3cret-t0ken"
CREDENTIALED = f"https://ci-bot:{SECRET}@mirror.example"
TERMINAL = "\x1b[2J\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\r"
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _credentialed_lock() -> Lock:
    lock = make_lock(torch_target("h100", "2.5.1+cu124"))
    targets = []
    for t in lock.targets:
        packages = tuple(
            replace(
                p,
                index=p.index.replace("https://mirror.example", CREDENTIALED),
                artifacts=tuple(
                    replace(a, url=a.url.replace("https://mirror.example", CREDENTIALED)) for a in p.artifacts
                ),
            )
            for p in t.packages
        )
        targets.append(replace(t, packages=packages))
    inputs = replace(lock.inputs, default_index=CREDENTIALED + "/simple")
    return seal(replace(lock, targets=tuple(targets), inputs=inputs))


def _escaping_lock() -> Lock:
    rejected = [Rejection(variant="cu118", reason=f"no{TERMINAL}")]
    target = torch_target("h100", "2.5.1+cu124", rejected=rejected)
    return make_lock(target)


@pytest.fixture
def lock_file(tmp_path: Path) -> Callable[[Lock, str], Path]:
    def write(lock: Lock, name: str = "envlock.lock") -> Path:
        path = tmp_path / name
        path.write_text(dump_lock(lock), encoding="utf-8")
        return path

    return write


def test_show_export_and_diff_print_no_credentials_from_lock_urls(
    envlock: Envlock, lock_file: Callable[[Lock, str], Path]
) -> None:
    lock = lock_file(_credentialed_lock(), "envlock.lock")
    other = lock_file(make_lock(torch_target("h100", "2.5.1+cu124")), "old.lock")
    runs = {
        "show": envlock("show", "-l", str(lock)),
        "show --json": envlock("show", "-l", str(lock), "--json"),
        "export pylock": envlock("export", "-l", str(lock), "--target", "h100", "--format", "pylock"),
        "export requirements": envlock(
            "export", "-l", str(lock), "--target", "h100", "--format", "requirements"
        ),
        "diff": envlock("diff", str(other), str(lock)),
        "diff markdown": envlock("diff", str(other), str(lock), "--format", "markdown"),
        "diff json": envlock("diff", str(other), str(lock), "--format", "json"),
    }
    for what, run in runs.items():
        assert SECRET not in run.out + run.err and "ci-bot" not in run.out + run.err, what
    for what in ("show --json", "export pylock", "export requirements", "diff"):
        if runs[what].code == 0:
            assert "mirror.example" in runs[what].out, what  # the URLs are there, bare
    if runs["show --json"].code == 0:
        torch = next(p for p in runs["show --json"].json()["targets"][0]["packages"] if p["name"] == "numpy")
        assert torch["url"].startswith("https://mirror.example/")


def test_show_diff_and_errors_show_terminal_escapes_escaped(
    envlock: Envlock, lock_file: Callable[[Lock, str], Path]
) -> None:
    lock = lock_file(_escaping_lock(), "envlock.lock")
    old = make_lock(torch_target("h100", "2.5.1+cu124"))
    renamed = seal(replace(old, targets=(replace(old.targets[0], name=f"h100{TERMINAL}"),)))
    other = lock_file(old, "old.lock")
    named = lock_file(renamed, "named.lock")
    runs = {
        "show": envlock("show", "-l", str(lock)),
        "diff": envlock("diff", str(other), str(lock)),
        # the error's hint lists the lock's target names
        "show --target": envlock("show", "-l", str(named), "--target", "nope"),
        "diff --format json": envlock("diff", str(other), str(named), "--format", "json"),
    }
    for what, run in runs.items():
        assert not RAW_CONTROL.search(run.out + run.err), what
    for what in ("show", "diff"):
        if runs[what].code == 0:
            assert "\\x1b[2J\\x1b]8;;https://evil.example\\x07click" in runs[what].out, what
    if runs["show --target"].code == 2:
        assert "\\x1b[2J" in runs["show --target"].err
    if runs["diff --format json"].code == 0:
        assert json.loads(runs["diff --format json"].out)["targets"][0]["name"] == f"h100{TERMINAL}"


def test_check_reasons_show_neither_credentials_nor_raw_escapes(
    envlock: Envlock, write_spec: Callable[..., Path], lock_file: Callable[[Lock, str], Path]
) -> None:
    spec = write_spec(deps=("torch>=2.5,<2.6", "numpy<2"), targets=target_block("h100"))
    lock = make_lock(torch_target("h100", "2.5.1+cu124"), dependencies=(f"torch{TERMINAL}", "numpy<2"))
    lock = seal(replace(lock, inputs=replace(lock.inputs, default_index=CREDENTIALED + "/simple")))
    path = lock_file(lock, "envlock.lock")
    assert path.parent == spec.parent
    for run in (envlock("check", "-s", str(spec)), envlock("check", "-s", str(spec), "--json")):
        assert run.code == 1
        assert SECRET not in run.out + run.err and not RAW_CONTROL.search(run.out + run.err)
    assert "\\x1b[2J" in envlock("check", "-s", str(spec)).err
