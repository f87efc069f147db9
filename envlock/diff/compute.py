"""Compute the review of two locks: pure, no I/O; `diff_locks(old, new) -> LockDiff`.

Versions are compared with PEP 440 on their *public* part only. A local label names a build
flavour (`+cu124`, `+cpu`), and PEP 440 orders local labels as strings (`+cu92` above `+cu130`),
which says nothing about which CUDA is newer; so the same public version with another local label
is a "changed (local version)" entry, never an upgrade or a downgrade.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from packaging.version import InvalidVersion, Version

from envlock.diff.archs import SassLookup, runs_on
from envlock.diff.model import (
    KIND_ORDER,
    STACK_FIELDS,
    ChangeKind,
    DiffWarning,
    FileChange,
    LockDiff,
    LockSide,
    PackageChange,
    StackChange,
    TargetDiff,
    TargetStatus,
    ValueChange,
)
from envlock.errors import LockFormatError
from envlock.lock.digest import compute_content_hash, env_hash_problem
from envlock.lock.drift import drift_notices
from envlock.lock.model import (
    Artifact,
    Lock,
    LockedPackage,
    LockedTarget,
    LockInputs,
    TargetInputs,
    key_of,
)


def diff_locks(
    old: Lock,
    new: Lock,
    *,
    old_source: str = "old",
    new_source: str = "new",
    sass: SassLookup | None = None,
    hash_matches: tuple[bool, bool] | None = None,
) -> LockDiff:
    """The review of `old` -> `new`.

    Both locks must have the same lock-version (the reader brings older ones forward); otherwise
    LockFormatError. `sass` supplies the architecture
    lists of the locked torch builds; without it the diff has no architecture lines.
    `hash_matches` says, for old and new, whether the content hash matches the content, when the
    reader already checked it (`envlock.lock.read.parse_lock_unverified`); otherwise it is computed.
    """
    if old.lock_version != new.lock_version:
        raise LockFormatError(
            f"cannot compare lock-version {old.lock_version} ({old_source}) with lock-version "
            f"{new.lock_version} ({new_source})",
            hint="re-solve the older lock with this envlock so both have the same lock-version",
        )
    old_ok, new_ok = hash_matches if hash_matches is not None else (None, None)
    old_side = _side(old, old_source, old_ok)
    new_side = _side(new, new_source, new_ok)
    warnings: list[DiffWarning] = []
    for side in (old_side, new_side):
        if side.hand_edited:
            warnings.append(
                DiffWarning(
                    kind="hand-edited",
                    message=f"{side.source} was edited by hand: its content hash does not match its "
                    "content (`envlock check` fails on it)",
                )
            )
    for source, lock in ((old_source, old), (new_source, new)):
        for t in lock.targets:
            problem = env_hash_problem(t)
            if problem is not None:
                warnings.append(
                    DiffWarning(
                        kind="env-hash-mismatch",
                        message=f"{source}: {problem}: the packages were changed after solving; "
                        "`envlock install` refuses this lock",
                        target=t.name,
                    )
                )

    # Targets of the new lock that drift apart (other torch versions, minor-version compatibility),
    # where the change brought that about: a notice the old lock already had is not repeated.
    before = set(drift_notices(old.targets))
    for notice in drift_notices(new.targets):
        if notice not in before:
            warnings.append(DiffWarning(kind=notice.kind, message=notice.message, target=notice.target))

    old_targets = {t.name: t for t in old.targets}
    new_targets = {t.name: t for t in new.targets}
    targets: list[TargetDiff] = []
    for t in new.targets:
        targets.append(_target_diff(old_targets.get(t.name), t, sass, warnings))
    for t in old.targets:
        if t.name not in new_targets:
            targets.append(_target_diff(t, None, sass, warnings))

    return LockDiff(
        old=old_side,
        new=new_side,
        lock=_lock_changes(old, new),
        inputs=_input_changes(old.inputs, new.inputs),
        targets=tuple(targets),
        warnings=tuple(warnings),
    )


def _side(lock: Lock, source: str, hash_matches: bool | None) -> LockSide:
    if hash_matches is None:
        hash_matches = compute_content_hash(lock) == lock.content_hash
    return LockSide(
        source=source,
        lock_version=lock.lock_version,
        envlock_version=lock.envlock_version,
        content_hash=lock.content_hash,
        hand_edited=not hash_matches,
    )


def _changed(pairs: Sequence[tuple[str, str | None, str | None]]) -> tuple[ValueChange, ...]:
    return tuple(ValueChange(field=f, old=o, new=n) for f, o, n in pairs if o != n)


def _lock_changes(old: Lock, new: Lock) -> tuple[ValueChange, ...]:
    old_order = [t.name for t in old.targets]
    new_order = [t.name for t in new.targets]
    common = set(old_order) & set(new_order)
    old_common = [n for n in old_order if n in common]
    new_common = [n for n in new_order if n in common]
    return _changed(
        [
            ("lock-version", str(old.lock_version), str(new.lock_version)),
            ("envlock-version", old.envlock_version, new.envlock_version),
            ("uv-version", old.uv_version, new.uv_version),
            ("spec-hash", old.spec_hash, new.spec_hash),
            ("target-order", ", ".join(old_common), ", ".join(new_common)),
        ]
    )


# ------------------------------------------------------------------------------------ spec inputs


def _join(values: Sequence[str]) -> str:
    return ", ".join(values)


def _bool(value: bool) -> str:
    return "true" if value else "false"


# A requirement that is only a name and version comparisons ("torch>=2.5,<2.6", "numpy") is named
# here; anything else (extras, markers, URLs, wildcards) goes to packaging, whose requirements
# module costs more to import than the rest of a diff of two 500-package locks.
_SIMPLE_REQUIREMENT = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    r"(?:{clause}(?:[ \t]*,{clause})*)?".format(
        clause=r"[ \t]*(?:[<>]=?|[=!]=)[ \t]*[0-9]+(?:\.[0-9]+)*[ \t]*"
    )
)
_NAME_SEPARATORS = re.compile(r"[-_.]+")


def _requirement_name(text: str) -> str | None:
    """The normalized project name of a requirement (PEP 503), or None when it is not one."""
    simple = _SIMPLE_REQUIREMENT.fullmatch(text)
    if simple is not None:
        name = simple.group("name")
    else:
        from packaging.requirements import Requirement

        try:
            name = Requirement(text).name
        except ValueError:  # InvalidRequirement, and InvalidSpecifier, which it does not always wrap
            return None
    return _NAME_SEPARATORS.sub("-", name).lower()


def _dependency_changes(old: Sequence[str], new: Sequence[str]) -> list[ValueChange]:
    """Removed and added requirement strings, paired into one change when they name one project."""
    removed = [d for d in old if d not in new]
    added = [d for d in new if d not in old]

    def by_name(items: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for d in items:
            out.setdefault(_requirement_name(d) or d, []).append(d)
        return out

    r_names, a_names = by_name(removed), by_name(added)
    changes: list[ValueChange] = []
    for name in sorted(set(r_names) | set(a_names)):
        olds, news = r_names.get(name, []), a_names.get(name, [])
        if len(olds) == 1 and len(news) == 1:
            changes.append(ValueChange(field=f"dependencies[{name}]", old=olds[0], new=news[0]))
            continue
        changes += [ValueChange(field=f"dependencies[{name}]", old=o, new=None) for o in olds]
        changes += [ValueChange(field=f"dependencies[{name}]", old=None, new=n) for n in news]
    return changes


def _target_input_summary(t: TargetInputs) -> str:
    gpus = _join(t.gpus) if t.gpus else "no GPUs"
    driver = f", driver {t.driver}" if t.driver else ""
    return f"{t.platform}, glibc {t.glibc}, {gpus}{driver}"


# The inputs a review lists after name, python and dependencies, under their lock keys.
_REVIEWED_INPUTS = (
    "cuda_version",
    "cudnn",
    "nccl",
    "driver_compat",
    "allow_ptx",
    "default_index",
    "pytorch_index",
    "extra_indexes",
    "exclude_newer",
    "knowledge_base",
)
# A target's other values a review lists (besides `held`), under their lock keys.
_REVIEWED_TARGET = ("env_hash", "kb_status", "archs_source", "requires_driver_from")


def _shown(value: object) -> str | None:
    """A lock value as a review line shows it: true/false, a list joined with ", "."""
    if isinstance(value, bool):
        return _bool(value)
    if isinstance(value, tuple):
        return _join(value)
    return value if value is None else str(value)


def _input_changes(old: LockInputs, new: LockInputs) -> tuple[ValueChange, ...]:
    changes: list[ValueChange] = list(
        _changed(
            [
                ("name", old.name, new.name),
                ("python", old.python, new.python),
            ]
        )
    )
    changes += _dependency_changes(old.dependencies, new.dependencies)
    changes += _changed(
        [
            (key_of(LockInputs, f).key, _shown(getattr(old, f)), _shown(getattr(new, f)))
            for f in _REVIEWED_INPUTS
        ]
    )
    old_t = {t.name: t for t in old.targets}
    new_t = {t.name: t for t in new.targets}
    for name in [t.name for t in new.targets] + [t.name for t in old.targets if t.name not in new_t]:
        o, n = old_t.get(name), new_t.get(name)
        if o is None or n is None:
            changes.append(
                ValueChange(
                    field=f"targets[{name}]",
                    old=_target_input_summary(o) if o else None,
                    new=_target_input_summary(n) if n else None,
                )
            )
            continue
        changes += _changed(
            [
                (f"targets[{name}].platform", o.platform, n.platform),
                (f"targets[{name}].glibc", o.glibc, n.glibc),
                (f"targets[{name}].gpus", _join(o.gpus), _join(n.gpus)),
                (f"targets[{name}].driver", o.driver, n.driver),
            ]
        )
    old_order = [t.name for t in old.targets if t.name in new_t]
    new_order = [t.name for t in new.targets if t.name in old_t]
    if old_order != new_order:
        changes.append(ValueChange(field="targets.order", old=_join(old_order), new=_join(new_order)))
    return tuple(changes)


# ----------------------------------------------------------------------------------------- targets


def _held(t: LockedTarget) -> str | None:
    return ", ".join(f"{h.name}=={h.version}" for h in t.held) or None


def _reviewed(t: LockedTarget) -> tuple[LockedPackage, ...]:
    """The packages a review lists: PyPI packages, toolkit components, and conda packages (as
    `conda:<name>`, so they never clash with a PyPI name; a new build of one version is a file change)."""
    conda = tuple(
        LockedPackage(name=f"conda:{c.name}", version=c.version, index=c.channel, artifacts=(c.artifact,))
        for c in t.conda
    )
    return (*t.packages, *t.toolkit, *conda)


def _stack_values(t: LockedTarget | None) -> dict[str, str | None]:
    if t is None:
        return {}
    return {
        "variant": t.variant,
        "torch": t.torch,
        "cuda": t.cuda,
        "cudnn": t.cudnn,
        "nccl": t.nccl,
        "toolkit": t.toolkit_release,
        "requires-driver": t.requires_driver,
        "compat": t.compat,
        "gpus": _join(t.gpus) or None,
        "driver": t.driver,
        "python": t.python,
        "platform": t.platform,
        "glibc": t.glibc,
    }


def _stack(
    old: LockedTarget | None,
    new: LockedTarget | None,
    lookup: SassLookup | None,
) -> StackChange:
    ov, nv = _stack_values(old), _stack_values(new)
    fields = tuple(ValueChange(field=f, old=ov.get(f), new=nv.get(f)) for f in STACK_FIELDS)
    sass_old = lookup.sass(old) if lookup and old else None
    sass_new = lookup.sass(new) if lookup and new else None
    lost: tuple[str, ...] = ()
    if old is not None and new is not None and sass_old is not None and sass_new is not None:
        lost = tuple(g for g in new.gpus if runs_on(sass_old, g) and not runs_on(sass_new, g))
    return StackChange(fields=fields, sass_old=sass_old, sass_new=sass_new, kernels_lost=lost)


def _size(p: LockedPackage | None) -> int:
    return sum(a.size for a in p.artifacts) if p else 0


def _download(t: LockedTarget | None) -> int:
    return sum(_size(p) for p in t.packages) if t else 0


def _target_diff(
    old: LockedTarget | None,
    new: LockedTarget | None,
    lookup: SassLookup | None,
    warnings: list[DiffWarning],
) -> TargetDiff:
    either = new or old
    assert either is not None
    status: TargetStatus
    if old is None:
        status = "added"
    elif new is None:
        status = "removed"
    else:
        status = "changed"
    stack = _stack(old, new, lookup)
    packages = _package_changes(old, new, either.name, warnings)
    for gpu in stack.kernels_lost:
        warnings.append(
            DiffWarning(
                kind="kernels-lost",
                target=either.name,
                message=f"{either.name}: the new torch build has no kernel (SASS) for this target's "
                f"{gpu} GPUs; the old one had",
            )
        )
    other: tuple[ValueChange, ...] = ()
    rejected: tuple[ValueChange, ...] = ()
    if old is not None and new is not None:
        other = _changed(
            [
                *(
                    (key_of(LockedTarget, f).key, _shown(getattr(old, f)), _shown(getattr(new, f)))
                    for f in _REVIEWED_TARGET
                ),
                ("held", _held(old), _held(new)),
            ]
        )
        rejected = _rejection_changes(old, new)
    diff = TargetDiff(
        name=either.name,
        status=status,
        stack=stack,
        packages=packages,
        download_old=_download(old),
        download_new=_download(new),
        other=other,
        rejected=rejected,
    )
    if status == "changed" and diff.stack.empty and not packages and not other and not rejected:
        return TargetDiff(
            name=diff.name,
            status="unchanged",
            stack=stack,
            packages=(),
            download_old=diff.download_old,
            download_new=diff.download_new,
        )
    return diff


def _rejection_text(reason: str, fix: str | None) -> str:
    return f"{reason} (fix: {fix})" if fix else reason


def _rejection_changes(old: LockedTarget, new: LockedTarget) -> tuple[ValueChange, ...]:
    o = {r.variant: _rejection_text(r.reason, r.fix) for r in old.rejected}
    n = {r.variant: _rejection_text(r.reason, r.fix) for r in new.rejected}
    order = [r.variant for r in new.rejected] + [r.variant for r in old.rejected if r.variant not in n]
    changes = _changed([(v, o.get(v), n.get(v)) for v in order])
    if not changes and list(o) != list(n):
        changes = (ValueChange(field="order", old=_join(list(o)), new=_join(list(n))),)
    return changes


# ---------------------------------------------------------------------------------------- packages


def _package_changes(
    old: LockedTarget | None,
    new: LockedTarget | None,
    target: str,
    warnings: list[DiffWarning],
) -> tuple[PackageChange, ...]:
    # toolkit components are reviewed like packages (their names cannot clash: cuda_nvcc, libcublas)
    old_p = {p.name: p for p in _reviewed(old)} if old else {}
    new_p = {p.name: p for p in _reviewed(new)} if new else {}
    changes: list[PackageChange] = []
    for name in sorted(set(old_p) | set(new_p)):
        change = _package_change(old_p.get(name), new_p.get(name), target, warnings)
        if change is not None:
            changes.append(change)
    changes.sort(key=lambda c: (KIND_ORDER.index(c.kind), c.name))
    return tuple(changes)


def compare_versions(old: str, new: str) -> tuple[ChangeKind, tuple[str, ...]] | None:
    """How `new` relates to `old`: upgraded / downgraded by public version, else changed, else None.

    The local label never decides the direction (see the module docstring); a different local
    label adds the reason "local version". Versions that are not PEP 440 compare as strings only
    for equality.
    """
    if old == new:
        return None
    try:
        vo, vn = Version(old), Version(new)
    except InvalidVersion:
        return None if old == new else ("changed", ("version",))
    local = ("local version",) if vo.local != vn.local else ()
    po, pn = Version(vo.public), Version(vn.public)
    if pn > po:
        return "upgraded", local
    if pn < po:
        return "downgraded", local
    if local:
        return "changed", local
    if old != new:
        return "changed", ("version",)
    return None


def _file_changes(old: Sequence[Artifact], new: Sequence[Artifact]) -> tuple[FileChange, ...]:
    o = {a.filename: a for a in old}
    n = {a.filename: a for a in new}
    out: list[FileChange] = []
    for name in sorted(set(o) | set(n)):
        a, b = o.get(name), n.get(name)
        if a is None and b is not None:
            out.append(FileChange(file=name, change="added", new=b.sha256))
            continue
        if b is None and a is not None:
            out.append(FileChange(file=name, change="removed", old=a.sha256))
            continue
        assert a is not None and b is not None
        pairs: list[tuple[str, str | None, str | None]] = [
            ("hash", a.sha256, b.sha256),
            ("size", str(a.size), str(b.size)),
            ("url", a.url, b.url),
            ("yanked", _bool(a.yanked), _bool(b.yanked)),
            ("hash-source", a.hash_source, b.hash_source),
            ("upload-time", a.upload_time, b.upload_time),
        ]
        out += [FileChange(file=name, change=k, old=x, new=y) for k, x, y in pairs if x != y]
    if not out and [a.filename for a in old] != [a.filename for a in new]:
        out.append(
            FileChange(
                file="",
                change="order",
                old=_join([a.filename for a in old]),
                new=_join([a.filename for a in new]),
            )
        )
    return tuple(out)


_FILE_REASON = {
    "added": "artifact",
    "removed": "artifact",
    "url": "artifact",
    "size": "artifact",
    "order": "artifact",
    "hash": "hash",
    "yanked": "yanked",
    "hash-source": "metadata",
    "upload-time": "metadata",
}
_REASON_ORDER = ("version", "local version", "index", "artifact", "hash", "yanked", "metadata")


def _origin(p: LockedPackage) -> str:
    """Where a package comes from, as the review shows it: its index, or for a direct reference its
    source (`path wheels/x.whl`, `git https://...@<commit> (built)`), so a moved commit shows."""
    return p.source.describe() if p.source is not None else p.index


def _package_change(
    old: LockedPackage | None,
    new: LockedPackage | None,
    target: str,
    warnings: list[DiffWarning],
) -> PackageChange | None:
    if old == new:
        return None
    if old is None or new is None:
        p = new or old
        assert p is not None
        return PackageChange(
            name=p.name,
            kind="added" if old is None else "removed",
            old_version=old.version if old else None,
            new_version=new.version if new else None,
            old_index=_origin(old) if old else None,
            new_index=_origin(new) if new else None,
            old_size=_size(old),
            new_size=_size(new),
        )
    version = compare_versions(old.version, new.version)
    reasons: set[str] = set(version[1]) if version else set()
    if _origin(old) != _origin(new):
        reasons.add("index")
    files: tuple[FileChange, ...] = ()
    if old.version == new.version:
        files = _file_changes(old.artifacts, new.artifacts)
        reasons |= {_FILE_REASON[f.change] for f in files}
        for f in files:
            if f.change == "hash":
                warnings.append(
                    DiffWarning(
                        kind="hash-changed",
                        target=target,
                        package=new.name,
                        message=f"{target}: {new.name} {new.version}: {f.file} has another sha256 "
                        f"({_short(f.old)} -> {_short(f.new)}) while its version did not change; "
                        "check where the new file came from before merging",
                    )
                )
            elif f.change == "yanked" and f.new == "true":
                warnings.append(
                    DiffWarning(
                        kind="yanked",
                        target=target,
                        package=new.name,
                        message=f"{target}: {new.name} {new.version}: {f.file} is yanked on its index",
                    )
                )
    if version is None and not reasons:
        return None
    kind: ChangeKind = version[0] if version else "changed"
    return PackageChange(
        name=new.name,
        kind=kind,
        old_version=old.version,
        new_version=new.version,
        old_index=_origin(old),
        new_index=_origin(new),
        old_size=_size(old),
        new_size=_size(new),
        reasons=tuple(r for r in _REASON_ORDER if r in reasons),
        files=files,
    )


def _short(sha: str | None) -> str:
    return (sha or "")[:12]
