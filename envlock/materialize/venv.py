"""The venv materializer: a relocatable virtual environment holding exactly the locked files."""

from __future__ import annotations

from pathlib import Path

from envlock import __version__
from envlock.materialize import MaterializeRequest
from envlock.materialize.uvinstall import WheelFile, create_venv, install_files, venv_python_version
from envlock.store.record import EnvRecord, RecordedPackage


class VenvMaterializer:
    """uv makes the venv and installs the files (`--no-deps`, hash-checked); the record goes last."""

    def materialize(self, request: MaterializeRequest, dest: Path) -> None:
        create_venv(dest, request.interpreter)
        install_files(
            dest,
            [WheelFile(name=f.package.name, path=f.path, sha256=f.artifact.sha256) for f in request.files],
        )
        EnvRecord(
            env_name=request.env_name,
            target=request.target.name,
            env_hash=request.target.env_hash,
            lock_content_hash=request.lock_content_hash,
            platform=request.target.platform,
            python=request.target.python,
            interpreter=str(request.interpreter.path),
            interpreter_version=venv_python_version(dest) or request.interpreter.version,
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
        ).write(dest)
