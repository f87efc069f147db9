"""The checks of `doctor`: one verdict per question, judged from the node, the lock and the KB.

Pure: `judge` takes a detected node (envlock.node), a lock target and the knowledge base and returns
data; the CLI prints it. The questions (DESIGN §10):

* platform: the target's platform is this node's;
* driver: the driver runs the locked CUDA natively, only through minor-version compatibility, or not
  at all (`envlock.kb.rules.driver_verdict`);
* gpu N: each GPU's compute capability has a cubin in the locked torch build (the KB row for the
  target's torch release and variant), or PTX when the spec allowed it and the driver is native;
* gpu limits: each GPU's own driver range (Blackwell's floor, the last branch of older GPUs);
* glibc: the node's glibc is at least what every locked wheel's manylinux tag asks for;
* environment (when an installed environment is given): its real CUDA libraries carry code for
  these GPUs, and where they disagree with the knowledge base, the KB is reported wrong.

Target choice without `--target`: the first target of the lock with no failing check, preferring a
GPU target on a node with GPUs (as `install --target auto`); when none fits, the closest (fewest
failures) is judged and reported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from envlock.errors import UsageError
from envlock.inspect.verify import LibraryGap, disagreement_with_kb, verify_environment
from envlock.kb.model import ComputeCapability, TorchBuild
from envlock.kb.rules import driver_verdict, sass_runs_on
from envlock.lock.model import Lock, LockedTarget
from envlock.node.model import NodeInfo

if TYPE_CHECKING:
    from envlock.kb.knowledge import KnowledgeBase

OK, WARN, FAIL = "ok", "warn", "fail"
_MANYLINUX_RE = re.compile(r"^manylinux_(\d+)_(\d+)_")
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


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
class DoctorReport:
    """Whether `node` can run lock target `target`, check by check.

    `chosen` says how the target was picked: "named" (--target), "auto" (the first that fits) or
    "closest" (none fits; this one fails fewest checks). `others` maps every other target judged to
    its failures.
    """

    target: LockedTarget
    node: NodeInfo
    checks: tuple[Check, ...]
    chosen: str
    others: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == FAIL)

    def with_checks(self, extra: Sequence[Check]) -> DoctorReport:
        return DoctorReport(
            target=self.target, node=self.node, checks=(*self.checks, *extra), chosen=self.chosen,
            others=self.others,
        )  # fmt: skip


def is_gpu_target(target: LockedTarget) -> bool:
    """A target that needs an NVIDIA driver: it declares GPUs or locks a CUDA variant."""
    return bool(target.gpus) or target.variant != "cpu"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text))


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
    if not is_gpu_target(target):
        return Check(name="driver", status=OK, message="CPU-only target: no NVIDIA driver needed"), False
    if node.driver is None:
        need = target.requires_driver or "the one the locked CUDA needs"
        return (
            Check(
                name="driver",
                status=FAIL,
                message="no NVIDIA driver found on this node",
                hint=f"install an NVIDIA driver >= {need}; in a container, pass the driver through "
                "(or set ENVLOCK_DRIVER if detection is wrong)",
            ),
            False,
        )
    if target.cuda is None:
        return Check(name="driver", status=OK, message=f"driver {node.driver}; the lock pins no CUDA"), False
    try:
        verdict = driver_verdict(node.driver, target.cuda, target.platform, kb)
    except ValueError as exc:
        return Check(name="driver", status=FAIL, message=f"driver {node.driver!r}: {exc}"), False
    native_need = verdict.requires_native or target.requires_driver
    if verdict.ok and verdict.compat == "native":
        return (
            Check(
                name="driver",
                status=OK,
                message=f"driver {node.driver} runs CUDA {target.cuda} natively (needs >= {native_need})",
            ),
            True,
        )
    if verdict.ok:
        text = (
            f"driver {node.driver} runs CUDA {target.cuda} through minor-version compatibility "
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
    floor = verdict.requires_mvc or native_need
    return (
        Check(
            name="driver",
            status=FAIL,
            message=verdict.reason or f"driver {node.driver} cannot run CUDA {target.cuda}",
            hint=f"upgrade the NVIDIA driver to >= {floor} (>= {native_need} for native), or pick a "
            "target locked for an older CUDA",
        ),
        False,
    )


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
                    message="the driver is there but the GPUs are unknown (NVML and nvidia-smi failed)",
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
    checks = []
    for gpu in node.gpus:
        checks.append(
            _gpu_check(
                gpu.index,
                gpu.name,
                gpu.cc,
                target,
                build,
                native=native,
                allow_ptx=allow_ptx,
                tegra=kb.is_tegra(gpu.cc),
            )
        )
    checks.append(_limits_check(target, node, kb))
    return checks


def _gpu_check(
    index: int,
    name: str,
    cc: ComputeCapability,
    target: LockedTarget,
    build: TorchBuild | None,
    *,
    native: bool,
    allow_ptx: bool,
    tegra: bool,
) -> Check:
    label = f"gpu {index}"
    who = f"{name} ({cc.sm})" if name != cc.sm else cc.sm
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
    if any(sass_runs_on(c, cc, cuda=build.cuda, tegra=tegra) for c in build.sass):
        return Check(
            name=label, status=OK, message=f"{who}: {_torch_label(target)} carries SASS {sass}{inferred}"
        )
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


def _limits_check(target: LockedTarget, node: NodeInfo, kb: KnowledgeBase) -> Check:
    assert node.driver is not None  # only called with GPUs, which come with a driver
    problems = []
    for cc in node.archs:
        try:
            problem = kb.gpu_driver_problem(cc, node.driver, target.platform)
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
    return Check(name="gpu limits", status=OK, message=f"driver {node.driver} supports these GPUs")


def wheel_glibc(filename: str) -> tuple[int, int] | None:
    """The lowest glibc a wheel's manylinux tags accept; None for non-manylinux wheels and sdists."""
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    found = []
    for tag in tags:
        m = _MANYLINUX_RE.match(tag.platform)
        if m:
            found.append((int(m.group(1)), int(m.group(2))))
            continue
        for prefix, version in _LEGACY_MANYLINUX.items():
            if tag.platform.startswith(prefix + "_"):
                found.append(version)
    return min(found) if found else None


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
    have = _version_tuple(node.glibc)
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
    if have < _version_tuple(target.glibc):
        return Check(
            name="glibc",
            status=WARN,
            message=f"glibc {node.glibc} is older than the target's declared floor {target.glibc}, "
            "though the locked wheels accept it",
            hint=f'set the target\'s glibc = "{node.glibc}" in the spec to make this official',
        )
    wheels_need = f" (the wheels need >= {need_text})" if need_text else ""
    return Check(name="glibc", status=OK, message=f"glibc {node.glibc}{wheels_need}")


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
    checks = [_check_platform(target, node)]
    driver, native = _check_driver(target, node, kb)
    checks.append(driver)
    checks += _gpu_checks(target, node, kb, native=native, allow_ptx=allow_ptx)
    glibc = _check_glibc(target, node)
    if glibc is not None:
        checks.append(glibc)
    if env_root is not None:
        checks += _environment_checks(env_root, target, node, kb, native=native, allow_ptx=allow_ptx)
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

    Raises UsageError (exit 2) for a target name the lock does not have, listing its targets.
    """
    allow_ptx = lock.inputs.allow_ptx
    if target is not None:
        chosen = lock.target(target)
        if chosen is None:
            names = [t.name for t in lock.targets]
            raise UsageError(
                f"{source} has no target {target!r}; its targets are: {', '.join(names) or 'none'}",
                hint="pass one of those names to --target, or leave --target out to take the first that fits",
                details={"targets": names},
            )
        checks = judge(chosen, node, kb, allow_ptx=allow_ptx, env_root=env_root)
        return DoctorReport(target=chosen, node=node, checks=checks, chosen="named")
    if not lock.targets:
        raise UsageError(f"{source}: the lock has no targets", hint="re-solve the spec with `envlock solve`")
    judged = [(t, judge(t, node, kb, allow_ptx=allow_ptx)) for t in lock.targets]
    fitting = [(t, c) for t, c in judged if all(x.status != FAIL for x in c)]
    if node.gpus:
        fitting.sort(key=lambda tc: not is_gpu_target(tc[0]))  # stable: lock order within each group
    if fitting:
        pick, how = fitting[0][0], "auto"
    else:
        pick = min(judged, key=lambda tc: sum(x.status == FAIL for x in tc[1]))[0]
        how = "closest"
    others = tuple(
        (t.name, tuple(x.message for x in c if x.status == FAIL)) for t, c in judged if t.name != pick.name
    )
    checks = judge(pick, node, kb, allow_ptx=allow_ptx, env_root=env_root)
    return DoctorReport(target=pick, node=node, checks=checks, chosen=how, others=others)
