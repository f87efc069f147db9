"""Whether a lock target fits this node: the one judgement `install` and `doctor` both make.

`judge_fit` answers every question architecture.md §10 asks of a target, check by check (pure):

* platform: the target's platform is this node's;
* driver: a GPU target (one that declares `gpus`) needs an NVIDIA driver. The driver runs the
  locked CUDA natively when it is at least the lock's `requires-driver` (for `compat = "native"`;
  else the knowledge base's native driver of the locked CUDA), or through minor-version
  compatibility when it is at least the CUDA family floor (11.x 450.80.02, 12.x 525.60.13, 13.x
  580). Rule for a target solved `native` on a driver between the family floor and its native need:
  it FITS, with a warning (kernels with SASS run; PTX JIT and APIs newer than the driver do not).
  Below the family floor nothing runs: it does not fit. A target that declares no GPUs is a CPU
  target: it fits any node of its platform and glibc without a driver, even when its resolved set
  pins CUDA wheels (the default index's Linux torch does), since torch runs on the CPU without them;
* gpus / gpu N: every GPU has a cubin in the locked torch build (the knowledge-base row for the
  target's torch release, variant and platform), or is one of the archs the target was solved for,
  or has PTX when the spec allowed PTX and the driver is native. A GPU not covered does not fit. No
  knowledge-base row, or a lock whose row came from the user's private knowledge base
  (`knowledge-base-row = "user"`) that this process has not loaded: a warning, never a refusal
  (set ENVLOCK_KB to the file to check). GPUs unknown (only /proc named the driver): a warning;
* gpu limits: each GPU's own driver range (Blackwell's floor, the last branch of older GPUs);
* glibc: the node's glibc is at least what every locked wheel's manylinux tag asks for (below the
  target's declared floor but enough for the wheels: a warning).

`choose_fit` picks a target for `install --target auto` and for `doctor` without `--target`. On a
node with NVIDIA GPUs (or a driver whose GPUs are unknown) only GPU targets are considered, unless
the lock has none at all; then a CPU-only target is taken with a warning. Among the targets that
fit, the rule is, in order:

1. the target whose declared GPU architectures are exactly the node's (on a node without GPUs: a
   CPU target);
2. else one whose declared architectures cover the node's (each node GPU has a declared arch of the
   same major and no higher minor), with the fewest declared archs the node does not have;
3. else one that runs here only because its torch build carries SASS for these GPUs;
4. ties: one that fits without warnings, then lock (file) order.

The choice carries a sentence saying why it won (`FitChoice.why`). When nothing fits, the closest
target (fewest failed checks, among those considered) is returned with `how = "closest"`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from envlock.kb.model import ComputeCapability, TorchBuild
from envlock.lock.model import Lock, LockedTarget
from envlock.node.model import NodeInfo
from envlock.platforms import wheel_glibc

if TYPE_CHECKING:
    from envlock.kb.knowledge import KnowledgeBase

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One verdict: `status` is "ok", "warn" or "fail"; `hint` says what to do about a warn or fail."""

    name: str  # "driver", "gpu 0", "glibc", ...
    status: str
    message: str
    hint: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "status": self.status, "message": self.message, "hint": self.hint}


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetFit:
    """How one target fits the node: every check, and whether the driver runs its CUDA natively."""

    target: LockedTarget
    checks: tuple[Check, ...]
    native: bool

    @property
    def fits(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == FAIL)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == WARN)

    @property
    def missing(self) -> tuple[str, ...]:
        """What stands in the way, one message per failed check (empty: it fits)."""
        return tuple(c.message for c in self.failures)


@dataclass(frozen=True, slots=True, kw_only=True)
class FitChoice:
    """The target `choose_fit` picked: `how` is "auto" (it fits) or "closest" (nothing fits).

    `judged` holds the fit of every target of the lock, in lock order; `notes` says what the choice
    itself should warn about (a GPU node given a CPU-only target).
    """

    fit: TargetFit
    how: str
    judged: tuple[TargetFit, ...]
    considered: tuple[str, ...]  # names of the targets the choice was made among
    notes: tuple[str, ...] = ()
    why: str = ""  # why this target won, for people ("its GPUs sm_90 are this node's")

    @property
    def target(self) -> LockedTarget:
        return self.fit.target


