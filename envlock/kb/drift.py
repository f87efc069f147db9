"""Drift between an index and the knowledge base: torch releases, variants and CUDA minors the index
serves that the knowledge base does not describe (what `tools/kb_drift.py` reports).

Pure: it compares file names and versions that the caller read from the indexes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from envlock.kb.knowledge import KnowledgeBase
from envlock.kb.model import VARIANT_RE, variant_cuda


@dataclass(frozen=True, slots=True, kw_only=True)
class Drift:
    """What the index has and the knowledge base lacks; `found` is True when anything is listed."""

    releases: tuple[str, ...]  # torch releases with no row at all ("2.16.0")
    builds: tuple[str, ...]  # releases the KB knows, on a variant it has no row for ("2.15.0+cu126")
    variants: tuple[str, ...]  # variants with no row in any release ("cu135")
    cuda_minors: tuple[str, ...]  # CUDA X.Y with no toolkit row ("13.6")
    unconfirmed: tuple[str, ...]  # CUDA X.Y the KB lists without a confirmed native driver (not a failure)

    @property
    def found(self) -> bool:
        return bool(self.releases or self.builds or self.variants or self.cuda_minors)

    def lines(self) -> list[str]:
        """The report, one finding per line."""
        out = [f"torch release missing from the knowledge base: {r}" for r in self.releases]
        out += [f"torch build missing from the knowledge base: {b}" for b in self.builds]
        out += [f"variant missing from the knowledge base: {v}" for v in self.variants]
        out += [f"CUDA minor missing from the knowledge base: {c}" for c in self.cuda_minors]
        out += [f"CUDA minor without a confirmed native driver (judged by its family floor): {c}"
                for c in self.unconfirmed]  # fmt: skip
        return out


def _xy(version: str) -> str | None:
    try:
        v = Version(version)
    except InvalidVersion:
        return None
    return f"{v.major}.{v.minor}"


def compare(kb: KnowledgeBase, torch_files: Iterable[str], runtime_versions: Iterable[str]) -> Drift:
    """Drift of torch wheel file names (any index, local labels kept) and CUDA runtime versions
    (`nvidia-cuda-runtime*` on the default index) against `kb`.

    Pre-releases, releases older than the knowledge base's oldest row and non-CUDA local labels
    (ROCm, XPU) are left out: the knowledge base does not try to describe them.
    """
    known_releases = {v for v, _, _ in kb.builds}
    known_pairs = {(v, variant) for v, variant, _ in kb.builds}
    oldest = min(known_releases) if known_releases else Version("0")
    known_variants = set(kb.known_variants())
    releases: set[Version] = set()
    builds: set[tuple[Version, str]] = set()
    variants: set[str] = set()
    minors: set[str] = set()
    for filename in torch_files:
        try:
            _, version, _, _ = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        public = Version(version.public)
        if version.is_prerelease or version.is_devrelease or public < oldest:
            continue
        local = str(version.local or "")
        if local and not VARIANT_RE.match(local):
            continue  # rocm6.2, xpu: not variants envlock serves
        if public not in known_releases:
            releases.add(public)
        if local and local != "cpu":
            if local not in known_variants:
                variants.add(local)
            elif public in known_releases and (public, local) not in known_pairs:
                builds.add((public, local))
            cuda = variant_cuda(local)
            if cuda:
                minors.add(cuda)
    for runtime in runtime_versions:
        xy = _xy(runtime)
        if xy is not None:
            minors.add(xy)
    missing = sorted((m for m in minors if kb.cuda_toolkit(m) is None), key=Version)
    unconfirmed = sorted(
        (m for m in minors if (t := kb.cuda_toolkit(m)) is not None and t.min_driver_linux is None),
        key=Version,
    )
    return Drift(
        releases=tuple(str(r) for r in sorted(releases)),
        builds=tuple(f"{r}+{v}" for r, v in sorted(builds)),
        variants=tuple(sorted(variants, key=lambda v: Version(variant_cuda(v) or "0"))),
        cuda_minors=tuple(missing),
        unconfirmed=tuple(unconfirmed),
    )
