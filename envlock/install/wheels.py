"""Which of a locked package's files a target installs: the best wheel for the target's tags.

The choice depends on the target alone (platform, glibc floor, Python), never on the node, so
every node that shares a store installs the same files for the same env hash.
"""

from __future__ import annotations

from envlock.errors import ResolutionError
from envlock.lock.model import Artifact, LockedPackage, LockedTarget
from envlock.platforms import Platform


def choose_artifact(package: LockedPackage, target: LockedTarget) -> Artifact:
    """The file of `package` that `target` installs; raises ResolutionError when none fits."""
    # The tag order the solve ranked files with (solve/packages.py, solve/archs.py): the same Platform.
    platform = Platform.of(target.platform, python=target.python, glibc=target.glibc)
    best: tuple[int, Artifact] | None = None
    for art in package.artifacts:
        score = platform.wheel_rank(art.filename)
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
