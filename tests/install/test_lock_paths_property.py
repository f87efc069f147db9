"""Property (issue 8): no string in a lock makes any command touch a path outside the store, the
prefix or the output directory it was given.

Each example takes a real lock, puts one drawn string (path tricks, other URL schemes, control
characters, or free text) into one field, seals the lock again (and, half the time, recomputes its
env-hashes, so that only the checks of the values stand in the way), and runs install (into a
store or a --prefix), fetch, export and gc in this process. A Python audit hook sees every file the
commands create, write, rename, link or delete; each must lie under the store, the prefix, the output
directory or the cache directory of the example. A victim directory beside them must stay as it was.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lockmaker import TargetDef, make_lock, reseal

from envlock.cli.main import main
from envlock.lock.model import Lock, LockedPackage, LockedTarget

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_touched: list[str] | None = None  # while a command runs: every path it writes or removes


def _resolve(path: object, dir_fd: object) -> str | None:
    if not isinstance(path, (str, bytes, os.PathLike)):
        return None
    given = Path(os.fsdecode(path))
    if isinstance(dir_fd, int) and dir_fd >= 0 and not given.is_absolute():
        # shutil.rmtree and friends work relative to an open directory
        given = Path(f"/proc/self/fd/{dir_fd}").readlink() / given
    # normalized, so that `store/../victim` is judged where it lands
    return os.path.normpath(given if given.is_absolute() else Path.cwd() / given)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _touched is None:
        return
    found: list[str | None] = []
    if event == "open":
        path, mode, flags = (*args, None, None)[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if writing:
            found.append(_resolve(path, None))
    elif event in ("os.remove", "os.rmdir"):
        found.append(_resolve(args[0], args[1]))
    elif event in ("os.mkdir", "os.chmod"):
        found.append(_resolve(args[0], args[2]))
    elif event == "os.utime":
        found.append(_resolve(args[0], args[3]))
    elif event in ("shutil.rmtree", "os.truncate"):
        found.append(_resolve(args[0], None))
    elif event == "os.rename":
        found += [_resolve(args[0], args[2]), _resolve(args[1], args[3])]
    elif event in ("os.link", "shutil.copyfile"):  # the source is only read
        found.append(_resolve(args[1], None))
    elif event == "shutil.move":
        found += [_resolve(args[0], None), _resolve(args[1], None)]
    elif event == "os.symlink":
        found.append(_resolve(args[1], args[2]))
    _touched.extend(p for p in found if p is not None)


sys.addaudithook(_audit)

NASTY = [
    "../../escaped",
    "..",
    ".",
    "",
    "a/b",
    "a\\b",
    "/tmp/escaped-abs",
    "x\x00y",
    "evil\n--index-url x",
    "~/escaped",
    "%2e%2e/escaped",
    "sha256:../../../escaped",
    "A" * 64,
    "f" * 63,
    "javascript:alert(1)",
    "ftp://mirror.example/a.whl",
    "file:///dev/zero",
    "file:///etc/passwd",
    "relative/a-1.0-py3-none-any.whl",
]
strings = st.sampled_from(NASTY) | st.text(max_size=20) | st.from_regex(r"[a-z0-9./-]{1,20}", fullmatch=True)
FIELDS = [
    "sha256",
    "file",
    "url",
    "index",
    "package-name",
    "version",
    "env-hash",
    "target-name",
    "env-name",
    "python",
    "platform",
    "glibc",
]


def _edit(field: str, value: str, victim: Path) -> Callable[[Lock], Lock]:
    value = value.replace("VICTIM", str(victim))

    def package(p: LockedPackage) -> LockedPackage:
        a = p.artifacts[0]
        changes: dict[str, dict[str, str]] = {
            "sha256": {"sha256": value},
            "file": {"filename": value},
            "url": {"url": value},
        }
        if field in changes:
            return replace(p, artifacts=(replace(a, **changes[field]),))  # type: ignore[arg-type]  # str fields
        if field == "index":
            return replace(p, index=value)
        if field == "package-name":
            return replace(p, name=value)
        return replace(p, version=value)

    def target(t: LockedTarget) -> LockedTarget:
        if field in ("sha256", "file", "url", "index", "package-name", "version"):
            return replace(t, packages=(package(t.packages[0]), *t.packages[1:]))
        key = {"env-hash": "env_hash", "target-name": "name"}.get(field, field)
        return replace(t, **{key: value})  # type: ignore[arg-type]  # str fields

    def edit(lock: Lock) -> Lock:
        if field == "env-name":
            return replace(lock, inputs=replace(lock.inputs, name=value))
        return replace(lock, targets=(target(lock.targets[0]),))

    return edit


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("base")
    wheels = root / "wheels"
    return make_lock(
        root / "envlock.lock",
        wheels,
        wheels.as_uri() + "/",
        [TargetDef(name="cpu", packages=(("alpha", "1.0"),))],
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    field=st.sampled_from(FIELDS),
    value=strings | st.just("VICTIM") | st.just("VICTIM/precious.whl"),
    recompute=st.booleans(),
    into_prefix=st.booleans(),
)
def test_no_lock_string_touches_a_path_outside_what_the_command_was_given(
    base: Path, monkeypatch: pytest.MonkeyPatch, field: str, value: str, recompute: bool, into_prefix: bool
) -> None:
    global _touched
    case = Path(tempfile.mkdtemp(prefix="envlock-prop-"))
    victim = case / "victim"
    victim.mkdir()
    (victim / "precious.whl").write_bytes(b"do not delete")
    lock = case / "envlock.lock"
    lock.write_bytes(base.read_bytes())
    try:
        reseal(lock, _edit(field, value, victim), recompute_env_hash=recompute)
    except (TypeError, ValueError):
        return  # a value the lock writer itself cannot write (a lone surrogate): no lock to attack
    store, prefix, out, cache, bundle = (case / n for n in ("store", "prefix", "out", "cache", "bundle"))
    bundle.mkdir()
    monkeypatch.setenv("ENVLOCK_CACHE_DIR", str(cache))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("ENVLOCK_GPUS", "none")
    monkeypatch.setenv("ENVLOCK_DRIVER", "none")
    monkeypatch.setenv("ENVLOCK_STORE", str(store))
    target = value if field == "target-name" else "cpu"
    install = ["install", "-l", str(lock), "--target", target, "--no-node-check", "--store", str(store)]
    install += ["--offline", "--bundle", str(bundle)]
    if into_prefix:
        install += ["--prefix", str(prefix)]
    commands = [
        install,
        ["fetch", "-l", str(lock), "-o", str(out), "--store", str(store)],
        [
            "export",
            "-l",
            str(lock),
            "--target",
            target,
            "--format",
            "requirements",
            "-o",
            str(out / "req.txt"),
        ],
        ["gc", "--store", str(store)],
    ]
    # --prefix builds beside the prefix (`.prefix.envlock-<token>`, renamed into place) and makes
    # sure its parent exists (here it does): both named by the prefix, not by the lock
    beside = (str(case / ".prefix.envlock-"), str(case / ".prefix.old-"))
    allowed = tuple(str(p) + os.sep for p in (store, prefix, out, cache)) + beside
    for argv in commands:
        _touched = []
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse refusing a drawn target name such as "-x"
            code = exit_.code if isinstance(exit_.code, int) else 2
        finally:
            touched, _touched = _touched, None
        assert code != 4, (argv, field, value)  # never an internal error
        outside = [
            p
            for p in touched
            if not (p + os.sep).startswith(allowed)
            and "__pycache__" not in p
            and p not in (os.devnull, str(case))
        ]
        assert outside == [], (argv, field, value)
    assert sorted(p.name for p in victim.iterdir()) == ["precious.whl"]
    assert (victim / "precious.whl").read_bytes() == b"do not delete"
    shutil.rmtree(case, ignore_errors=True)
