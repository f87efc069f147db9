"""The one module that starts uv for installation: make a venv, install files into it.

uv never resolves here: every file is a local, already verified artifact, passed with its sha256
(`--require-hashes`), `--no-deps`, `--no-index`, `--offline`, and uv's own config files and every
`UV_*` variable but UV_CACHE_DIR ignored, so the result depends on the lock alone. Files are
copied out of uv's cache (`--link-mode copy`): an environment shares no inode with the installing
user's cache, so its modes and owner are its own, a change to the cache cannot reach it, and
cleaning the cache leaves it whole. uv never downloads an interpreter (`--no-python-downloads`).

`uv venv --python X.Y` finds the interpreter itself (one uv process fewer than a separate
`uv python find`), and runs in the background (`start_venv`) while the caller verifies artifacts.
Only when it fails does `uv python find` run, to tell a missing interpreter from other failures.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from envlock import processes
from envlock.errors import EnvlockError, IncompatibleNodeError, InternalError
from envlock.resolvers.uv import uv_binary
from envlock.store.errors import store_error


@dataclass(frozen=True, slots=True, kw_only=True)
class Interpreter:
    path: Path
    version: str  # as asked for ("3.11"); the venv records the full version


@dataclass(frozen=True, slots=True, kw_only=True)
class WheelFile:
    """A verified local file to install, with the name the lock gives it."""

    name: str
    path: Path
    sha256: str


# Kept for installation: where uv caches (a cluster user may point it away from a small home). Every
# other UV_* variable is dropped: link mode, index, build and resolution settings must not change
# what a store path holds (UV_LINK_MODE=symlink or hardlink would tie it to uv's cache).
_UV_KEPT = frozenset({"UV_CACHE_DIR"})


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_") or k in _UV_KEPT}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_NO_PROGRESS"] = "1"
    env.pop("VIRTUAL_ENV", None)
    env.pop("CONDA_PREFIX", None)
    return env


def _run(args: Sequence[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return processes.run(
        [uv_binary(), *args],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


_OWN_CWD = Path("/proc/self/cwd")


def _python_for_uv(venv: Path) -> tuple[Path, Path | None]:
    """How uv should name the venv's python, and the working directory to run uv in.

    uv caches what it learns by running an interpreter under the interpreter's path, so a venv at
    a new scratch path costs a Python start-up on every build. Named through `/proc/self/cwd`
    (uv runs inside the scratch directory), every build's venv has the same path to uv and the
    entry is reused, while each process still reaches only its own scratch directory; the venv is
    relocatable, so nothing installed records the name. Elsewhere: the plain path.
    """
    bin_python = Path("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    if _OWN_CWD.is_dir() and venv.is_absolute():
        return _OWN_CWD / venv.name / bin_python, venv.parent
    return venv / bin_python, None


def _fail(what: str, done: subprocess.CompletedProcess[str], where: Path) -> EnvlockError:
    tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
    for words, code in (("No space left on device", errno.ENOSPC), ("Read-only file system", errno.EROFS)):
        if words in tail:
            return store_error(OSError(code, words), where, what)
    return InternalError(
        f"uv failed to {what} at {where} (exit {done.returncode}):\n{tail}",
        hint="rerun with -v; if the files are fine this is a bug in envlock",
    )


def find_interpreter(python: str) -> Interpreter:
    """An interpreter of the locked Python `X.Y` (or `X.Yt`) on this node; never downloads one."""
    done = _run(
        ["python", "find", python, "--system", "--no-project", "--no-python-downloads", "--no-config"]
    )
    path = done.stdout.strip().splitlines()[-1] if done.returncode == 0 and done.stdout.strip() else ""
    if not path:
        raise _no_interpreter(python)
    return Interpreter(path=Path(path), version=python)


def _no_interpreter(python: str) -> IncompatibleNodeError:
    return IncompatibleNodeError(
        f"no Python {python} interpreter on this node (the lock is solved for Python {python})",
        hint=f"pass an interpreter with --python PATH (a pyenv or module-system Python {python} works), "
        f"install Python {python} on the node, or lock the interpreter itself with "
        '[env] interpreter = "python-build-standalone" in the spec, so that install brings it',
        details={"python": python},
    )


class VenvJob:
    """`uv venv` running in the background; `wait()` returns the interpreter the venv was made from."""

    def __init__(self, dest: Path, python: str) -> None:
        self.dest = dest
        self.python = python
        self._proc = processes.start(
            [
                uv_binary(),
                "venv",
                "--relocatable",
                "--no-config",
                "--no-python-downloads",
                "--quiet",
                "--python",
                python,
                str(dest),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )

    def wait(self) -> Interpreter:
        """Raises IncompatibleNodeError when this node has no Python `X.Y`, StoreError/InternalError else."""
        out, err = self._proc.communicate()
        done = subprocess.CompletedProcess(self._proc.args, self._proc.returncode, out, err)
        if done.returncode != 0:
            find_interpreter(self.python)  # raises when the interpreter is what is missing
            raise _fail("create a venv", done, self.dest)
        link = self.dest / "bin" / "python"
        try:
            base = link.readlink()  # uv links the venv's python to the interpreter it chose
        except OSError:
            base = link.resolve()
        return Interpreter(path=link.parent / base, version=self.python)

    def cancel(self) -> None:
        """Stop `uv venv` if it is still running (the caller failed before needing the venv)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()


def start_venv(dest: Path, python: str) -> VenvJob:
    """Start making a relocatable venv of Python `X.Y` at `dest` (so it can be built in scratch and
    renamed into place); the interpreter is found by uv, never downloaded."""
    return VenvJob(dest, python)


def venv_python_version(venv: Path) -> str | None:
    """The full version (`3.11.7`) that `pyvenv.cfg` of `venv` records, if it does."""
    try:
        for line in (venv / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("version_info", "version"):
                return value.strip()
    except OSError:
        return None
    return None


def install_files(venv: Path, files: Sequence[WheelFile]) -> None:
    """Install exactly `files` into `venv`; uv checks each file's sha256 again."""
    if not files:
        return
    reqs = venv / ".envlock-requirements.txt"
    try:
        reqs.write_text(
            "".join(f"{f.name} @ {f.path.resolve().as_uri()} --hash=sha256:{f.sha256}\n" for f in files),
            encoding="utf-8",
        )
    except OSError as exc:  # a full or read-only filesystem: the user's to fix, not a bug
        from envlock.store.errors import store_error

        with contextlib.suppress(OSError):
            reqs.unlink()
        raise store_error(exc, reqs, "write uv's requirements file") from exc
    python, cwd = _python_for_uv(venv)
    try:
        done = _run(
            [
                "pip",
                "install",
                "--python",
                str(python),
                "--no-deps",
                "--no-index",
                "--offline",
                "--no-config",
                "--require-hashes",
                "--no-build",
                "--link-mode",
                "copy",  # never hard links or symlinks into the user's own cache
                # the store's files are already local and verified: unpacking them into uv's cache
                # too would grow it by every store's copy of every wheel
                "--no-cache",
                "--quiet",
                "-r",
                str(reqs.absolute()),
            ],
            cwd=cwd,
        )
    finally:
        reqs.unlink()
    if done.returncode != 0:
        raise _fail(f"install {len(files)} files", done, venv)
