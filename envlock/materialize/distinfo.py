"""Make an installed venv depend on the lock alone: package metadata as an index install leaves it,
bytecode compiled the same way every time.

uv installs every file as a local file, so it records each package as a direct URL install of the
store's own artifact path (`direct_url.json`) and adds a timestamped `uv_cache.json`. Here:

* `uv_cache.json` is removed;
* `direct_url.json` is removed for packages from an index (so `pip freeze` prints `name==version`),
  and for a direct reference rewritten (PEP 610) to the lock's own URL and sha256;
* `INSTALLER` says `envlock`: the environment is managed by envlock, not by a package installer;
* every `.py` is compiled to a hash-based `.pyc` (checked against its source on import), with the
  sources' paths inside the environment and a fixed hash seed, so two builds give the same bytes
  wherever they are built or published;
* `RECORD` lists what is really there (the compiled files too), sorted by path.
"""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envlock.materialize import LocalArtifact

from envlock import processes
from envlock.errors import InternalError

INSTALLER_NAME = "envlock"
_DROPPED = ("uv_cache.json",)


@dataclass(frozen=True, slots=True, kw_only=True)
class InstalledFile:
    """A wheel the venv was given: its local path, and the URL to record when it is a direct reference."""

    path: Path
    sha256: str
    direct_url: str | None  # None: the package came from an index


def site_packages(venv: Path) -> list[Path]:
    """The venv's site-packages directories (POSIX `lib/pythonX.Y/`, Windows `Lib/`)."""
    found = sorted(venv.glob("lib/python*/site-packages"))
    windows = venv / "Lib" / "site-packages"
    return [*found, windows] if windows.is_dir() else found


def record_hash(data: bytes) -> str:
    """A RECORD hash field: `sha256=` and the urlsafe base64 digest without padding."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def read_record(dist_info: Path) -> list[list[str]]:
    text = (dist_info / "RECORD").read_text(encoding="utf-8")
    return [row for row in csv.reader(io.StringIO(text)) if row]


def _write_record(dist_info: Path, rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    record = f"{dist_info.name}/RECORD"
    for row in sorted((r for r in rows if r[0] != record), key=lambda r: r[0]):
        writer.writerow(row)
    writer.writerow([record, "", ""])
    (dist_info / "RECORD").write_text(out.getvalue(), encoding="utf-8")


def _file_row(site: Path, rel: str) -> list[str]:
    data = (site / rel).read_bytes()
    return [rel, record_hash(data), str(len(data))]


def _direct_url_doc(url: str, sha256: str) -> str:
    doc = {"archive_info": {"hash": f"sha256={sha256}", "hashes": {"sha256": sha256}}, "url": url}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def _which_file(dist_info: Path, by_name: dict[str, InstalledFile]) -> InstalledFile | None:
    try:
        doc = json.loads((dist_info / "direct_url.json").read_text(encoding="utf-8"))
        url = str(doc.get("url", ""))
    except (OSError, ValueError, AttributeError):
        return None
    return by_name.get(url.rsplit("/", 1)[-1])


def normalize_metadata(venv: Path, files: Sequence[InstalledFile]) -> None:
    """Rewrite the dist-info directories of `venv` as the module docstring says (before compiling)."""
    by_name = {f.path.name: f for f in files}
    for site in site_packages(venv):
        for dist_info in sorted(site.glob("*.dist-info")):
            if not (dist_info / "RECORD").is_file():
                continue
            rows = read_record(dist_info)
            installed = _which_file(dist_info, by_name)
            changed: set[str] = set()
            removed: set[str] = set()
            for name in _DROPPED:
                if (dist_info / name).exists():
                    (dist_info / name).unlink()
                    removed.add(f"{dist_info.name}/{name}")
            direct = dist_info / "direct_url.json"
            if direct.exists():
                if installed is not None and installed.direct_url is not None:
                    direct.write_text(
                        _direct_url_doc(installed.direct_url, installed.sha256), encoding="utf-8"
                    )
                    changed.add(f"{dist_info.name}/direct_url.json")
                else:
                    direct.unlink()
                    removed.add(f"{dist_info.name}/direct_url.json")
            (dist_info / "INSTALLER").write_text(INSTALLER_NAME + "\n", encoding="utf-8")
            changed.add(f"{dist_info.name}/INSTALLER")
            kept = [r for r in rows if r[0] not in removed and r[0] not in changed]
            _write_record(dist_info, [*kept, *(_file_row(site, rel) for rel in sorted(changed))])


# Compiles the paths it is given one after another in one process: marshal marks an object for
# sharing by its reference count, which depends on what the process compiled before, so a file's
# bytes are fixed only if the files compiled before it in its process are too (see compile_bytecode).
_COMPILE = """\
import compileall, os, sys
from py_compile import PycInvalidationMode
options = dict(quiet=2, stripdir=sys.argv[1], invalidation_mode=PycInvalidationMode.CHECKED_HASH)
for path in sys.argv[2:]:
    if os.path.isdir(path):
        compileall.compile_dir(path, workers=1, **options)
    else:
        compileall.compile_file(path, **options)