def is_gpu_target(target: LockedTarget) -> bool:
    """A target that needs an NVIDIA driver: it declares GPUs. One without `gpus` runs on CPUs, whatever
    CUDA wheels its set pins."""
    return bool(target.gpus)


def node_has_gpus(node: NodeInfo) -> bool:
    """The node has NVIDIA GPUs: detected ones, or a driver whose GPUs could not be listed."""
    return bool(node.gpus) or (node.driver is not None and node.source == "proc")


def version_tuple(text: str) -> tuple[int, ...]:
    """ "2.28" -> (2, 28); every run of digits counts ("2.35-0ubuntu3" -> (2, 35, 0, 3))."""
    return tuple(int(p) for p in re.findall(r"\d+", text))


def describe_node(node: NodeInfo) -> str:
    gpus = ", ".join(g.cc.sm for g in node.gpus) or ("GPUs unknown" if node_has_gpus(node) else "no GPUs")
    return f"{node.platform}, glibc {node.glibc or 'none'}, {gpus}, driver {node.driver or 'none'}"


def _torch_release(target: LockedTarget) -> str | None:
    if target.torch is None:
        return None
    return target.torch.split("+", 1)[0]


def _torch_label(target: LockedTarget) -> str:
    return f"torch {target.torch}" if target.torch else f"the {target.variant} build"


# ------------------------------------------------------------------------------------------ checks


def _check_platform(target: LockedTarget, node: NodeInfo) -> Check:
    if target.platform == node.platform:
        return Check(name="platform", status=OK, message=f"{node.platform}, as the target")
    return Check(
        name="platform",
        status=FAIL,
        message=f"the target is for {target.platform}, this node is {node.platform}",
        hint="pick a target of this platform with --target, or add one to the spec and re-solve",
    )


def _check_driver(target: LockedTarget, node: NodeInfo, kb: KnowledgeBase) -> tuple[Check, bool]:
    """The driver verdict, and whether the driver runs the locked CUDA natively."""
    from envlock.kb.rules import compare_driver, driver_verdict

    if not is_gpu_target(target):
        cuda = f" (its CUDA {target.cuda} wheels stay unused)" if target.cuda else ""
        message = f"CPU target (no gpus declared): no NVIDIA driver needed{cuda}"
        return Check(name="driver", status=OK, message=message), False
    driver = node.driver
    if driver is None:
        wanted = target.requires_driver or "the one the locked CUDA needs"
        return (
            Check(
                name="driver",
                status=FAIL,
                message="no NVIDIA driver found on this node",
                hint=f"install an NVIDIA driver >= {wanted}; in a container, pass the driver through "
                "(or set ENVLOCK_DRIVER if detection is wrong)",
            ),
            False,
        )
    try:
        if target.cuda is None:
            need = target.requires_driver
            if need is not None and compare_driver(driver, need) < 0:
                return (
                    Check(
                        name="driver",
                        status=FAIL,
                        message=f"driver {driver} is older than {need}, which this target needs",
                        hint=f"upgrade the NVIDIA driver to >= {need}",
                    ),
                    False,
                )
            return Check(name="driver", status=OK, message=f"driver {driver}; the lock pins no CUDA"), False
        verdict = driver_verdict(driver, target.cuda, target.platform, kb)
        # the lock's requires-driver is the native need only for a target solved native
        lock_native = target.requires_driver if target.compat == "native" else None
        native_need = lock_native or verdict.requires_native
        native = native_need is not None and compare_driver(driver, native_need) >= 0
    except ValueError as exc:
        return Check(
            name="driver", status=FAIL, message=f"driver {driver!r} cannot be compared: {exc}"
        ), False
    if native:
        return (
            Check(
                name="driver",
                status=OK,
                message=f"driver {driver} runs CUDA {target.cuda} natively (needs >= {native_need})",
            ),
            True,
        )
    if verdict.ok:
        text = (
            f"driver {driver} runs CUDA {target.cuda} through minor-version compatibility "
            f"(family floor {verdict.requires_mvc}; native needs {native_need or 'unknown'})"
        )
        if target.compat == "minor-version":
            return Check(name="driver", status=OK, message=text + ", as the lock expects"), False
        return (
            Check(
                name="driver",
                status=WARN,
                message=text + "; the lock was solved for native",
                hint=f"kernels run, but PTX JIT and APIs newer than the driver fail; upgrade the driver "
                f"to >= {native_need} for native support",
            ),
            False,
        )
    floor = verdict.requires_mvc
    family = target.cuda.split(".", 1)[0]
    if floor is None:
        message = verdict.reason or f"driver {driver} cannot run CUDA {target.cuda}"
    elif native_need is not None:
        message = (
            f"driver {driver} is older than the CUDA {family}.x floor {floor} of minor-version "
            f"compatibility (CUDA {target.cuda} of this target needs {native_need} natively)"
        )
    else:
        message = f"driver {driver} is older than the CUDA {family}.x floor {floor}"
    return (
        Check(
            name="driver",
            status=FAIL,
            message=message,
            hint=f"upgrade the NVIDIA driver to >= {floor or native_need} (>= {native_need} for native), "
            "or pick a target locked for an older CUDA",
        ),
        False,
    )


