"""Which of a locked package's files a target installs: the best wheel for the target's tags.

The choice depends on the target alone (platform, glibc floor, Python), never on the node, so
every node that shares a store installs the same files for the same env hash.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from envlock.errors import ResolutionError
from envlock.lock.model import Artifact, LockedPackage, LockedTarget

_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
_ARCH = {"linux-x86_64": "x86_64", "linux-aarch64": "aarch64"}


def _platform_tags(platform: str, glibc: str) -> list[str]:
    if platform in _ARCH:
        arch = _ARCH[platform]
        major, _, minor = glibc.partition(".")
        tags: list[str] = []
        if major == "2" and minor.isdigit():
            for m in range(int(minor), 4, -1):
                tags.append(f"manylinux_2_{m}_{arch}")
                if m in _LEGACY_MANYLINUX:
                    tags.append(f"{_LEGACY_MANYLINUX[m]}_{arch}")
        return [*tags, f"linux_{arch}"]
    if platform == "windows-amd64":
        return ["win_amd64"]
    if platform == "macos-arm64":
        from packaging.tags import mac_platforms

        return list(mac_platforms((15, 0), "arm64"))
    return []


@lru_cache(maxsize=16)
def _tag_rank(platform: str, glibc: str, python: str) -> dict[str, int]:
    from packaging.tags import compatible_tags, cpython_tags

    free_threaded = python.endswith("t")
    major, _, minor = python.rstrip("t").partition(".")
    version = (int(major), int(minor))
    abi = f"cp{major}{minor}{'t' if free_threaded else ''}"
    platforms = _platform_tags(platform, glibc)
    abis = [abi] if free_threaded else [abi, "abi3", "none"]
    tags: Iterator[object] = iter(
        [*cpython_tags(version, abis, platforms), *compatible_tags(version, f"cp{major}{minor}", platforms)]
    )
    rank: dict[str, int] = {}
    for i, tag in enumerate(tags):
        rank.setdefault(str(tag), i)
    return rank


def choose_artifact(package: LockedPackage, target: LockedTarget) -> Artifact:
    """The file of `package` that `target` installs; raises ResolutionError when none fits."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    rank = _tag_rank(target.platform, target.glibc, target.python)
    best: tuple[int, Artifact] | None = None
    for art in package.artifacts:
        if not art.filename.endswith(".whl"):
            continue
        try:
            _, _, _, tags = parse_wheel_filename(art.filename)
        except InvalidWheelFilename:
            continue
        score = min((rank[str(t)] for t in tags if str(t) in rank), default=None)
        if score is not None and (best is None or score < best[0]):
            best = (score, art)
    if best is None:
        files = ", ".join(a.filename for a in package.artifacts) or "none"
        raise ResolutionError(
            f"target {target.name}: no locked file of {package.name} {package.version} is a wheel for "
            f"{target.platform} (glibc {target.glibc}) and Python {target.python} (locked files: {files})",
            hint="envlock installs wheels only; re-solve the lock, or pin a version that ships wheels",
            details={"package": package.name, "target": target.name},
        )
    return best[1]


def choose_artifacts(target: LockedTarget) -> tuple[tuple[LockedPackage, Artifact], ...]:
    """One file per package of `target`, in the lock's order, then each CUDA toolkit archive."""
    wheels = tuple((p, choose_artifact(p, target)) for p in target.packages)
    toolkit = tuple((c, c.artifacts[0]) for c in target.toolkit if c.artifacts)
    # each conda package as a one-file package, for the store's artifact machinery
    conda = tuple(
        (LockedPackage(name=c.name, version=c.version, index=c.channel, artifacts=(c.artifact,)), c.artifact)
        for c in target.conda
    )
    return wheels + toolkit + conda
