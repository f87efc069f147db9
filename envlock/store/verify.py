"""Check an installed environment against what made it: its tree hash, every package's RECORD, the
locked wheels' own RECORD, the locked conda packages' own `info/paths.json`, and the lock's record of
which files it installs.

Read-only: nothing is repaired; every difference is reported with the file it concerns.
"""

from __future__ import annotations

import base64
import csv
import io
import posixpath
import urllib.parse
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from envlock.lock.model import Artifact
from envlock.store.artifacts import ArtifactState, check_file
from envlock.store.record import EnvRecord
from envlock.store.tree import TREE_MANIFEST, UNHASHED, manifest_text, scan_tree, tree_differences, tree_hash

# Files an installer writes or rewrites itself: the wheel's own RECORD says nothing about them.
_INSTALLER_WRITTEN = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "uv_cache.json"})


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedFile:
    """One file the lock says the environment was built from, and where the store keeps it."""

    name: str
    version: str
    artifact: Artifact
    stored_at: Path
    kind: Literal["wheel", "conda", "toolkit"]
    noarch: str | None = None  # a conda package's noarch kind ("python": files under site-packages/)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verification:
    """What `verify_environment` found. `problems` name a file each; `notes` say what was not checked."""

    path: Path
    record: EnvRecord | None
    tree_hash: str | None  # recomputed now
    files: int
    problems: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _hex_of(record_hash: str) -> str | None:
    algo, _, value = record_hash.partition("=")
    if algo != "sha256" or not value:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
    except ValueError:
        return None


def _have_rattler() -> bool:
    try:
        import rattler  # noqa: F401
    except ImportError:
        return False
    return True


def _site_packages(env: Path, python: str) -> str:
    """The site-packages directory relative to the environment, as the tree manifest names it."""
    found = sorted(p.relative_to(env).as_posix() for p in env.glob("lib/python*/site-packages"))
    return found[0] if found else f"lib/python{python}/site-packages"


def _digests(manifest: str) -> dict[str, str]:
    """Unescaped path -> sha256 hex of every file in a manifest."""
    out: dict[str, str] = {}
    for line in manifest.splitlines():
        kind, _mode, digest, path = line.split(" ", 3)
        if kind == "f":
            out[urllib.parse.unquote(path)] = digest
    return out


def _installed_records(env: Path, site: str, digests: dict[str, str]) -> list[str]:
    """Problems with installed files against their packages' RECORD."""
    problems: list[str] = []
    for dist_info in sorted((env / site).glob("*.dist-info")):
        try:
            text = (dist_info / "RECORD").read_text(encoding="utf-8")
        except OSError:
            problems.append(f"{site}/{dist_info.name}/RECORD: missing or unreadable")
            continue
        for row in csv.reader(io.StringIO(text)):
            if len(row) < 2 or not row[1]:
                continue
            rel = posixpath.normpath(posixpath.join(site, row[0]))
            want = _hex_of(row[1])
            got = digests.get(rel)
            if got is None:
                problems.append(f"{rel}: listed in {dist_info.name}/RECORD but missing")
            elif want is not None and got != want:
                problems.append(f"{rel}: contents differ from {dist_info.name}/RECORD")
    return problems


def _wheel_problems(wheel: Path, package: LockedFile, site: str, digests: dict[str, str]) -> list[str]:
    """Files the wheel installs unchanged whose installed bytes differ from the wheel's own RECORD."""
    problems: list[str] = []
    with zipfile.ZipFile(wheel) as zf:
        record_name = next(
            (n for n in zf.namelist() if n.endswith(".dist-info/RECORD") and n.count("/") == 1), None
        )
        if record_name is None:
            return [f"{wheel.name}: the locked wheel has no RECORD"]
        text = zf.read(record_name).decode("utf-8")
    data_dir = record_name.split("/", 1)[0].removesuffix(".dist-info") + ".data/"
    for row in csv.reader(io.StringIO(text)):
        if len(row) < 2 or not row[1]:
            continue
        name = row[0]
        if name.startswith(data_dir):
            scheme, _, rest = name[len(data_dir) :].partition("/")
            if scheme not in ("purelib", "platlib"):
                continue  # scripts get their interpreter line rewritten; headers and data land elsewhere
            name = rest
        elif name.split("/", 1)[0].endswith(".dist-info") and name.rsplit("/", 1)[-1] in _INSTALLER_WRITTEN:
            continue
        rel = posixpath.normpath(posixpath.join(site, name))
        want = _hex_of(row[1])
        got = digests.get(rel)
        if got is None:
            problems.append(f"{rel}: in the locked wheel of {package.name} {package.version} but missing")
        elif want is not None and got != want:
            problems.append(f"{rel}: differs from the locked wheel of {package.name} {package.version}")
    return problems