def _private_row(target: LockedTarget, build: TorchBuild | None) -> bool:
    """The lock's torch row came from a user knowledge base this process has not loaded."""
    return target.kb_status == "user" and (build is None or build.status != "user")


def _gpu_checks(
    target: LockedTarget, node: NodeInfo, kb: KnowledgeBase, *, native: bool, allow_ptx: bool
) -> list[Check]:
    if not is_gpu_target(target):
        return [Check(name="gpus", status=OK, message="CPU-only target: GPUs are not used")]
    if not node.gpus:
        if node.driver is None:
            return []  # the driver check already says there is no driver
        if node.source == "proc":
            return [
                Check(
                    name="gpus",
                    status=WARN,
                    message="the driver is there but the GPUs are unknown (NVML and nvidia-smi failed), "
                    "so their kernels were not checked",
                    hint="set ENVLOCK_GPUS to the node's GPUs, e.g. ENVLOCK_GPUS=H100",
                )
            ]
        return [
            Check(
                name="gpus",
                status=FAIL,
                message=f"no NVIDIA GPU found on this node; the target is for {' '.join(target.gpus)}",
                hint="run on a GPU node, or pick a CPU-only target with --target",
            )
        ]
    release = _torch_release(target)
    build: TorchBuild | None = None
    if release is not None and target.variant != "cpu":
        try:
            build = kb.torch_build(release, target.variant, target.platform)
        except ValueError:
            build = None
    build = _with_wheel_archs(target, build)
    checks = []
    if _private_row(target, build):
        gpus = " ".join(c.sm for c in node.archs)
        checks.append(
            Check(
                name="gpus",
                status=WARN,
                message=f"{_torch_label(target)} was locked with a row of a private knowledge base "
                f'(knowledge-base-row = "user"); this node\'s GPUs ({gpus}) were not checked against it',
                hint="set ENVLOCK_KB to the spec's [resolution] knowledge-base file(s) to check them",
            )
        )
    else:
        solved = set()
        for arch in target.gpus:
            try:
                solved.add(ComputeCapability.parse(arch))
            except ValueError:
                continue
        for gpu in node.gpus:
            checks.append(
                _gpu_check(
                    gpu.index, gpu.name, gpu.cc, target, build, solved=solved, native=native,
                    allow_ptx=allow_ptx, tegra=kb.is_tegra(gpu.cc),
                )
            )  # fmt: skip
    if node.driver is not None:  # without one, the driver check already fails
        checks.append(_limits_check(target, node, kb, node.driver))
    return checks


