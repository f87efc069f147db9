"""Which SASS architectures a locked torch build carries, for "GPU architectures gained and lost".

The lock pins the torch version, variant and platform of each target but not the architecture list
of the build; that fact lives in the knowledge base (`TorchBuild.sass`). The diff asks a
`SassLookup`, so it stays pure and works (without architecture lines) when no row is known.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from packaging.version import InvalidVersion, Version

from envlock.kb.knowledge import KnowledgeBase
from envlock.kb.model import ComputeCapability
from envlock.lock.model import LockedTarget


class SassLookup(Protocol):
    """Answers: which SASS architectures (`sm_XY`) does this target's locked torch build carry?"""

    def sass(self, target: LockedTarget) -> tuple[str, ...] | None:
        """The architectures, or None when unknown (no torch in the target, no row)."""
        ...


def _public(version: str) -> str:
    try:
        return Version(version).public
    except InvalidVersion:
        return version.partition("+")[0]


class KnowledgeBaseSass:
    """A `SassLookup` over the knowledge base's torch-build rows.

    A release the knowledge base does not list borrows the row of the newest older release of the
    same variant (status "inferred"), as the solver does; `cpu` builds carry no SASS.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb

    def sass(self, target: LockedTarget) -> tuple[str, ...] | None:
        if target.torch is None:
            return None
        try:
            build = self._kb.torch_build(_public(target.torch), target.variant, target.platform)
        except ValueError:  # a variant name the knowledge base cannot read
            return None
        if build is None:
            return None
        return tuple(c.sm for c in build.sass)


def runs_on(sass: Iterable[str], gpu: str) -> bool:
    """Whether a build with these cubins has one a GPU of capability `gpu` can run.

    A cubin for X.Y runs on X.Z with Z >= Y, never across majors (CUDA C++ Programming Guide,
    Binary Compatibility). Names that do not parse are ignored.
    """
    try:
        device = ComputeCapability.parse(gpu)
    except ValueError:
        return True  # not a capability we understand: make no claim
    for arch in sass:
        try:
            cubin = ComputeCapability.parse(arch)
        except ValueError:
            continue
        if cubin.major == device.major and cubin.minor <= device.minor:
            return True
    return False
