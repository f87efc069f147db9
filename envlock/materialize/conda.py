"""The conda materializer: a conda prefix with the `[conda]` part installed by rattler, the PyPI part by uv.

rattler installs the locked conda packages from the store's verified copies (each file's sha256 is
checked again against the lock by rattler itself), links them into the prefix and writes
`conda-meta/<name>-<version>-<build>.json`, so that conda, mamba, micromamba and pixi see them.
Those records name the lock's own channel and URL, not the store path the bytes came from. Then uv
installs the PyPI wheels into the prefix's own Python (`INSTALLER` says uv). Activation scripts
(`etc/conda/activate.d/*.sh`) run in `envlock run` and `envlock shell`.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from envlock.errors import IncompatibleNodeError, IntegrityError, InternalError
from envlock.lock.model import CondaPackage, LockedTarget

if TYPE_CHECKING:
    from envlock.materialize import MaterializeRequest


def _record(c: CondaPackage, local: Path) -> object:
    import rattler

    package = rattler.PackageRecord(
        name=c.name,
        version=c.version,
        build=rattler.BuildString(c.build),
        build_number=c.build_number,
        subdir=c.subdir,
        noarch=c.noarch,  # type: ignore[arg-type]  # "python" | "generic" | None, as rattler spells them
        depends=list(c.depends),
        constrains=list(c.constrains),
        sha256=bytes.fromhex(c.artifact.sha256),
        md5=bytes.fromhex(c.md5) if c.md5 else None,
        size=c.artifact.size,
    )
    return rattler.RepoDataRecord(
        package_record=package, file_name=c.artifact.filename, url=local.as_uri(), channel=c.channel
    )


class CondaBuild:
    """A conda prefix being built at `dest`; everything happens in `finish`."""

    def __init__(self, target: LockedTarget, dest: Path) -> None:
        self.target = target
        self.dest = dest

    def ready(self) -> None:
        if not any(c.name == "python" for c in self.target.conda) and self.target.packages:
            raise IncompatibleNodeError(
                f"target {self.target.name}: the [conda] part has no python to install the PyPI part into",
                hint='add "python" to [conda].dependencies and re-solve',
            )

    def finish(self, request: MaterializeRequest) -> None:
        import asyncio  # here: a process that only waits for another's build needs neither

        from envlock._rattler import require_rattler

        rattler = require_rattler()

        from envlock.materialize.distinfo import compile_bytecode, install_locked_wheels
        from envlock.materialize.toolkit import place_toolkit
        from envlock.materialize.uvinstall import venv_python_version
        from envlock.store.tree import seal_environment

        by_sha = {c.artifact.sha256: c for c in self.target.conda}
        toolkit = set(self.target.toolkit)
        conda_files = [f for f in request.files if f.artifact.sha256 in by_sha]
        archives = [f for f in request.files if f.package in toolkit]
        wheels = [f for f in request.files if f not in conda_files and f not in archives]
        pkgs = self.dest.with_name(f".{self.dest.name}.pkgs")  # rattler's extraction cache, this build only
        # The cache is removed while the rest of the build runs: the prefix holds its own links
        # to the extracted files, and unlinking thousands of them is slow on network filesystems.
        remover = threading.Thread(target=shutil.rmtree, args=(pkgs,), kwargs={"ignore_errors": True})
        try:
            records = [_record(by_sha[f.artifact.sha256], f.path) for f in conda_files]
            asyncio.run(
                rattler.install(
                    records,
                    target_prefix=self.dest,
                    cache_dir=pkgs,
                    installed_packages=[],  # a new prefix: nothing to scan for
                    execute_link_scripts=False,
                    show_progress=False,
                )
            )
        except Exception as exc:  # rattler's errors have no common base: name what failed
            shutil.rmtree(pkgs, ignore_errors=True)
            if "sha256" in str(exc).lower() or "hash" in str(exc).lower():
                raise IntegrityError(
                    f"a conda package of target {self.target.name} does not match the lock: {exc}",
                    hint="the store's copy or the channel changed; nothing was published",
                ) from None
            raise
        remover.start()
        try:
            relocate_prefix(self.dest, request.final or self.dest)
            _restore_provenance(self.dest, by_sha)
            install_locked_wheels(self.dest, wheels)
            place_toolkit(self.dest, self.target, request.files)
            compile_bytecode(self.dest)
            python = self.dest / "bin" / "python"
            record = request.record(
                interpreter=str(python), interpreter_version=venv_python_version(self.dest) or ""
            )
            seal_environment(self.dest, record)
        finally:
            remover.join()

    def cancel(self) -> None:
        pass


# Files rattler writes the install prefix into, besides those with a prefix placeholder: the entry
# points it generates for noarch python packages (their `#!` line names the prefix's python).
_ENTRY_POINTS = ("unix_python_entry_point", "windows_python_entry_point_script")


def relocate_prefix(built: Path, final: Path) -> None:
    """Put `final` where rattler wrote `built`, the scratch path it installed into: in every file
    whose package marks a prefix placeholder (text: replaced; binary: replaced inside each C string
    and padded with NUL bytes to its old length, as conda does, so `final` may not be longer) and in
    the entry points it generated; the files' `sha256_in_prefix` in `conda-meta/` follow. Without this
    a published prefix's scripts, pkg-config files and `_sysconfigdata` would name the scratch path,
    which is gone once the prefix is renamed into place."""
    import hashlib
    import re

    old, new = os.fsencode(str(built)), os.fsencode(str(final))
    if old == new:
        return
    if len(new) > len(old):
        raise InternalError(f"cannot relocate {built} to the longer path {final}")
    binary = re.compile(re.escape(old) + rb"([^\0]*?)\0")
    for record_path in sorted((built / "conda-meta").glob("*.json")):
        record = json.loads(record_path.read_text(encoding="utf-8"))
        entries = (record.get("paths_data") or {}).get("paths") or []
        changed = False
        for entry in entries:
            placeholder = entry.get("prefix_placeholder")
            if placeholder is None and entry.get("path_type") not in _ENTRY_POINTS:
                continue
            path = built / entry["_path"]
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            if placeholder is not None and entry.get("file_mode") == "binary":
                moved = binary.sub(lambda m: new + m.group(1) + b"\0" * (len(old) - len(new) + 1), data)
            else:
                moved = data.replace(old, new)
            if moved == data:
                continue
            mode = path.stat().st_mode
            path.write_bytes(moved)
            path.chmod(mode)
            if "sha256_in_prefix" in entry:
                entry["sha256_in_prefix"] = hashlib.sha256(moved).hexdigest()
                changed = True
        if changed:
            record_path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _restore_provenance(prefix: Path, by_sha: dict[str, CondaPackage]) -> None:
    """conda-meta records name the lock's channel and URL, not the store file rattler read."""
    for path in sorted((prefix / "conda-meta").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        locked = by_sha.get(str(data.get("sha256", "")))
        if locked is None:
            continue
        data["url"] = locked.artifact.url
        data["channel"] = locked.channel
        data.pop("package_tarball_full_path", None)
        data.pop("extracted_package_dir", None)
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


class CondaMaterializer:
    """Builds conda prefixes (rattler for conda packages, uv for the PyPI part)."""

    def start(self, target: LockedTarget, dest: Path) -> CondaBuild:
        dest.mkdir(parents=True, exist_ok=True)
        return CondaBuild(target, dest)
