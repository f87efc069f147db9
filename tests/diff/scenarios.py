"""The pairs of locks the golden tests render: each a review situation a user meets in a PR."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from envlock.lock.model import Lock, Rejection

from .conftest import COMMON, DEFAULT_INDEX, make_lock, torch_target, wheel, with_packages

OLD_SOURCE = "main:locks/vit/envlock.lock"
NEW_SOURCE = "locks/vit/envlock.lock"


def torch_upgrade() -> tuple[Lock, Lock]:
    """torch 2.5.1 -> 2.7.0 on every target; the GPU targets move cu124 -> cu128 (drops sm_50..70)."""
    old = make_lock(
        torch_target(
            "h100",
            "2.5.1+cu124",
            gpus=["sm_90"],
            rejected=[Rejection(variant="cu118", reason="lower CUDA than cu124")],
        ),
        torch_target("a100", "2.5.1+cu124", gpus=["sm_80"]),
        torch_target("login", "2.5.1+cpu"),
        dependencies=("torch>=2.5,<2.6", "numpy<2"),
    )
    new = make_lock(
        torch_target(
            "h100",
            "2.7.0+cu128",
            gpus=["sm_90"],
            compat="minor-version",
            rejected=[
                Rejection(variant="cu118", reason="lower CUDA than cu128"),
                Rejection(variant="cu126", reason="lower CUDA than cu128"),
            ],
        ),
        torch_target("a100", "2.7.0+cu128", gpus=["sm_80"], compat="minor-version"),
        torch_target("login", "2.7.0+cpu"),
        dependencies=("torch>=2.7,<2.8", "numpy<2"),
    )
    return old, new


def hash_only() -> tuple[Lock, Lock]:
    """Nothing was upgraded, but numpy's wheel now has another sha256: a supply-chain warning."""
    old = make_lock(torch_target("h100", "2.5.1+cu124"))
    t = old.targets[0]
    version, size = COMMON["numpy"]
    swapped = wheel("numpy", version, index=DEFAULT_INDEX, size=size, tag="py3-none-any", salt="re-uploaded")
    new = make_lock(with_packages(t, swapped))
    return old, new


def target_added() -> tuple[Lock, Lock]:
    """A B200 partition joins the cluster: a new target on cu128."""
    deps = ("torch>=2.5,<2.8", "numpy<2")
    h100 = torch_target("h100", "2.5.1+cu124")
    old = make_lock(h100, dependencies=deps)
    b200 = torch_target("b200", "2.7.0+cu128", gpus=["sm_100"], driver="570.86.15")
    new = make_lock(h100, b200, dependencies=deps)
    return old, new


def downgrade() -> tuple[Lock, Lock]:
    """numpy 2 -> 1.26 (a pin), torch stays 2.7.0 but moves from +cu128 to +cu126."""
    numpy2 = {**COMMON, "numpy": ("2.1.3", 16_500_000)}
    old = make_lock(
        torch_target("h100", "2.7.0+cu128", common=numpy2, driver="570.86.15"),
        dependencies=("torch>=2.7,<2.8", "numpy"),
    )
    new = make_lock(
        torch_target("h100", "2.7.0+cu126", driver="570.86.15"),
        dependencies=("torch>=2.7,<2.8", "numpy<2"),
    )
    return old, new


def unchanged() -> tuple[Lock, Lock]:
    """The same lock on both sides: an empty review."""
    lock = make_lock(torch_target("h100", "2.5.1+cu124"), torch_target("login", "2.5.1+cpu"))
    return lock, replace(lock)


SCENARIOS: dict[str, Callable[[], tuple[Lock, Lock]]] = {
    "torch_upgrade": torch_upgrade,
    "hash_only": hash_only,
    "target_added": target_added,
    "downgrade": downgrade,
    "unchanged": unchanged,
}