def _gpu_check(
    index: int,
    name: str,
    cc: ComputeCapability,
    target: LockedTarget,
    build: TorchBuild | None,
    *,
    solved: set[ComputeCapability],
    native: bool,
    allow_ptx: bool,
    tegra: bool,
) -> Check:
    from envlock.kb.rules import sass_runs_on

    label = f"gpu {index}"
    who = f"{name} ({cc.sm})" if name != cc.sm else cc.sm
    if build is not None and any(sass_runs_on(c, cc, cuda=build.cuda, tegra=tegra) for c in build.sass):
        sass = " ".join(c.sm for c in build.sass)
        inferred = f" (KB row inferred from {build.inferred_from})" if build.inferred_from else ""
        return Check(
            name=label, status=OK, message=f"{who}: {_torch_label(target)} carries SASS {sass}{inferred}"
        )
    if cc in solved:
        return Check(name=label, status=OK, message=f"{who}: the target was solved for {cc.sm}")
    if build is None:
        return Check(
            name=label,
            status=WARN,
            message=f"{who}: the knowledge base has no row for {_torch_label(target)} on {target.platform}, "
            "so its kernels are unknown",
            hint="install the target and run `envlock doctor --prefix ENV` to check the real binaries",
        )
    sass = " ".join(c.sm for c in build.sass) or "none"
    inferred = f" (KB row inferred from {build.inferred_from})" if build.inferred_from else ""
    ptx = [p for p in build.ptx if p <= cc]
    if ptx and allow_ptx and native:
        return Check(
            name=label,
            status=WARN,
            message=f"{who}: no cubin in {_torch_label(target)} (SASS {sass}); runs by JIT-compiling PTX "
            f"{ptx[-1].sm}",
            hint="the first start compiles every kernel (minutes); a build with SASS for this GPU avoids it",
        )
    return Check(
        name=label,
        status=FAIL,
        message=f"{who}: {_torch_label(target)} has no kernel image for {cc.sm} (SASS {sass}){inferred}",
        hint=f"add {cc.sm} to the target's gpus and re-solve (a CUDA variant that carries it will be chosen)",
    )


def _limits_check(target: LockedTarget, node: NodeInfo, kb: KnowledgeBase, driver: str) -> Check:
    problems = []
    for cc in node.archs:
        try:
            problem = kb.gpu_driver_problem(cc, driver, target.platform)
        except ValueError as exc:
            problem = str(exc)
        if problem:
            problems.append(problem)
    if problems:
        return Check(
            name="gpu limits",
            status=FAIL,
            message="; ".join(problems),
            hint="install a driver in the range these GPUs support",
        )
    return Check(name="gpu limits", status=OK, message=f"driver {driver} supports these GPUs")


def _check_glibc(target: LockedTarget, node: NodeInfo) -> Check | None:
    if not target.platform.startswith("linux"):
        return None
    needs: list[tuple[tuple[int, int], str]] = []
    for package in target.packages:
        wants = [wheel_glibc(a.filename) for a in package.artifacts if a.filename.endswith(".whl")]
        if not wants or any(w is None for w in wants):
            continue  # pure or plain-linux wheels, or an sdist only: no manylinux floor
        floor = min(w for w in wants if w is not None)
        needs.append((floor, f"{package.name} {package.version}"))
    need = max((n for n, _ in needs), default=None)
    need_text = f"{need[0]}.{need[1]}" if need else None
    if node.glibc is None:
        if need is None:
            return Check(name="glibc", status=OK, message="no locked wheel needs glibc")
        return Check(
            name="glibc",
            status=FAIL,
            message=f"this node has no glibc (musl?); the locked wheels need glibc >= {need_text}",
            hint="run on a glibc-based distribution, or set ENVLOCK_GLIBC if detection is wrong",
        )
    have = version_tuple(node.glibc)
    if need is not None and have < need:
        blockers = sorted(name for n, name in needs if have < n)
        shown = ", ".join(blockers[:5]) + (f" and {len(blockers) - 5} more" if len(blockers) > 5 else "")
        return Check(
            name="glibc",
            status=FAIL,
            message=f"glibc {node.glibc} is older than {need_text}, which {shown} need(s)",
            hint=f"run on a node with glibc >= {need_text}, or set the target's glibc = "
            f'"{node.glibc}" in the spec and re-solve',
        )
    if have < version_tuple(target.glibc):
        return Check(
            name="glibc",
            status=WARN,
            message=f"glibc {node.glibc} is older than the target's declared floor {target.glibc}, "
            "though the locked wheels accept it",
            hint=f'set the target\'s glibc = "{node.glibc}" in the spec to make this official',
        )
    wheels_need = f" (the wheels need >= {need_text})" if need_text else ""
    return Check(name="glibc", status=OK, message=f"glibc {node.glibc}{wheels_need}")


# ------------------------------------------------------------------------------------------- entry


def judge_fit(
    target: LockedTarget, node: NodeInfo, kb: KnowledgeBase, *, allow_ptx: bool = False
) -> TargetFit:
    """Every check of `target` on `node` (pure); see the module docstring for the rules."""
    checks = [_check_platform(target, node)]
    driver, native = _check_driver(target, node, kb)
    checks.append(driver)
    checks += _gpu_checks(target, node, kb, native=native, allow_ptx=allow_ptx)
    glibc = _check_glibc(target, node)
    if glibc is not None:
        checks.append(glibc)
    return TargetFit(target=target, checks=tuple(checks), native=native)


