"""The interpreter an environment is built on: the lock's pinned build, or `--python PATH`.

A target whose lock pins an interpreter (`[env] interpreter = "python-build-standalone"` in the
spec) gets exactly that build: its archive is fetched like any artifact (from the store, a bundle,
or its URL; verified against the lock's sha256) and unpacked once into the store
(`envlock.store.interpreters`), where every environment built on it links to it; a build in the
store that someone this user does not trust made is not run (a private copy is unpacked and the
install says why). Offline installs
take it from the bundle. `--python PATH` replaces it (or, for a target without a pinned build, the
interpreter uv would find on the node) and the environment records a warning saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envlock.errors import NetworkError, UsageError
from envlock.lock.model import LockedInterpreter, LockedTarget
from envlock.progress import PhaseLog

if TYPE_CHECKING:
    from envlock.install.apply import Sources
    from envlock.store.layout import StoreLayout


@dataclass(frozen=True, slots=True, kw_only=True)
class ChosenInterpreter:
    """The executable to build a venv from, where it came from, and what to warn about."""

    path: Path | None  # None: let uv find an interpreter of the locked X.Y on the node
    source: str  # "locked" | "override" | "system"
    warnings: tuple[str, ...] = ()


def check_override(path: Path) -> Path:
    """`--python PATH` as given, absolute; UsageError when it is not an executable file."""
    import os

    if not path.is_file() or not os.access(path, os.X_OK):
        raise UsageError(
            f"--python {path}: not an executable file",
            hint="pass the path of a Python interpreter, e.g. --python /opt/python3.11/bin/python3.11",
        )
    return path.absolute()


def override_warning(target: LockedTarget, path: Path) -> str:
    if target.interpreter is not None:
        pinned = f"{target.interpreter.implementation} {target.interpreter.version}"
        return (
            f"--python {path} replaces the interpreter the lock pins for target {target.name} "
            f"({pinned}, sha256 {target.interpreter.artifact.sha256[:16]}...): this environment is not "
            "the locked one"
        )
    return f"--python {path} replaces the interpreter uv would find for Python {target.python}"


def provide_interpreter(
    store: StoreLayout, interpreter: LockedInterpreter, sources: Sources, phases: PhaseLog | None
) -> Path:
    """The executable of the locked interpreter build, unpacked in the store (fetched first when the
    store lacks its archive). Raises NetworkError offline without a bundle, IntegrityError for bytes
    that do not match the lock."""
    from envlock.store.artifacts import ArtifactState, check_stored, store_artifact
    from envlock.store.interpreters import shared_refused, unpack_interpreter, unpacked

    label = f"{interpreter.implementation} {interpreter.version}"
    refused = shared_refused(store, interpreter)
    if refused is not None and phases is not None:
        phases.phase(
            f"not running the interpreter {label} others may have put in the store ({refused}): "
            "using a copy of your own"
        )
    found = unpacked(store, interpreter)
    if found is not None:
        return found
    art = interpreter.artifact
    if check_stored(store, art) is not ArtifactState.OK:
        if sources.bundle is not None:
            source = sources.bundle
        elif sources.network is not None:
            source = sources.network()
        else:
            raise NetworkError(
                f"--offline: the locked interpreter {label} ({art.filename}) is not in the store and no "
                "bundle was given",
                hint="make a bundle with `envlock fetch -o DIR` where there is network (it carries the "
                "interpreter), then `envlock install --offline --bundle DIR`",
                details={"file": art.filename},
            )
        if phases is not None:
            phases.phase(
                f"downloading the interpreter {label} / {art.size / 1e6:.1f} MB from {source.description}"
            )

        def write(dest: Path) -> str | None:
            return source.provide(art, dest)

        store_artifact(store, art, write, origin=source.description)
    if phases is not None:
        phases.phase(f"unpacking the interpreter {label} into the store")
    return unpack_interpreter(store, interpreter, store.artifact_path(art.sha256, art.filename))
