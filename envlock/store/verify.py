"""Check an installed environment against what made it: its tree hash, every package's RECORD, the
locked wheels' own RECORD, and the lock's record of which files it installs.

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

from envlock.lock.model import Artifact, LockedPackage
from envlock.store.artifacts import ArtifactState, check_file
from envlock.store.record import EnvRecord
from envlock.store.tree import TREE_MANIFEST, UNHASHED, manifest_text, scan_tree, tree_differences, tree_hash

# Files an installer writes or rewrites itself: the wheel's own RECORD says nothing about them.
_INSTALLER_WRITTEN = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "uv_cache.json"})


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


def _wheel_problems(wheel: Path, package: LockedPackage, site: str, digests: dict[str, str]) -> list[str]:
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


def verify_environment(
    env: Path,
    *,
    env_hash: str,
    installs: Sequence[tuple[LockedPackage, Artifact, Path]],
) -> Verification:
    """Re-hash every file of the environment at `env` and compare it with what it should hold.

    `installs` is what the lock says the environment holds: each package, the file of it the
    target installs, and where the store keeps that file (checked against the lock's sha256, then
    read for the wheel's own RECORD; when the store no longer has it, a note says so).
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
    locked = {(p.name, p.version, a.sha256) for p, a, _ in installs}
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
    for package, artifact, stored_at in installs:
        state = check_file(stored_at, artifact)
        if state is ArtifactState.MISSING:
            notes.append(
                f"{artifact.filename}: not in the store; {package.name} checked against its RECORD only"
            )
            continue
        if state is ArtifactState.CORRUPT:
            problems.append(
                f"{stored_at}: the store's copy of {artifact.filename} does not match the lock's sha256"
            )
            continue
        try:
            problems += _wheel_problems(stored_at, package, site, digests)
        except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            problems.append(f"{stored_at}: cannot read the locked wheel: {exc}")
    return Verification(
        path=env,
        record=record,
        tree_hash=now,
        files=len(digests),
        problems=tuple(dict.fromkeys(problems)),
        notes=tuple(notes),
    )
