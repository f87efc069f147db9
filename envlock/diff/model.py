"""The difference between two locks as frozen values, computed once and rendered many ways.

`envlock.diff.compute.diff_locks` builds a `LockDiff`; `envlock.diff.render` turns it into text,
Markdown or JSON. Nothing here reads files or prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ChangeKind = Literal["added", "removed", "upgraded", "downgraded", "changed"]
KIND_ORDER: tuple[ChangeKind, ...] = ("added", "removed", "upgraded", "downgraded", "changed")

TargetStatus = Literal["added", "removed", "changed", "unchanged"]

# The CUDA-stack fields of a target, in the order a reviewer reads them (the lock's own key names).
STACK_FIELDS: tuple[str, ...] = (
    "variant",
    "torch",
    "cuda",
    "cudnn",
    "nccl",
    "toolkit",
    "requires-driver",
    "compat",
    "gpus",
    "driver",
    "python",
    "platform",
    "glibc",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ValueChange:
    """One named value before and after; `None` means absent on that side."""

    field: str
    old: str | None
    new: str | None

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass(frozen=True, slots=True, kw_only=True)
class FileChange:
    """One artifact of a package that differs, matched by file name.

    `change` is one of: added, removed, hash, size, url, yanked, hash-source, upload-time.
    """

    file: str
    change: str
    old: str | None = None
    new: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageChange:
    """A package of one target that differs between the locks.

    `reasons` says what changed for kind "changed" (and extra facts for the others): "version"
    (same version, other spelling), "local version" (+cu124 -> +cu128 on the same public version),
    "index", "artifact" (files added, removed, moved or resized), "hash" (same file name, other
    sha256: a supply-chain warning), "yanked", "metadata" (hash source, upload time).
    """

    name: str
    kind: ChangeKind
    old_version: str | None
    new_version: str | None
    old_index: str | None = None
    new_index: str | None = None
    old_size: int = 0
    new_size: int = 0
    reasons: tuple[str, ...] = ()
    files: tuple[FileChange, ...] = ()

    @property
    def size_delta(self) -> int:
        return self.new_size - self.old_size


@dataclass(frozen=True, slots=True, kw_only=True)
class StackChange:
    """The CUDA stack of one target on both sides.

    `fields` holds every field of STACK_FIELDS (changed or not); `gpus` values are joined with
    ", ". `sass_old`/`sass_new` are the SASS architectures the locked torch build carries, or
    None when no knowledge-base row says so. `kernels_lost` names target GPUs (sm_XY) that had a
    compatible kernel before and have none now.
    """

    fields: tuple[ValueChange, ...]
    sass_old: tuple[str, ...] | None = None
    sass_new: tuple[str, ...] | None = None
    kernels_lost: tuple[str, ...] = ()

    def get(self, name: str) -> ValueChange:
        for f in self.fields:
            if f.field == name:
                return f
        raise KeyError(name)

    @property
    def changed(self) -> tuple[ValueChange, ...]:
        return tuple(f for f in self.fields if f.changed)

    @property
    def sass_known(self) -> bool:
        return self.sass_old is not None and self.sass_new is not None

    @property
    def sass_gained(self) -> tuple[str, ...]:
        if self.sass_old is None or self.sass_new is None:
            return ()
        return _sorted_archs(set(self.sass_new) - set(self.sass_old))

    @property
    def sass_lost(self) -> tuple[str, ...]:
        if self.sass_old is None or self.sass_new is None:
            return ()
        return _sorted_archs(set(self.sass_old) - set(self.sass_new))

    @property
    def empty(self) -> bool:
        return not self.changed and not self.sass_gained and not self.sass_lost


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetDiff:
    """Everything that differs for one target name.

    For an added target every package is "added" and the stack's old values are None; the
    reverse for a removed one. `other` holds changed non-stack values (env-hash,
    knowledge-base-row); `rejected` holds changed reasons of rejected variants (field = variant).
    """

    name: str
    status: TargetStatus
    stack: StackChange
    packages: tuple[PackageChange, ...]  # sorted by KIND_ORDER, then name
    download_old: int
    download_new: int
    other: tuple[ValueChange, ...] = ()
    rejected: tuple[ValueChange, ...] = ()

    @property
    def download_delta(self) -> int:
        return self.download_new - self.download_old

    def of_kind(self, kind: ChangeKind) -> tuple[PackageChange, ...]:
        return tuple(p for p in self.packages if p.kind == kind)

    @property
    def empty(self) -> bool:
        return (
            self.status == "unchanged"
            and self.stack.empty
            and not self.packages
            and not self.other
            and not self.rejected
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffWarning:
    """Something a reviewer must look at whatever else changed.

    `kind`: "hand-edited" (content hash does not match), "hash-changed" (a file's sha256 changed
    while its version did not), "yanked" (a locked file is now marked yanked), "kernels-lost" (a
    target GPU no longer has a kernel in the locked build), "env-hash-mismatch" (a target's env-hash is
    not the one its packages give: the packages were changed after solving), "torch-differs" (the new
    lock's targets lock different torch versions), "minor-version" (a target of the new lock runs its
    CUDA through minor-version compatibility); these two only where the old lock did not say the same.
    """

    kind: str
    message: str
    target: str | None = None
    package: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LockSide:
    """Where one side of the diff came from and what its header says."""

    source: str  # a path or "REV:path" as the user gave it
    lock_version: int
    envlock_version: str
    content_hash: str
    hand_edited: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LockDiff:
    """The review of OLD -> NEW.

    `lock` holds changed lock-level values (lock-version, envlock-version, uv-version,
    spec-hash, target-order); `inputs` the spec inputs that changed, keyed like
    `dependencies[torch]` or `targets[h100].driver`. `targets` lists the new lock's targets in
    its order, then removed targets in the old lock's order.
    """

    old: LockSide
    new: LockSide
    lock: tuple[ValueChange, ...]
    inputs: tuple[ValueChange, ...]
    targets: tuple[TargetDiff, ...]
    warnings: tuple[DiffWarning, ...]

    @property
    def empty(self) -> bool:
        """True when the locks say the same thing (warnings such as hand edits do not count)."""
        return not self.lock and not self.inputs and all(t.empty for t in self.targets)

    def target(self, name: str) -> TargetDiff | None:
        for t in self.targets:
            if t.name == name:
                return t
        return None


def _arch_key(arch: str) -> tuple[int, str]:
    digits = "".join(c for c in arch.removeprefix("sm_").removeprefix("compute_") if c.isdigit())
    return (int(digits) if digits else 0, arch)


def _sorted_archs(archs: set[str]) -> tuple[str, ...]:
    """sm_50 < sm_90 < sm_100 (numeric, not string order)."""
    return tuple(sorted(archs, key=_arch_key))