def _conda_problems(package: LockedFile, site: str, digests: dict[str, str]) -> list[str]:
    """Files of a conda package whose installed bytes differ from the package's own `info/paths.json`.

    Files with a prefix placeholder are rewritten at install time (the prefix is put in), and the
    metadata files an installer rewrites in a `.dist-info` are skipped, as for wheels.
    """
    import rattler

    problems: list[str] = []
    label = f"{package.name} {package.version}"
    for entry in rattler.PathsJson.from_package_archive(package.stored_at).paths:
        name = Path(entry.relative_path).as_posix()
        if entry.prefix_placeholder is not None or entry.sha256 is None or entry.no_link:
            continue
        if package.noarch == "python":
            if not name.startswith("site-packages/"):
                continue  # python-scripts/ become bin/ entry points written by the installer
            name = f"{site}/{name.removeprefix('site-packages/')}"
        parts = name.split("/")
        if len(parts) > 1 and parts[-2].endswith(".dist-info") and parts[-1] in _INSTALLER_WRITTEN:
            continue
        rel = posixpath.normpath(name)
        got = digests.get(rel)
        if got is None:
            problems.append(f"{rel}: in the locked conda package {label} but missing")
        elif got != entry.sha256.hex():
            problems.append(f"{rel}: differs from the locked conda package {label}")
    return problems


def _package_problems(package: LockedFile, site: str, digests: dict[str, str]) -> list[str]:
    """The checks of one locked file against the installed tree, by its kind."""
    if package.kind == "wheel":
        try:
            return _wheel_problems(package.stored_at, package, site, digests)
        except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            return [f"{package.stored_at}: cannot read the locked wheel: {exc}"]
    try:
        return _conda_problems(package, site, digests)
    except Exception as exc:  # rattler's own parse errors have no common base class
        return [f"{package.stored_at}: cannot read the locked conda package: {exc}"]


def verify_environment(
    env: Path,
    *,
    env_hash: str,
    installs: Sequence[LockedFile],
) -> Verification:
    """Re-hash every file of the environment at `env` and compare it with what it should hold.

    `installs` is what the lock says the environment holds: each package's file (a wheel, a conda
    package, a CUDA toolkit archive) and where the store keeps it. Each file is checked against the
    lock's sha256, then a wheel's own RECORD and a conda package's own `info/paths.json` are compared
    with the installed files. Toolkit archives are unpacked under `cuda/`; their files are covered
    by the tree hash only (a note says so). When the store no longer has a file, a note says so.
    """
    problems: list[str] = []
    notes: list[str] = []
    record = EnvRecord.read(env)
    if record is None:
        return Verification(
            path=env, record=None, tree_hash=None, files=0,
            problems=(f"{env}: no readable envlock-env.json: not an environment envlock published",),
            notes=(),
        )  # fmt: skip
    if record.env_hash != env_hash:
        problems.append(f"envlock-env.json: env hash {record.env_hash}, the lock says {env_hash}")
    locked = {(p.name, p.version, p.artifact.sha256) for p in installs}
    recorded = {(p.name, p.version, p.sha256) for p in record.packages}
    for name, version, sha in sorted(recorded - locked):
        problems.append(
            f"envlock-env.json: lists {name} {version} (sha256 {sha[:12]}...), which the lock does not"
        )
    for name, version, sha in sorted(locked - recorded):
        problems.append(
            f"envlock-env.json: lacks {name} {version} (sha256 {sha[:12]}...), which the lock has"
        )

    manifest = manifest_text(scan_tree(env, exclude=UNHASHED))
    now = tree_hash(manifest)
    digests = _digests(manifest)
    if record.tree_hash is None:
        notes.append("no tree hash recorded (built by an older envlock): files checked against RECORD only")
    else:
        try:
            stored = (env / TREE_MANIFEST).read_text(encoding="ascii")
        except (OSError, ValueError):
            stored = None
            problems.append(f"{TREE_MANIFEST}: missing or unreadable")
        if stored is not None and tree_hash(stored) != record.tree_hash:
            problems.append(f"{TREE_MANIFEST}: does not match the tree hash in envlock-env.json")
        if now != record.tree_hash:
            if stored is not None:
                problems += tree_differences(stored, manifest)
            problems.append(f"tree hash {now} differs from the recorded {record.tree_hash}")

    site = _site_packages(env, record.python)
    problems += _installed_records(env, site, digests)
    conda_checked = True
    for package in installs:
        artifact = package.artifact
        state = check_file(package.stored_at, artifact)
        if state is ArtifactState.MISSING:
            notes.append(
                f"{artifact.filename}: not in the store; {package.name} checked against the tree hash"
                " and its RECORD only"
            )
            continue
        if state is ArtifactState.CORRUPT:
            problems.append(
                f"{package.stored_at}: the store's copy of {artifact.filename}"
                " does not match the lock's sha256"
            )
            continue
        if package.kind == "toolkit":
            notes.append(f"{artifact.filename}: CUDA toolkit files under cuda/ checked against the tree hash")
            continue
        if package.kind == "conda" and not _have_rattler():
            conda_checked = False
            continue
        problems += _package_problems(package, site, digests)
    if not conda_checked:
        notes.append("py-rattler is not installed: conda packages checked against the tree hash only")
    return Verification(
        path=env,
        record=record,
        tree_hash=now,
        files=len(digests),
        problems=tuple(dict.fromkeys(problems)),
        notes=tuple(notes),
    )
