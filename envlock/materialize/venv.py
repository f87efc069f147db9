"""The venv materializer: a relocatable virtual environment holding exactly the locked files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from envlock.lock.model import LockedTarget

if TYPE_CHECKING:  # imported when a build starts: processes that only wait never need them
    from envlock.install.interpreter import ChosenInterpreter
    from envlock.materialize import MaterializeRequest
    from envlock.materialize.uvinstall import Interpreter, VenvJob


class VenvBuild:
    """A venv being built at `dest`: `uv venv` runs from `start` until `ready`."""

    def __init__(self, target: LockedTarget, dest: Path, chosen: ChosenInterpreter | None = None) -> None:
        from envlock.materialize.uvinstall import start_venv

        self.dest = dest
        self._chosen = chosen
        python = str(chosen.path) if chosen is not None and chosen.path is not None else target.python
        self._job: VenvJob | None = start_venv(dest, python)
        self._interpreter: Interpreter | None = None

    def ready(self) -> None:
        if self._interpreter is None:
            assert self._job is not None, "ready() after cancel()"
            job, self._job = self._job, None
            self._interpreter = job.wait()

    def finish(self, request: MaterializeRequest) -> None:
        from envlock.materialize.distinfo import compile_bytecode, install_locked_wheels
        from envlock.materialize.toolkit import place_toolkit
        from envlock.materialize.uvinstall import venv_python_version
        from envlock.store.tree import seal_environment

        self.ready()
        assert self._interpreter is not None
        toolkit = set(request.target.toolkit)
        wheels = [f for f in request.files if f.package not in toolkit]
        install_locked_wheels(self.dest, wheels)
        place_toolkit(self.dest, request.target, request.files)
        compile_bytecode(self.dest)
        record = request.record(
            interpreter=str(self._interpreter.path),
            interpreter_version=venv_python_version(self.dest) or self._interpreter.version,
            interpreter_source=self._chosen.source if self._chosen is not None else "system",
            warnings=self._chosen.warnings if self._chosen is not None else (),
        )
        seal_environment(self.dest, record)

    def cancel(self) -> None:
        if self._job is not None:
            job, self._job = self._job, None
            job.cancel()


class VenvMaterializer:
    """uv makes the venv and installs the files (`--no-deps`, hash-checked); the record goes last.

    `interpreter(target)`, when given, says which interpreter to build on (the lock's pinned build,
    fetched and unpacked into the store by then, or `--python PATH`); without it, or when it names
    none, uv finds an interpreter of the locked X.Y on the node.
    """

    def __init__(self, interpreter: Callable[[LockedTarget], ChosenInterpreter] | None = None) -> None:
        self._interpreter = interpreter

    def start(self, target: LockedTarget, dest: Path) -> VenvBuild:
        chosen = self._interpreter(target) if self._interpreter is not None else None
        return VenvBuild(target, dest, chosen)