print(sys.implementation.cache_tag)
"""


def _compile_jobs(site: Path) -> list[list[Path]]:
    """One job per top-level directory of `site`, and one for its top-level modules, in name order:
    which files share a process never depends on timing or on the number of CPUs."""
    entries = sorted(site.iterdir())
    modules = [e for e in entries if e.suffix == ".py" and e.is_file()]
    dirs = [[e] for e in entries if e.is_dir() and not e.is_symlink() and not e.name.endswith(".dist-info")]
    return [*dirs, *([modules] if modules else [])]


def compile_bytecode(venv: Path) -> None:
    """Compile every `.py` of the venv's site-packages to hash-based `.pyc` with the venv's own
    interpreter (its magic number), and list them in their packages' RECORD. Sources are named by
    their path inside the venv (`lib/python3.11/site-packages/...`; an import puts the real path in
    their place), so the bytes are the same wherever the venv is built or published. A file that does
    not compile (a test fixture in old syntax, say) is left without bytecode, as pip leaves it.
    Top-level packages compile in parallel, each in a process of its own."""
    from envlock.store.artifacts import in_threads

    sites = site_packages(venv)
    jobs = [job for site in sites for job in _compile_jobs(site)]
    if not jobs:
        return
    python = venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"  # set and frozenset constants are written in hash order
    env.pop("SOURCE_DATE_EPOCH", None)

    def run(paths: list[Path]) -> subprocess.CompletedProcess[str]:
        # -S: no `.pth` file of the venv runs (one that imports a module makes Python write that
        # module's timestamp-based bytecode itself, which compileall then keeps); -B: nothing else
        # is written either.
        return processes.run(
            [str(python), "-I", "-S", "-B", "-c", _COMPILE, str(venv.absolute())] + [str(p) for p in paths],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    results = in_threads([functools.partial(run, job) for job in jobs], threads=os.cpu_count() or 1)
    tags = set()
    for done in results:
        tag = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        if done.returncode != 0 or not tag:
            tail = "\n".join(done.stderr.strip().splitlines()[-10:])
            raise InternalError(
                f"byte-compiling {venv} failed (exit {done.returncode}):\n{tail}",
                hint="rerun with -v; if the files are fine this is a bug in envlock",
            )
        tags.add(tag)
    for site in sites:
        for dist_info in sorted(site.glob("*.dist-info")):
            if (dist_info / "RECORD").is_file():
                for tag in sorted(tags):
                    _record_bytecode(site, dist_info, tag)


def _record_bytecode(site: Path, dist_info: Path, tag: str) -> None:
    rows = read_record(dist_info)
    listed = {r[0] for r in rows}
    extra: list[list[str]] = []
    for row in rows:
        rel = row[0]
        if not rel.endswith(".py") or rel.startswith(".."):
            continue
        head, _, name = rel.rpartition("/")
        pyc = f"{head + '/' if head else ''}__pycache__/{name[:-3]}.{tag}.pyc"
        if pyc not in listed and (site / pyc).is_file():
            extra.append(_file_row(site, pyc))
    if extra:
        _write_record(dist_info, [*rows, *extra])


def install_locked_wheels(env: Path, files: Sequence[LocalArtifact]) -> None:
    """uv installs exactly `files` (verified wheels) into `env`, then their metadata is made to depend
    on the lock alone (`normalize_metadata`)."""
    from envlock.materialize.uvinstall import WheelFile, install_files

    install_files(env, [WheelFile(name=f.package.name, path=f.path, sha256=f.artifact.sha256) for f in files])
    normalize_metadata(
        env,
        [
            # A package locked without an index is a direct reference: its URL stays on record.
            InstalledFile(
                path=f.path, sha256=f.artifact.sha256, direct_url=None if f.package.index else f.artifact.url
            )
            for f in files
        ],
    )