def _declared_archs(target: LockedTarget) -> frozenset[ComputeCapability]:
    archs = set()
    for arch in target.gpus:
        try:
            archs.add(ComputeCapability.parse(arch))
        except ValueError:
            continue
    return frozenset(archs)


def _arch_rank(target: LockedTarget, node: NodeInfo) -> tuple[int, int, str]:
    """How well `target`'s declared GPU archs match the node's: (class, extra archs, why); lower wins."""
    have = frozenset(node.archs)
    declared = _declared_archs(target)
    node_text = " ".join(c.sm for c in sorted(have))
    if declared == have:
        if not have:
            return 0, 0, "a CPU target on a node without NVIDIA GPUs"
        return 0, 0, f"its declared GPUs {node_text} are exactly this node's"
    if not have and node_has_gpus(node):
        return 1, len(declared), "this node's GPUs are unknown (only its driver was found); lock order"
    covered = all(any(d.major == c.major and d.minor <= c.minor for d in declared) for c in have)
    if covered and declared:
        extra = sorted(declared - have)
        extra_text = " ".join(c.sm for c in extra)
        return 1, len(extra), (
            f"its declared GPUs cover this node's {node_text}, with {len(extra)} other arch(s): {extra_text}"
        )
    if not declared:
        return 3, 0, "a CPU-only target: the lock has no GPU target"
    return 2, 0, f"its torch build carries kernels for this node's {node_text}, though it declares other GPUs"


def choose_fit(lock: Lock, node: NodeInfo, kb: KnowledgeBase, *, source: str = "the lock") -> FitChoice:
    """The target for `install --target auto` and `doctor` (module docstring). The lock must have targets."""
    if not lock.targets:
        raise ValueError("a lock without targets")
    allow_ptx = lock.inputs.allow_ptx
    judged = tuple(judge_fit(t, node, kb, allow_ptx=allow_ptx) for t in lock.targets)
    pool: Sequence[TargetFit] = judged
    notes: list[str] = []
    if node_has_gpus(node):
        gpu = [f for f in judged if is_gpu_target(f.target)]
        if gpu:
            pool = gpu
        else:
            notes.append(
                f"this node has NVIDIA GPUs but {source} has no GPU target; a CPU-only target runs on "
                "the CPUs alone (add a target with gpus to the spec and re-solve to use them)"
            )
    considered = tuple(f.target.name for f in pool)
    ranked = sorted(
        ((_arch_rank(f.target, node), bool(f.warnings), i, f) for i, f in enumerate(pool) if f.fits),
        key=lambda r: (r[0][0], r[0][1], r[1], r[2]),
    )
    if ranked:
        (_cls, _extra, why), _warned, _i, best = ranked[0]
        if len(ranked) > 1:
            why += f"; preferred over {', '.join(r[3].target.name for r in ranked[1:])}, which fit too"
        return FitChoice(
            fit=best, how="auto", judged=judged, considered=considered, notes=tuple(notes), why=why
        )
    closest = min(pool, key=lambda f: len(f.failures))
    return FitChoice(fit=closest, how="closest", judged=judged, considered=considered, notes=tuple(notes))


def _with_wheel_archs(target: LockedTarget, build: TorchBuild | None) -> TorchBuild | None:
    """The lock's own record of what the torch wheel carries (`archs-source = "wheel"`) wins over the
    knowledge-base row, as it did when the lock was solved."""
    if target.archs_source != "wheel" or not target.torch_sass:
        return build
    from dataclasses import replace

    sass = tuple(ComputeCapability.parse(n) for n in target.torch_sass)
    ptx = tuple(ComputeCapability.parse(n) for n in target.torch_ptx)
    if build is not None:
        return replace(build, sass=sass, ptx=ptx)
    return TorchBuild(
        release=_torch_release(target) or "",
        variant=target.variant,
        platform=target.platform,
        cuda=target.cuda,
        sass=sass,
        ptx=ptx,
        cudnn=target.cudnn,
        nccl=target.nccl,
        source="the lock (read from the wheel)",
        status=target.kb_status,
    )
