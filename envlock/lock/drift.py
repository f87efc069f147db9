"""Where the targets of one lock drift apart: different torch versions, minor-version fall-backs.

Teams that train on one kind of node and evaluate on another want one torch everywhere; these
notices say where a lock does not give that, naming the targets (`solve` and `diff` show them).
`[resolution] uniform = true` makes `solve` give one version instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from envlock.lock.model import LockedTarget


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftNotice:
    """One notice. `kind`: "torch-differs" (targets lock different torch versions) or
    "minor-version" (`target` runs its CUDA through minor-version compatibility)."""

    kind: str
    message: str
    target: str | None = None


def _public(version: str) -> str:
    try:
        return Version(version).public
    except InvalidVersion:
        return version


def _order(version: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)


def drift_notices(targets: Sequence[LockedTarget]) -> list[DriftNotice]:
    """The notices for a lock's targets; empty when every target has one torch and runs natively."""
    out: list[DriftNotice] = []
    torches: dict[str, list[str]] = {}
    for t in targets:
        if t.torch:
            torches.setdefault(_public(t.torch), []).append(t.name)
    if len(torches) > 1:
        parts = [
            f"{v} ({', '.join(names)})" for v, names in sorted(torches.items(), key=lambda i: _order(i[0]))
        ]
        out.append(
            DriftNotice(
                kind="torch-differs",
                message="targets differ in torch: "
                + "; ".join(parts)
                + " (set [resolution] uniform = true for one version across targets)",
            )
        )
    for t in targets:
        if t.compat == "minor-version":
            out.append(
                DriftNotice(
                    kind="minor-version",
                    target=t.name,
                    message=f"target {t.name} runs CUDA {t.cuda} through minor-version compatibility "
                    f"(driver {t.driver}; some features, like PTX JIT, need a newer driver)",
                )
            )
    return out


def drift_warnings(targets: Sequence[LockedTarget]) -> list[str]:
    """The messages of `drift_notices`."""
    return [n.message for n in drift_notices(targets)]
