"""The lock model's own behaviour: finding a target by name, and the key tables it is written by."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from lockfactory import make_lock

from envlock.errors import ExitCode, UsageError
from envlock.lock.model import Lock, LockedTarget
from envlock.lock.write import dump_lock


def test_require_target_gives_the_target_or_names_the_lock_s_targets() -> None:
    lock = make_lock()
    assert lock.require_target("login", source="envlock.lock") is lock.targets[1]
    with pytest.raises(UsageError) as info:
        lock.require_target("a100", source="x/envlock.lock", hint="pass one of those names to --target")
    assert info.value.message == "x/envlock.lock has no target 'a100'; its targets are: h100, login"
    assert info.value.hint == "pass one of those names to --target"
    assert info.value.details == {"targets": ["h100", "login"]}
    assert info.value.exit_code == ExitCode.USAGE == 2


@pytest.mark.parametrize(
    "command", [["fetch", "--target", "a100", "-o", "bundle"], ["verify", "--target", "a100"]]
)
def test_commands_refuse_a_target_the_lock_does_not_have(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "envlock.lock").write_text(dump_lock(make_lock()), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "envlock", *command, "-l", str(tmp_path / "envlock.lock")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "has no target 'a100'; its targets are: h100, login" in done.stderr


def test_every_model_field_has_one_key_row() -> None:
    """A field without a row would be dropped from the file silently."""
    seen: set[type] = set()

    def walk(cls: type) -> None:
        if cls in seen:
            return
        seen.add(cls)
        keys = cls.KEYS  # type: ignore[attr-defined]  # every lock record class carries KEYS
        fields = {f.name for f in dataclasses.fields(cls)}
        rows = [k.field for k in keys]
        assert len(rows) == len(set(rows)), cls
        missing = fields - set(rows) - ({"kind", "location"} if cls.__name__ == "DirectSource" else set())
        assert not missing, f"{cls.__name__}: no key row for {sorted(missing)}"
        for k in keys:
            if k.record is not None:
                walk(k.record)
            if k.kind == "source":
                from envlock.lock.model import DirectSource

                walk(DirectSource)

    walk(Lock)
    assert len(seen) >= 12


def test_the_json_form_shows_every_target_key_of_the_lock() -> None:
    """A new target key reaches `show --json` too, or is named here as one the JSON form folds in."""
    from envlock.lock.export.json_form import target_to_json

    shown = set(target_to_json(make_lock().targets[0]))
    keys = {k.key for k in LockedTarget.KEYS}
    # toolkit-source/-release sit inside the JSON "toolkit" object; the conda part has no JSON form yet
    assert keys - shown == {"toolkit-source", "toolkit-release", "conda"}
