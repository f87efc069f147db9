"""Interpreter builds in the store: a locked python-build-standalone archive, unpacked once.

    <root>/v1/python/<32 hex of the archive's sha256>-<implementation>-<version>/python/bin/python3

Content-addressed like environments and shared by every environment built on it (their venvs link
to it). Unpacking happens in scratch on the same filesystem and is published with one rename, so
concurrent installs never see half an interpreter; the loser of a race drops its copy. The archive
itself is an ordinary verified artifact (`<root>/v1/artifacts/`). An install unpacks or finds it
while it holds the build lease of its environment, which names the archive, so `envlock gc` keeps it
meanwhile; gc removes an unpacked interpreter that no environment in the store is built on.

Trust (a store shared through a group, docs/architecture.md §8): the name is predictable from the
lock, so another member of the group could make `python/<name>` first, or put another tree in its
place. An unpacked build is therefore sealed read-only (no write bit for anyone) before its one
rename, and an existing entry is used only when `store/trust.py` says its owner is trusted and
nobody else may write its top level. An entry that fails this is left alone and this user unpacks a
private copy, `python/<name>-u<uid>`; when that name is taken by someone else too, the install stops
with a StoreError saying whom to ask.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
import tarfile
from pathlib import Path, PurePosixPath

from envlock.errors import IntegrityError
from envlock.lock.model import Artifact, LockedInterpreter
from envlock.store.artifacts import changed_since_check, hash_file, open_artifact
from envlock.store.errors import store_error
from envlock.store.layout import StoreLayout, new_token
from envlock.store.modes import READONLY_DIR, seal_tree
from envlock.store.trust import (
    Trust,
    check_directories,
    check_private,
    current_uid,
    entry_problem,
    private_name,
)

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


def private_interpreter_dir(layout: StoreLayout, interpreter: LockedInterpreter) -> Path:
    """This user's own copy, for when `interpreter_dir` is held by someone this user does not trust."""
    base = interpreter_dir(layout, interpreter)
    return base.with_name(private_name(base.name))


def _distrust(path: Path, trust: Trust) -> str | None:
    """Why the unpacked build at `path` is not to be run (None: it is fine to run)."""
    return entry_problem(path, trust, marker=_DONE)


def unpacked(layout: StoreLayout, interpreter: LockedInterpreter) -> Path | None:
    """The interpreter's executable when the store holds a build of it this user may run, else None.

    Raises StoreError when `python/` lets others rename what is in it."""
    trust = Trust.of(layout.root)
    check_directories(trust, layout.base, interpreters_dir(layout))
    for root in (interpreter_dir(layout, interpreter), private_interpreter_dir(layout, interpreter)):
        if _distrust(root, trust) is None:
            return interpreter_executable(root, interpreter)
    return None


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


def _read_archive(archive: Path, artifact: Artifact) -> bytes:
    """The archive's bytes, read once into memory (tens of MB) without following a symlink or waiting
    on a FIFO, and at most the locked size (`open_artifact`)."""
    with os.fdopen(open_artifact(archive, artifact), "rb") as f:
        return f.read(artifact.size + 1)


def _extract(archive: Path, dest: Path, artifact: Artifact) -> None:
    """Unpack the archive from the bytes this function checked against the lock's sha256, since
    another member of the group could put other bytes at `archive` (the group's `artifacts/`)
    between the install's check and a second read."""
    import hashlib
    import io

    data = _read_archive(archive, artifact)
    if hashlib.sha256(data).hexdigest() != artifact.sha256:
        raise changed_since_check(artifact, archive)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        members = tar.getmembers()
        for member in members:
            _check_member(member, archive)
        if hasattr(tarfile, "tar_filter"):
            # every entry was checked above; the "tar" filter also drops setuid bits and owners
            tar.extractall(dest, members=members, filter="tar")
        else:  # Python < 3.10.12: the checks above are all there is
            tar.extractall(dest, members=members)


def shared_refused(layout: StoreLayout, interpreter: LockedInterpreter) -> str | None:
    """Why the shared `python/<name>` of `interpreter` is not run by this user when someone else holds
    it (so a private copy is used), else None."""
    shared = interpreter_dir(layout, interpreter)
    why = _distrust(shared, Trust.of(layout.root))
    if why is None or why == "missing":
        return None
    with contextlib.suppress(OSError):
        if shared.lstat().st_uid == current_uid():
            return None  # this user's own: replaced by a fresh unpack
    return f"{shared} is {why}"


def _destination(layout: StoreLayout, interpreter: LockedInterpreter) -> Path:
    """Where to publish a new unpack: the shared name, unless someone else already holds it."""
    shared = interpreter_dir(layout, interpreter)
    try:
        st = shared.lstat()
    except FileNotFoundError:
        return shared
    except OSError as exc:
        raise store_error(exc, shared, "look for the interpreter") from exc
    if st.st_uid == current_uid():
        return shared  # this user's own unfinished or loosened entry: replaced below
    private = private_interpreter_dir(layout, interpreter)
    why = _distrust(shared, Trust.of(layout.root)) or "held by someone else"
    check_private(private, shared=shared, why=why)
    return private


