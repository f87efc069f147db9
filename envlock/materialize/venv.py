"""The venv materializer: a relocatable virtual environment holding exactly the locked files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from envlock import __version__
from envlock.lock.model import LockedTarget

if TYPE_CHECKING:  # imported when a build starts: processes that only wait never need them
    from envlock.materialize import MaterializeRequest
    from envlock.materialize.uvinstall import Interpreter, VenvJob


class VenvBuild:
    """A venv being built at `dest`: `uv venv` runs from `start` until `ready`."""

    def __init__(self, target: LockedTarget, dest: Path) -> None:
        from envlock.materialize.uvinstall import start_venv

        self.dest = dest
        self._job: VenvJob | None = start_venv(dest, target.python)
        self._interpreter: Interpreter | None = None

    def ready(self) -> None:
        if self._interpreter is None:
            assert self._job is not None, "ready() after cancel()"
            job, self._job = self._job, None
            self._interpreter = job.wait()

    def finish(self, request: MaterializeRequest) -> None:
        from envlock.materialize.distinfo import InstalledFile, compile_bytecode, normalize_metadata
        from envlock.materialize.uvinstall import WheelFile, install_files, venv_python_version
        from envlock.store.record import EnvRecord, RecordedPackage
        from envlock.store.tree import seal_environment

        self.ready()
        assert self._interpreter is not None
        install_files(
            self.dest,
            [WheelFile(name=f.package.name, path=f.path, sha256=f.artifact.sha256) for f in request.files],
        )
        normalize_metadata(
            self.dest,
            [
                # A package locked without an index is a direct reference: its URL stays on record.
                InstalledFile(
                    path=f.path,
                    sha256=f.artifact.sha256,
                    direct_url=None if f.package.index else f.artifact.url,
                )
                for f in request.files
            ],
        )
        compile_bytecode(self.dest)
        record = EnvRecord(
            env_name=request.env_name,
            target=request.target.name,
            env_hash=request.target.env_hash,
            lock_content_hash=request.lock_content_hash,
            platform=request.target.platform,
            python=request.target.python,
            interpreter=str(self._interpreter.path),
            interpreter_version=venv_python_version(self.dest) or self._interpreter.version,
            envlock_version=__version__,
            packages=tuple(
                RecordedPackage(
                    name=f.package.name,
                    version=f.package.version,
                    filename=f.artifact.filename,
                    sha256=f.artifact.sha256,
                )
                for f in request.files
            ),
        )
        seal_environment(self.dest, record)

    def cancel(self) -> None:
        if self._job is not None:
            job, self._job = self._job, None
            job.cancel()


class VenvMaterializer:
    """uv makes the venv and installs the files (`--no-deps`, hash-checked); the record goes last."""

    def start(self, target: LockedTarget, dest: Path) -> VenvBuild:
        return VenvBuild(target, dest)
