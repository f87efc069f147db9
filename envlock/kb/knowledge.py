"""The knowledge base value: lookups over the merged rows of the built-in data and the user's files.

The loader that reads, caches and merges the files is `envlock.kb.loader`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from envlock.kb.model import (
    ComputeCapability,
    CudaFamily,
    CudaToolkit,
    GpuDriverLimit,
    GpuInfo,
    PypiDefault,
    TorchBuild,
    parse_driver,
    variant_cuda,
)

if TYPE_CHECKING:
    from envlock.kb.files import KbFragment

CPU_SOURCE = "envlock-cpu-build"
# Platforms whose default-index torch wheels are CPU-only in every release (architecture.md §3).
_CPU_ONLY_DEFAULT_PLATFORMS = ("windows-amd64", "macos-arm64")

_NAME_PREFIXES = ("nvidia", "tesla", "geforce", "quadro")
# Words nvidia-smi appends to a model name: form factor, memory size and type, MIG profile.
_NAME_SUFFIX_RE = re.compile(r"^(sxm\d*|pcie|nvl\d*|hbm\d*e?|\d+gb|mig\S*)$")
# Words nvidia-smi --query-gpu=name prints around the model that do not change its compute capability:
# memory sizes ("144G", "80GB"), memory types, form factors, editions ("Server Edition", "Max-Q
# Workstation Edition"), "Ada Generation", "Laptop GPU", SUPER refreshes, Jetson's "(nvgpu)".
_NAME_NOISE_RE = re.compile(
    r"^(sxm\d*|pcie|nvl\d*|hbm\d*e?|\d+g|\d+gb|\d+mb|server|workstation|edition|max|q|maxq|design|with|"
    r"generation|laptop|gpu|mobile|super|sff|nvgpu|oem)$"
)
# Vendors whose GPUs envlock cannot serve: no torch variant of theirs is a variant envlock knows.
_FOREIGN_GPU_RE = (
    ("AMD", re.compile(r"\b(amd|ati|radeon|instinct|firepro|mi\d{2,3}[a-z]?|rx ?\d{3,4})\b")),
    (
        "Intel",
        re.compile(r"\b(intel|arc|iris|uhd graphics|gaudi\d?|ponte vecchio|data center gpu (max|flex))\b"),
    ),
)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class KnowledgeBase:
    """Facts about GPUs, CUDA drivers and torch builds, merged from the built-in data and user files.

    Build it with `envlock.kb.loader.load_kb`; the fields are the merged tables, the methods the lookups
    everyone calls.
    """

    digest: str  # "sha256:<hex>" over the bytes of every file loaded, in load order
    files: tuple[Path, ...]  # the user files merged over the built-in data, in order
    sources: Mapping[str, str]
    gpus: Mapping[str, GpuInfo]  # normalized name or alias -> row
    tegra: frozenset[ComputeCapability]
    toolkits: Mapping[str, CudaToolkit]
    families: Mapping[int, CudaFamily]
    driver_limits: tuple[GpuDriverLimit, ...]
    pypi_defaults: Mapping[Version, PypiDefault]
    builds: Mapping[tuple[Version, str, str], TorchBuild]
    known_ccs: frozenset[ComputeCapability]  # every CC a GPU row, Tegra row or torch build names

    # -- GPUs -----------------------------------------------------------------------------------

    def gpu(self, name: str) -> GpuInfo | None:
        """The GPU row for a name written any usual way ("nvidia h100", "Tesla V100", "A100-SXM4-80GB")."""
        key = normalize_gpu_name(name)
        if key in self.gpus:
            return self.gpus[key]
        stripped = normalize_gpu_name(name, strip_suffixes=True)
        return self.gpus.get(stripped)

    def foreign_gpu(self, text: str) -> str | None:
        """A message when `text` names an AMD or Intel GPU ("AMD GPUs are not supported ..."), else None."""
        if self.gpu(text) is not None:
            return None
        lowered = text.strip().lower()
        for vendor, pattern in _FOREIGN_GPU_RE:
            if pattern.search(lowered):
                backend = "ROCm" if vendor == "AMD" else "XPU"
                return (
                    f"{vendor} GPUs are not supported: envlock locks NVIDIA CUDA builds of torch "
                    f"({backend} is not a variant envlock knows)"
                )
        return None

    def resolve_gpu(self, text: str) -> ComputeCapability:
        """A GPU name or an architecture ("H100", "sm_90", "9.0", "90") -> its compute capability.

        An architecture must be one the knowledge base knows (a GPU, a Tegra part or a built arch), so that a
        typo like "sm_99" is caught. Raises KeyError(text) when neither works.
        """
        info = self.gpu(text)
        if info is not None:
            return info.cc
        try:
            cc = ComputeCapability.parse(text)
        except ValueError:
            raise KeyError(text) from None
        if cc in self.known_ccs:
            return cc
        raise KeyError(text)

    def suggest_gpus(self, text: str, n: int = 3) -> list[str]:
        """Up to `n` GPU names closest to `text`, for a did-you-mean."""
        key = normalize_gpu_name(text, strip_suffixes=True)
        prefixed = sorted(k for k in self.gpus if key and k.startswith(key))
        import difflib  # only a did-you-mean needs it

        matches = prefixed + difflib.get_close_matches(key, list(self.gpus), n=n * 3, cutoff=0.5)
        names = list(dict.fromkeys(self.gpus[m].name for m in matches))
        return names[:n]

    def is_tegra(self, cc: ComputeCapability) -> bool:
        """Whether a compute capability is a Tegra (Jetson) part."""
        return cc in self.tegra

    # -- CUDA -----------------------------------------------------------------------------------

    def cuda_toolkit(self, version: str) -> CudaToolkit | None:
        """The CUDA X.Y toolkit row ("12.4"); None when the KB does not know it."""
        return self.toolkits.get(version)

    def family(self, major: int) -> CudaFamily | None:
        """The CUDA major family row (its minor-version-compatibility floor)."""
        return self.families.get(major)

    # -- torch ----------------------------------------------------------------------------------

    def variant_cuda(self, variant: str) -> str | None:
        """ "cu124" -> "12.4", "cu130" -> "13.0", "cu92" -> "9.2", "cpu" -> None; ValueError on junk."""
        return variant_cuda(variant)

    def known_variants(self) -> tuple[str, ...]:
        """ "cpu" then every CUDA variant with a torch row, ordered by CUDA version (cu92 before cu130)."""
        variants = {b.variant for b in self.builds.values() if b.variant != "cpu"}
        return ("cpu", *sorted(variants, key=_variant_order))

    def torch_build(self, release: str, variant: str, platform: str) -> TorchBuild | None:
        """What torch `release` built for `variant` on `platform` carries; see the package docstring.

        A known row is returned as is. A release the KB lacks borrows the row of the newest known release
        not newer than it, for the same variant and platform (status "inferred", `inferred_from` set).
        None when no such row exists. `cpu` always gives a row without GPU code.
        """
        version = _version(release)
        exact = self.builds.get((version, variant, platform))
        if exact is not None:
            return exact
        if variant == "cpu":
            return TorchBuild(
                release=release,
                variant="cpu",
                platform=platform,
                cuda=None,
                sass=(),
                ptx=(),
                cudnn=None,
                nccl=None,
                source=CPU_SOURCE,
                status="confirmed",
            )
        variant_cuda(variant)  # a ValueError for junk, before "unknown"
        older = [
            (v, b)
            for (v, var, plat), b in self.builds.items()
            if var == variant and plat == platform and v <= version
        ]
        if not older:
            return None
        _, base = max(older, key=lambda item: item[0])
        return replace(base, release=release, status="inferred", inferred_from=base.release, python=())

    def pypi_default_variant(self, release: str, platform: str) -> str | None:
        """Which variant the default index's plain torch wheel is for a release and platform.

        Windows and macOS are always "cpu"; Linux comes from the `[pypi_default]` table and is None for a
        release it does not list (ask the index: the local version of the wheel says it).
        """
        row = self.pypi_defaults.get(_version(release))
        if row is not None and platform in row.variants:
            return row.variants[platform]
        if platform in _CPU_ONLY_DEFAULT_PLATFORMS:
            return "cpu"
        return None

    # -- drivers --------------------------------------------------------------------------------

    def gpu_driver_problem(self, cc: ComputeCapability, driver: str, platform: str) -> str | None:
        """Why `driver` cannot drive a GPU of compute capability `cc`, or None when it can.

        Floors (Blackwell needs >= 570.26) apply on every platform; last-branch limits (Maxwell, Pascal and
        Volta end with R580, Kepler with R470) only on Linux, because Windows driver numbers run past the
        branch number. Raises ValueError when `driver` is not a driver version.
        """
        major = parse_driver(driver)[0]
        windows = platform.startswith("windows")
        for limit in self.driver_limits:
            if not limit.applies_to(cc):
                continue
            floor = limit.min_driver_windows if windows else limit.min_driver_linux
            if floor is not None and _compare_driver(driver, floor) < 0:
                return (
                    f"{limit.label} GPUs ({cc.sm}) need NVIDIA driver >= {floor}; driver {driver} is older"
                    f" [{limit.source}]"
                )
            if limit.max_branch is not None and not windows and major > limit.max_branch:
                return (
                    f"{limit.label} GPUs ({cc.sm}) are not supported by drivers after the R{limit.max_branch}"
                    f" branch; driver {driver} is newer [{limit.source}]"
                )
        return None


def normalize_gpu_name(name: str, *, strip_suffixes: bool = False) -> str:
    """The lookup key of a GPU name: lower case, no spaces/dashes/parentheses, no NVIDIA/Tesla/GeForce/Quadro.

    With `strip_suffixes`, the words nvidia-smi prints around a model name are dropped as well: a MIG
    profile and everything after "MIG", memory sizes and types, form factors, editions, "Ada Generation"'s
    "Generation", "Laptop GPU", "Max-Q", "SUPER" (none changes the compute capability).
    """
    words = re.sub(r"[\s\-_()/,]+", " ", name.strip().lower()).split()
    while words and words[0] in _NAME_PREFIXES:
        words.pop(0)
    if strip_suffixes:
        if "mig" in words[1:]:
            words = words[: words.index("mig", 1)]
        while len(words) > 1 and _NAME_SUFFIX_RE.match(words[-1]):
            words.pop()
        words = words[:1] + [w for w in words[1:] if not _NAME_NOISE_RE.match(w)]
    return "".join(words)


def merge_fragments(
    fragments: Sequence[KbFragment], user_files: tuple[Path, ...], digest: str
) -> KnowledgeBase:
    """The knowledge base of validated files in load order: a later row replaces an earlier one
    with the same key (GPU name or alias, CUDA version, release x variant x platform, ...)."""
    sources: dict[str, str] = {}
    gpus: dict[str, GpuInfo] = {}
    tegra: set[ComputeCapability] = set()
    toolkits: dict[str, CudaToolkit] = {}
    families: dict[int, CudaFamily] = {}
    limits: dict[str, GpuDriverLimit] = {}
    defaults: dict[Version, PypiDefault] = {}
    builds: dict[tuple[Version, str, str], TorchBuild] = {}
    for frag in fragments:
        sources.update(frag.sources)
        tegra.update(frag.tegra)
        for info in frag.gpus:
            for alias in (info.name, *info.aliases):
                gpus[normalize_gpu_name(alias)] = info
        toolkits.update((t.version, t) for t in frag.toolkits)
        families.update((f.major, f) for f in frag.families)
        limits.update((lim.key, lim) for lim in frag.driver_limits)
        for d in frag.pypi_defaults:
            old = defaults.get(Version(d.release))
            merged = {**(old.variants if old else {}), **d.variants}
            defaults[Version(d.release)] = replace(d, variants=merged)
        builds.update(((Version(b.release), b.variant, b.platform), b) for b in frag.builds)
    gpus = {k: replace(g, tegra=g.cc in tegra) for k, g in gpus.items()}
    known = {g.cc for g in gpus.values()} | tegra
    for b in builds.values():
        known.update(b.sass)
        known.update(b.ptx)
    return KnowledgeBase(
        digest=digest,
        files=user_files,
        sources=sources,
        gpus=gpus,
        tegra=frozenset(tegra),
        toolkits=toolkits,
        families=families,
        driver_limits=tuple(limits.values()),
        pypi_defaults=defaults,
        builds=builds,
        known_ccs=frozenset(known),
    )


def _compare_driver(a: str, b: str) -> int:
    from envlock.kb.rules import compare_driver  # rules are not needed to load or look up rows

    return compare_driver(a, b)


def _variant_order(variant: str) -> tuple[int, ...]:
    cuda = variant_cuda(variant)
    return tuple(int(p) for p in cuda.split(".")) if cuda else (-1,)


def _version(release: str) -> Version:
    """The public version of a release ("2.5.1+cu124" -> 2.5.1); ValueError if it is not a version."""
    try:
        version = Version(release)
    except InvalidVersion:
        raise ValueError(f"{release!r} is not a torch release, expected a version like '2.5.1'") from None
    return Version(version.public) if version.local else version
