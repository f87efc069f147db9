"""Interpreter builds in the store: a locked python-build-standalone archive, unpacked once.

    <root>/v1/python/<32 hex of the archive's sha256>-<implementation>-<version>/python/bin/python3

Content-addressed like environments and shared by every environment built on it (their venvs link
to it). Unpacking happens in scratch on the same filesystem and is published with one rename, so
concurrent installs never see half an interpreter; the loser of a race drops its copy. The archive
itself is an ordinary verified artifact (`<root>/v1/artifacts/`). An install unpacks or finds it
while it holds the build lease of its environment, which names the archive, so `envlock gc` keeps it
meanwhile; gc removes an unpacked interpreter that no environment in the store is built on.
"""

from __future__ import annotations

import contextlib
import posixpath
import shutil
import stat
import tarfile
from pathlib import Path, PurePosixPath

from envlock.errors import IntegrityError
from envlock.lock.model import LockedInterpreter
from envlock.store.errors import store_error
from envlock.store.layout import StoreLayout, new_token

_DONE = ".envlock-complete"


def interpreters_dir(layout: StoreLayout) -> Path:
    return layout.base / "python"


def interpreter_dir(layout: StoreLayout, interpreter: LockedInterpreter) -> Path:
    """Where `interpreter` is (or will be) unpacked."""
    digest = interpreter.artifact.sha256
    return interpreters_dir(layout) / f"{digest[:32]}-{interpreter.implementation}-{interpreter.version}"


def interpreter_executable(root: Path, interpreter: LockedInterpreter) -> Path:
    """The `python` executable inside an unpacked build (python-build-standalone's `install_only` layout)."""
    if "windows" in interpreter.artifact.filename:
        return root / "python" / "python.exe"
    major_minor = ".".join(interpreter.version.split(".")[:2])
    return root / "python" / "bin" / f"python{major_minor}"


def unpacked(layout: StoreLayout, interpreter: LockedInterpreter) -> Path | None:
    """The interpreter's executable when the store holds it unpacked, else None."""
    root = interpreter_dir(layout, interpreter)
    return interpreter_executable(root, interpreter) if (root / _DONE).is_file() else None


def _inside(name: str) -> bool:
    norm = posixpath.normpath(name)
    return norm == "python" or norm.startswith("python/")


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    path = PurePosixPath(member.name)
    bad = path.is_absolute() or ".." in path.parts or not _inside(member.name)
    if member.issym():
        link = PurePosixPath(member.linkname)
        bad = bad or link.is_absolute() or not _inside(posixpath.join(str(path.parent), member.linkname))
    elif member.islnk():
        bad = bad or ".." in PurePosixPath(member.linkname).parts or not _inside(member.linkname)
    elif not (member.isfile() or member.isdir()):
        bad = True  # devices, fifos: never in an interpreter build
    if bad:
        raise IntegrityError(
            f"{archive.name}: the interpreter archive holds an entry outside its python/ tree "
            f"({member.name!r})",
            hint="the archive is not a python-build-standalone `install_only` build; re-solve the lock",
        )


def _extract(archive: Path, dest: Path) -> None:
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            _check_member(member, archive)
        if hasattr(tarfile, "tar_filter"):
            # every entry was checked above; the "tar" filter also drops setuid bits and owners
            tar.extractall(dest, members=members, filter="tar")
        else:  # Python < 3.10.12: the checks above are all there is
            tar.extractall(dest, members=members)


def unpack_interpreter(layout: StoreLayout, interpreter: LockedInterpreter, archive: Path) -> Path:
    """Unpack the verified `archive` of `interpreter` into the store (once) and return its executable.

    Raises IntegrityError for an archive that is not an `install_only` build of this interpreter,
    StoreError when the store cannot be written.
    """
    found = unpacked(layout, interpreter)
    if found is not None:
        return found
    final = interpreter_dir(layout, interpreter)
    scratch = layout.scratch / f"python-{new_token(8)}"
    try:
        try:
            scratch.mkdir(parents=True)
            _extract(archive, scratch)
        except (tarfile.TarError, EOFError) as exc:
            raise IntegrityError(
                f"{archive.name}: not a readable interpreter archive ({exc})",
                hint="re-solve the lock; the build at its URL is not what uv would install",
            ) from None
        except OSError as exc:
            raise store_error(exc, scratch, "unpack the interpreter") from exc
        executable = interpreter_executable(scratch, interpreter)
        if not executable.is_file():
            raise IntegrityError(
                f"{archive.name}: no {executable.relative_to(scratch)} in the interpreter archive",
                hint="the archive is not a python-build-standalone `install_only` build; re-solve the lock",
            )
        mode = executable.stat().st_mode
        executable.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        (scratch / _DONE).write_text(interpreter.artifact.sha256 + "\n", encoding="utf-8")
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            scratch.rename(final)
        except OSError as exc:
            if unpacked(layout, interpreter) is None:  # not a lost race: a real failure
                raise store_error(exc, final, "publish the interpreter") from exc
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(scratch)
    return interpreter_executable(final, interpreter)
