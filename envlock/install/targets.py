"""Which lock target this node runs: by name, or `auto` from the detected GPUs and driver.

`auto` takes the first target (in lock order) that fits, except that on a node with GPUs a fitting
GPU target is preferred over a CPU-only one (a GPU node should not silently train on its CPUs).
A target fits when: its platform is the node's; the node's glibc is at least the target's floor;
for a GPU target, the node has an NVIDIA driver and GPUs, every GPU runs a cubin of the locked
torch build (per the knowledge base, or is one of the archs the target was solved for), and the
driver meets `requires-driver` natively or, for a `minor-version` target, the CUDA family floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from envlock.errors import IncompatibleNodeError, UsageError
from envlock.lock.model import Lock, LockedTarget

if TYPE_CHECKING:
    from envlock.kb.knowledge import KnowledgeBase
    from envlock.node.model import NodeInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetFit:
    """How one target fits the node: `missing` lists what stands in the way (empty: it fits)."""

    target: LockedTarget
    missing: tuple[str, ...]

    @property
    def fits(self) -> bool:
        return not self.missing


def is_gpu_target(target: LockedTarget) -> bool:
    return bool(target.gpus) or target.variant != "cpu"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def _sass_missing(target: LockedTarget, node: NodeInfo, kb: KnowledgeBase) -> list[str]:
    from envlock.kb.model import ComputeCapability
    from envlock.kb.rules import sass_runs_on

    solved = set()
    for arch in target.gpus:
        try:
            solved.add(ComputeCapability.parse(arch))
        except ValueError:
            continue
    cubins: tuple[ComputeCapability, ...] = ()
    if target.torch is not None:
        build = kb.torch_build(target.torch.split("+", 1)[0], target.variant, target.platform)
        if build is not None:
            cubins = build.sass
    missing = []
    for cc in node.archs:
        if cc in solved:
            continue
        tegra = kb.is_tegra(cc)
        if not any(sass_runs_on(c, cc, cuda=target.cuda, tegra=tegra) for c in cubins):
            have = ", ".join(c.sm for c in cubins) or ", ".join(sorted(target.gpus)) or "none"
            missing.append(f"GPU {cc.sm} has no kernels in the locked torch {target.torch} (SASS: {have})")
    return missing


def _driver_missing(target: LockedTarget, driver: str, kb: KnowledgeBase) -> list[str]:
    from envlock.kb.rules import compare_driver, driver_verdict

    try:
        if target.requires_driver and compare_driver(driver, target.requires_driver) >= 0:
            return []
        if target.cuda is None:
            return [] if not target.requires_driver else [f"driver {driver} < {target.requires_driver}"]
        verdict = driver_verdict(driver, target.cuda, target.platform, kb)
    except ValueError as exc:
        return [f"driver {driver!r} cannot be compared: {exc}"]
    if target.compat == "minor-version" and verdict.ok:
        return []
    if target.requires_driver is None and verdict.ok and verdict.compat == "native":
        return []
    need = target.requires_driver or verdict.requires_native or "?"
    text = f"driver {driver} is older than {need}, which CUDA {target.cuda} of this target needs"
    if target.compat == "minor-version" and verdict.requires_mvc:
        family = target.cuda.split(".")[0]
        text = f"driver {driver} is older than the CUDA {family}.x floor {verdict.requires_mvc}"
    return [text]


def judge_target(target: LockedTarget, node: NodeInfo, kb: KnowledgeBase) -> TargetFit:
    """What keeps `target` from running on `node` (pure)."""
    missing: list[str] = []
    if target.platform != node.platform:
        missing.append(f"platform {target.platform}, this node is {node.platform}")
    if target.platform.startswith("linux"):
        if node.glibc is None:
            missing.append(f"needs glibc >= {target.glibc}, this node has none")
        elif _version_tuple(node.glibc) < _version_tuple(target.glibc):
            missing.append(f"needs glibc >= {target.glibc}, this node has {node.glibc}")
    if is_gpu_target(target):
        if node.driver is None:
            missing.append("needs an NVIDIA driver, this node has none")
        else:
            if not node.gpus:
                if node.source == "proc":
                    missing.append(
                        "the node's GPUs are unknown (NVML and nvidia-smi failed); set ENVLOCK_GPUS"
                    )
                else:
                    missing.append("needs an NVIDIA GPU, this node has none")
            missing += _sass_missing(target, node, kb)
            missing += _driver_missing(target, node.driver, kb)
    return TargetFit(target=target, missing=tuple(missing))


def _describe(node: NodeInfo) -> str:
    gpus = ", ".join(f"{g.cc.sm}" for g in node.gpus) or "no GPUs"
    return f"{node.platform}, glibc {node.glibc or 'none'}, {gpus}, driver {node.driver or 'none'}"


def choose_auto(lock: Lock, node: NodeInfo, kb: KnowledgeBase, *, source: str) -> LockedTarget:
    """The target for `--target auto`; raises IncompatibleNodeError naming the closest target."""
    fits = [judge_target(t, node, kb) for t in lock.targets]
    ok = [f for f in fits if f.fits]
    if node.gpus:
        ok.sort(key=lambda f: not is_gpu_target(f.target))  # stable: lock order within each group
    if ok:
        return ok[0].target
    if not fits:
        raise UsageError(f"{source}: the lock has no targets", hint="re-solve the spec")
    closest = min(fits, key=lambda f: len(f.missing))
    lines = [f"  {f.target.name}: " + "; ".join(f.missing) for f in fits]
    raise IncompatibleNodeError(
        f"no target of {source} fits this node ({_describe(node)}); closest is "
        f"{closest.target.name}: " + "; ".join(closest.missing),
        hint="every target and what it lacks here:\n"
        + "\n".join(lines)
        + "\nset ENVLOCK_GPUS / ENVLOCK_DRIVER if detection is wrong, or add a target for this node",
        details={
            "closest": closest.target.name,
            "targets": {f.target.name: list(f.missing) for f in fits},
            "node": _describe(node),
        },
    )


def choose_target(lock: Lock, choice: str | None, *, source: str) -> LockedTarget:
    """The target named `choice`; `auto` detects this node; `None` means the only target, or `auto`
    when the lock has several."""
    if choice is None and len(lock.targets) == 1:
        return lock.targets[0]
    if choice is None or choice == "auto":
        from envlock.kb import load_kb
        from envlock.node import detect_node

        return choose_auto(lock, detect_node(), load_kb(), source=source)
    target = lock.target(choice)
    if target is None:
        names = [t.name for t in lock.targets]
        raise UsageError(
            f"{source} has no target {choice!r}; its targets are: {', '.join(names)}",
            hint="pass one of those names to --target, or --target auto",
            details={"targets": names},
        )
    return target
