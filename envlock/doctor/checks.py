"""The checks of `doctor`: one verdict per question, judged from the node, the lock and the KB.

Pure: `judge` takes a detected node (envlock.node), a lock target and the knowledge base and returns
data; the CLI prints it. The questions (architecture.md §10):

* platform: the target's platform is this node's;
* driver: the driver runs the locked CUDA natively, only through minor-version compatibility, or not
  at all (`envlock.kb.rules.driver_verdict`);
* gpu N: each GPU's compute capability has a cubin in the locked torch build (the KB row for the
  target's torch release and variant), or PTX when the spec allowed it and the driver is native;
* gpu limits: each GPU's own driver range (Blackwell's floor, the last branch of older GPUs);
* glibc: the node's glibc is at least what every locked wheel's manylinux tag asks for;
* environment (when an installed environment is given): its real CUDA libraries carry code for
  these GPUs, and where they disagree with the knowledge base, the KB is reported wrong.

The node checks (platform, driver, GPUs, GPU limits, glibc) and the choice of a target without
`--target` are `envlock.node.fit`'s, the very ones `install` uses, so the two never disagree: the
target `envlock.node.fit.choose_fit` prefers (declared GPUs matching the node best, a GPU target on a
node with GPUs), else the closest one (fewest failures).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envlock.errors import UsageError
from envlock.inspect.verify import LibraryGap, disagreement_with_kb, verify_environment
from envlock.kb.model import ComputeCapability
from envlock.lock.model import Lock, LockedTarget
from envlock.node.fit import (
    FAIL,
    OK,
    WARN,
    Check,
    choose_fit,
    is_gpu_target,
    judge_fit,
)
from envlock.node.model import NodeInfo

if TYPE_CHECKING:
    from envlock.kb.knowledge import KnowledgeBase
    from envlock.store.record import EnvRecord
    from envlock.store.verify import Verification

__all__ = ["FAIL", "OK", "WARN", "Check", "DoctorReport", "diagnose", "is_gpu_target", "judge"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DoctorReport:
    """Whether `node` can run lock target `target`, check by check.

    `chosen` says how the target was picked: "named" (--target), "auto" (chosen by the fit rules) or
    "closest" (none fits; this one fails fewest checks). `others` maps every other target judged to
    its failures; `notes` says what the choice itself warns about.
    """

    target: LockedTarget
    node: NodeInfo
    checks: tuple[Check, ...]
    chosen: str
    others: tuple[tuple[str, tuple[str, ...]], ...] = ()
    notes: tuple[str, ...] = ()
    why: str = ""  # when chosen "auto": why this target won

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == FAIL)

    def with_checks(self, extra: Sequence[Check]) -> DoctorReport:
        return DoctorReport(
            target=self.target, node=self.node, checks=(*self.checks, *extra), chosen=self.chosen,
            others=self.others, notes=self.notes, why=self.why,
        )  # fmt: skip


def _torch_release(target: LockedTarget) -> str | None:
    if target.torch is None:
        return None
    return target.torch.split("+", 1)[0]


def archs_text(gaps: Sequence[LibraryGap]) -> str:
    return " ".join(sorted({g.gpu.sm for g in gaps}))


def _environment_checks(
    env_root: Path, target: LockedTarget, node: NodeInfo, kb: KnowledgeBase, *, native: bool, allow_ptx: bool
) -> list[Check]:
    gpus = node.archs or tuple(ComputeCapability.parse(g) for g in target.gpus)
    result = verify_environment(env_root, gpus, allow_ptx=allow_ptx, native=native, kb=kb, cuda=target.cuda)
    if not result.libraries:
        return [
            Check(
                name="environment",
                status=WARN if is_gpu_target(target) else OK,
                message=f"{env_root}: no library with CUDA code found",
            )
        ]
    checks = []
    own = [g for g in result.gaps if not g.vendor]
    if own:
        lines = [g.message for g in own]
        shown = "; ".join(lines[:3]) + (f"; and {len(lines) - 3} more" if len(lines) > 3 else "")
        checks.append(
            Check(
                name="environment",
                status=FAIL,
                message=f"{len(own)} CUDA library/GPU pair(s) without code: {shown}",
                hint="this is a 'no kernel image is available' failure waiting to happen; choose a build "
                "that carries these GPUs",
            )
        )
    else:
        archs = " ".join(c.sm for c in gpus)
        vendor = {g.path for g in result.vendor_gaps}
        covered = len(result.libraries) - len(vendor)
        rest = f" (the other {len(vendor)} are NVIDIA's, below)" if vendor else ""
        checks.append(
            Check(
                name="environment",
                status=OK,
                message=f"{covered} of {len(result.libraries)} CUDA libraries under {env_root} carry code "
                f"for {archs}{rest}",
            )
        )
    if result.vendor_gaps:
        names = sorted({Path(g.path.replace("!", "/")).name for g in result.vendor_gaps})
        checks.append(
            Check(
                name="nvidia libraries",
                status=WARN,
                message=f"{', '.join(names)}: no cubin in .nv_fatbin for {archs_text(result.vendor_gaps)}; "
                "NVIDIA's libraries may load their kernels another way (cuFFT does)",
                hint="if a call into one of these fails with 'no kernel image', this is why",
            )
        )
    release = _torch_release(target)
    if release is not None and target.variant != "cpu":
        try:
            build = kb.torch_build(release, target.variant, target.platform)
        except ValueError:
            build = None
        if build is not None:
            for message in disagreement_with_kb(result, build):
                checks.append(
                    Check(
                        name="knowledge base",
                        status=WARN,
                        message=message,
                        hint="report it (or add a user KB row); envlock trusts the binaries",
                    )
                )
    return checks


# ------------------------------------------------------------------------------------------- entry


def judge(
    target: LockedTarget,
    node: NodeInfo,
    kb: KnowledgeBase,
    *,
    allow_ptx: bool = False,
    env_root: Path | None = None,
) -> tuple[Check, ...]:
    """Every check of `target` on `node` (pure but for reading `env_root`'s binaries when given)."""
    fit = judge_fit(target, node, kb, allow_ptx=allow_ptx)
    checks = list(fit.checks)
    if env_root is not None:
        checks += _environment_checks(env_root, target, node, kb, native=fit.native, allow_ptx=allow_ptx)
    return tuple(checks)


def diagnose(
    lock: Lock,
    node: NodeInfo,
    kb: KnowledgeBase,
    *,
    target: str | None = None,
    env_root: Path | None = None,
    source: str = "envlock.lock",
) -> DoctorReport:
    """Judge `node` against the named target, or choose one (module docstring).

    `target` None or "auto" chooses as `install --target auto` does. Raises UsageError (exit 2) for a
    target name the lock does not have, listing its targets.
    """
    allow_ptx = lock.inputs.allow_ptx
    if target is not None and target != "auto":
        chosen = lock.require_target(
            target,
            source=source,
            hint="pass one of those names to --target, or --target auto to choose by the fit rules",
        )
        checks = judge(chosen, node, kb, allow_ptx=allow_ptx, env_root=env_root)
        return DoctorReport(target=chosen, node=node, checks=checks, chosen="named")
    if not lock.targets:
        raise UsageError(f"{source}: the lock has no targets", hint="re-solve the spec with `envlock solve`")
    choice = choose_fit(lock, node, kb, source=source)
    pick = choice.target
    others = tuple((f.target.name, f.missing) for f in choice.judged if f.target.name != pick.name)
    checks = judge(pick, node, kb, allow_ptx=allow_ptx, env_root=env_root) if env_root else choice.fit.checks
    return DoctorReport(
        target=pick, node=node, checks=checks, chosen=choice.how, others=others, notes=choice.notes,
        why=choice.why,
    )  # fmt: skip


# ----------------------------------------------------------------------------- installed environment


def record_check(record: EnvRecord | None, lock: Lock, target: LockedTarget, env: Path) -> Check:
    """What the environment's own record (`envlock-env.json`) says about the lock it was built from."""
    if record is None:
        return Check(
            name="record",
            status=FAIL,
            message=f"{env}: no envlock-env.json: not an environment envlock built",
            hint="install the target with `envlock install`",
        )
    if record.env_hash != target.env_hash or record.target != target.name:
        return Check(
            name="record",
            status=FAIL,
            message=f"{env} was built for target {record.target} with env hash {record.env_hash}; "
            f"the lock's target {target.name} has {target.env_hash}",
            hint="install this lock's target; the environment there is another one",
        )
    same = record.lock_content_hash == lock.content_hash
    return Check(
        name="record",
        status=OK,
        message=f"built from {'this lock' if same else 'a lock with the same packages'} "
        f"(content hash {record.lock_content_hash}), target {record.target}, env hash {record.env_hash}",
    )


def verify_check(verification: Verification) -> Check:
    """`envlock verify`'s verdict on one environment as a doctor check."""
    if verification.ok:
        return Check(
            name="verify",
            status=OK,
            message=f"{verification.files} files as built (tree hash {verification.tree_hash})",
        )
    shown = "; ".join(verification.problems[:5])
    more = len(verification.problems) - 5
    return Check(
        name="verify",
        status=FAIL,
        message=f"installed files changed since the build: {shown}"
        + (f"; and {more} more" if more > 0 else ""),
        hint="`envlock verify` lists them all; do not use this environment, install it again",
    )
