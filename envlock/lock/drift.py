"""Where the targets of one lock drift apart: different torch versions, minor-version fall-backs.

Teams that train on one kind of node and evaluate on another want one torch everywhere; these
notices say where a lock does not give that, naming the targets (`solve` and `diff` print them).
`[resolution] uniform = true` makes `solve` give one version instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.version import InvalidVersion, Version

from envlock.lock.model import LockedTarget


def _public(version: str) -> str:
    try:
        return Version(version).public
    except InvalidVersion:
        return version


def drift_warnings(targets: Sequence[LockedTarget]) -> list[str]:
    """Human notices, empty when every target has one torch and runs its CUDA natively."""
    out: list[str] = []
    torches: dict[str, list[str]] = {}
    for t in targets:
        if t.torch:
            torches.setdefault(_public(t.torch), []).append(t.name)
    if len(torches) > 1:
        parts = [
            f"{v} ({', '.join(names)})" for v, names in sorted(torches.items(), key=lambda i: Version(i[0]))
        ]
        out.append(
            "targets differ in torch: "
            + "; ".join(parts)
            + " (set [resolution] uniform = true for one version across targets)"
        )
    for t in targets:
        if t.compat == "minor-version":
            out.append(
                f"target {t.name} runs CUDA {t.cuda} through minor-version compatibility "
                f"(driver {t.driver}; some features, like PTX JIT, need a newer driver)"
            )
    return out