def unpack_interpreter(layout: StoreLayout, interpreter: LockedInterpreter, archive: Path) -> Path:
    """Unpack the verified `archive` of `interpreter` into the store (once) and return its executable.

    Raises IntegrityError for an archive that is not an `install_only` build of this interpreter,
    StoreError when the store cannot be written or holds the build's names in hands not trusted.
    """
    found = unpacked(layout, interpreter)
    if found is not None:
        return found
    final = _destination(layout, interpreter)
    check_directories(Trust.of(layout.root), layout.base, layout.scratch)  # unpacked there first
    scratch = layout.scratch / f"python-{new_token(8)}"
    try:
        try:
            scratch.mkdir(mode=0o700, parents=True)  # nobody else may change it before the seal
            _extract(archive, scratch, interpreter.artifact)
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
            # Read-only before it is published: nobody, not even this user's later processes, writes
            # into a build others run. The top stays writable by its owner alone until the rename
            # (moving a directory to another parent needs write access to it).
            seal_tree(scratch, keep_root_writable=True)
            scratch.chmod(0o755)
            final.parent.mkdir(parents=True, exist_ok=True)
            if _distrust(final, Trust.of(layout.root)) not in (None, "missing"):
                _drop_own(final)  # an entry of this user's own that is not fit to run
            scratch.rename(final)
            final.chmod(READONLY_DIR)
        except OSError as exc:
            if unpacked(layout, interpreter) is None:  # not a lost race: a real failure
                raise store_error(exc, final, "publish the interpreter") from exc
    finally:
        from envlock.store.modes import remove_tree

        remove_tree(scratch)
    return interpreter_executable(final, interpreter)


def _drop_own(path: Path) -> None:
    """Remove this user's own entry at `path` (an unfinished or loosened unpack) before replacing it."""
    from envlock.store.modes import remove_tree

    with contextlib.suppress(OSError):
        if path.lstat().st_uid == current_uid():
            aside = path.with_name(f".{path.name}.{new_token(8)}")
            path.rename(aside)
            remove_tree(aside)


def _used_build(layout: StoreLayout, interpreter_path: str) -> Path | None:
    """The `python/<name>` directory of this store that `interpreter_path` (an environment's recorded
    base interpreter) lies in, else None."""
    parts = Path(interpreter_path).parts
    for i in range(1, len(parts) - 1):
        if parts[i] == "python" and parts[i - 1] == layout.base.name:
            return interpreters_dir(layout) / parts[i + 1]
    return None


def interpreter_problems(
    layout: StoreLayout, interpreter: LockedInterpreter, interpreter_path: str
) -> tuple[list[str], list[str]]:
    """(problems, notes) of the unpacked build an environment runs (`interpreter_path`, from its
    record) against the locked archive: the store's copy is read once, checked against the lock's
    sha256, and every file, link and directory of the unpacked tree compared with it; a file the
    archive lacks, an owner this user does not trust or a write bit for group or others is a problem."""
    import hashlib
    import io

    root = _used_build(layout, interpreter_path)
    if root is None:
        return [
            f"{interpreter_path}: the locked interpreter is not in this store's {interpreters_dir(layout)}"
        ], []
    expected = interpreter_dir(layout, interpreter).name
    if root.name != expected and not root.name.startswith(f"{expected}-u"):
        return [f"{root}: not the unpacked build of the locked interpreter ({expected})"], []
    art = interpreter.artifact
    archive = layout.artifact_path(art.sha256, art.filename)
    try:
        data = _read_archive(archive, art)
    except FileNotFoundError:
        return [], [f"{art.filename}: not in the store; the interpreter at {root} was not re-hashed"]
    except (OSError, IntegrityError) as exc:
        return [f"{archive}: cannot read the interpreter archive: {exc}"], []
    if hashlib.sha256(data).hexdigest() != art.sha256:
        return [f"{archive}: the store's copy of {art.filename} does not match the lock's sha256"], []
    problems: list[str] = []
    notes: list[str] = []
    try:
        top = root.lstat()
    except OSError:
        return [f"{root}: the interpreter the environment runs is missing"], []
    if not Trust.of(layout.root).trusts(top.st_uid):
        notes.append(f"{root}: owned by uid {top.st_uid}, who could change it after this check")
    if top.st_mode & 0o022:
        problems.append(f"{root}: writable by group or others")
    seen = {_DONE}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for member in tar:
                name = posixpath.normpath(member.name)
                seen.add(name)
                seen.update(p.as_posix() for p in PurePosixPath(name).parents)
                path = root / name
                try:
                    st = path.lstat()
                except OSError:
                    problems.append(f"{path}: in the locked interpreter archive but missing")
                    continue
                if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o022:
                    problems.append(f"{path}: writable by group or others")
                if member.issym():
                    if not stat.S_ISLNK(st.st_mode) or str(path.readlink()) != member.linkname:
                        problems.append(f"{path}: differs from the locked interpreter archive")
                elif member.isdir():
                    if not stat.S_ISDIR(st.st_mode):
                        problems.append(f"{path}: differs from the locked interpreter archive")
                elif member.isfile() or member.islnk():
                    source = tar.extractfile(member)
                    want = hashlib.sha256(source.read()).hexdigest() if source is not None else ""
                    if not stat.S_ISREG(st.st_mode) or hash_file(path)[0] != want:
                        problems.append(f"{path}: differs from the locked interpreter archive")
    except (tarfile.TarError, EOFError, OSError) as exc:
        problems.append(f"{archive}: cannot read the interpreter archive: {exc}")
        return problems, notes
    compiled = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            rel = (Path(dirpath) / name).relative_to(root).as_posix()
            if rel in seen:
                continue
            if "__pycache__" in rel.split("/"):
                compiled += 1  # root ignores the read-only modes: its runs write bytecode here
            else:
                problems.append(f"{root / rel}: not in the locked interpreter archive")
    if compiled:
        notes.append(
            f"{root}: {compiled} entries under __pycache__/ are not in the archive (bytecode written by a "
            "run as root, or by an older envlock's writable unpack); they were not checked"
        )
    return problems, notes
