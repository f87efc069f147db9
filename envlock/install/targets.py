"""Which lock target this node runs: by name, or `auto` from the detected GPUs and driver.

The node is judged by `envlock.node.fit` (the same checks and verdicts as `doctor`; its docstring
holds the rules). `auto` takes the target whose declared GPUs match the node best (exactly, then
covering them with the fewest extra archs, then lock order), never a CPU-only target on a node with
GPUs unless the lock has no GPU target at all (then with a warning). A lock with a single target and
no `--target` is judged the same way. A target named with `--target NAME` is judged too and refused
when it does not fit, unless the caller passes `force` (`install --no-node-check`: build a target on
a node that will not run it, e.g. to fill a shared store from a login node), which turns the refusal
into warnings. When nothing fits, the error names the closest target and what it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from envlock.errors import IncompatibleNodeError, UsageError
from envlock.lock.model import Lock, LockedTarget

if TYPE_CHECKING:
    from envlock.kb.knowledge import KnowledgeBase
    from envlock.node.fit import FitChoice, TargetFit
    from envlock.node.model import NodeInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetChoice:
    """The chosen target and what to warn the user about (warnings of its fit, notes of the choice)."""

    target: LockedTarget
    warnings: tuple[str, ...] = ()
    why: str = ""  # for `auto`: why this target won


def _warnings(fit: TargetFit, notes: tuple[str, ...] = ()) -> tuple[str, ...]:
    return (*notes, *(f"{fit.target.name}: {c.message}" for c in fit.warnings))


def _refuse(choice: FitChoice, node: NodeInfo, source: str) -> IncompatibleNodeError:
    from envlock.node.fit import describe_node

    closest = choice.fit
    lines = [f"  {f.target.name}: " + "; ".join(f.missing) for f in choice.judged]
    return IncompatibleNodeError(
        f"no target of {source} fits this node ({describe_node(node)}); closest is "
        f"{closest.target.name}: " + "; ".join(closest.missing),
        hint="every target and what it lacks here:\n"
        + "\n".join(lines)
        + "\nset ENVLOCK_GPUS / ENVLOCK_DRIVER if detection is wrong, or add a target for this node",
        details={
            "closest": closest.target.name,
            "targets": {f.target.name: list(f.missing) for f in choice.judged},
            "node": describe_node(node),
        },
    )


def choose_auto(lock: Lock, node: NodeInfo, kb: KnowledgeBase, *, source: str) -> TargetChoice:
    """The target for `--target auto`; raises IncompatibleNodeError naming the closest target."""
    from envlock.node.fit import choose_fit

    if not lock.targets:
        raise UsageError(f"{source}: the lock has no targets", hint="re-solve the spec")
    choice = choose_fit(lock, node, kb, source=source)
    if choice.how != "auto":
        raise _refuse(choice, node, source)
    return TargetChoice(target=choice.target, warnings=_warnings(choice.fit, choice.notes), why=choice.why)


def check_named(
    lock: Lock, target: LockedTarget, node: NodeInfo, kb: KnowledgeBase, *, source: str, force: bool = False
) -> TargetChoice:
    """Judge a target the user named; IncompatibleNodeError when it does not fit, unless `force`."""
    from envlock.node.fit import describe_node, judge_fit

    fit = judge_fit(target, node, kb, allow_ptx=lock.inputs.allow_ptx)
    if fit.fits:
        return TargetChoice(target=target, warnings=_warnings(fit))
    if force:
        return TargetChoice(
            target=target,
            warnings=tuple(f"{target.name} does not fit this node: {m}" for m in fit.missing)
            + _warnings(fit),
        )
    raise IncompatibleNodeError(
        f"target {target.name} of {source} does not fit this node ({describe_node(node)}): "
        + "; ".join(fit.missing),
        hint="\n".join(c.hint for c in fit.failures if c.hint)
        + "\nset ENVLOCK_GPUS / ENVLOCK_DRIVER if detection is wrong; `install --no-node-check` builds it "
        "anyway (e.g. to fill a shared store from a login node)",
        details={
            "target": target.name,
            "targets": {target.name: list(fit.missing)},
            "node": describe_node(node),
        },
    )


def choose_target(
    lock: Lock,
    choice: str | None,
    *,
    source: str,
    force: bool = False,
    node: NodeInfo | None = None,
    kb: KnowledgeBase | None = None,
) -> TargetChoice:
    """The target named `choice`, judged against this node; `auto` (or `None`) chooses one.

    `node` and `kb` default to the detected node and `load_kb()` (which reads ENVLOCK_KB).
    """
    named: LockedTarget | None = None
    if choice is not None and choice != "auto":
        named = lock.require_target(
            choice, source=source, hint="pass one of those names to --target, or --target auto"
        )
    if kb is None:
        kb = cast("KnowledgeBase", _KnowledgeBaseOnUse())
    if node is None:
        from envlock.node import detect_node

        node = detect_node()
    if named is not None:
        return check_named(lock, named, node, kb, source=source, force=force)
    return choose_auto(lock, node, kb, source=source)


class _KnowledgeBaseOnUse:
    """The knowledge base, loaded (`load_kb()`) when first used: judging a CPU target, or any target
    on a node without GPUs, never asks it anything, so a store hit there does not pay for loading it."""

    def __getattr__(self, name: str) -> object:
        from envlock.kb.loader import load_kb

        return getattr(load_kb(), name)


def lookup_target(lock: Lock, name: str, *, source: str) -> LockedTarget:
    """The target called `name`, unjudged (for `fetch`, which runs where the target need not)."""
    return lock.require_target(name, source=source)
