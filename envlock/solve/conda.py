"""Solve a target's `[conda]` part with rattler, for the target's platform, not this machine's.

rattler (py-rattler, the conda ecosystem's library) fetches the channels' repodata and solves; envlock
writes no conda solver or repodata parser. What the machine would report as virtual packages comes
from the target instead: `__cuda` is the newest CUDA the target's lowest driver runs natively
(from the knowledge base's driver floors), `__glibc` the target's glibc floor, `__linux` a kernel
of that era (`LINUX_KERNEL`), `__unix`, `__osx`, `__win` and `__archspec` from its platform.
Like uv for the PyPI part, rattler reaches the channels by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envlock._rattler import require_rattler
from envlock.display import redact_url
from envlock.errors import NetworkError, SpecError
from envlock.kb import KnowledgeBase
from envlock.kb.model import parse_driver
from envlock.lock.model import Artifact, CondaPackage
from envlock.spec.model import CondaSpec

CONDA_SUBDIRS = {
    "linux-x86_64": "linux-64",
    "linux-aarch64": "linux-aarch64",
    "macos-arm64": "osx-arm64",
    "windows-amd64": "win-64",
}
LINUX_KERNEL = "4.18"  # the kernel of the glibc-2.28 generation (RHEL 8); targets do not declare one
MACOS_VERSION = "11.0"  # the first macOS on Apple silicon


@dataclass(frozen=True, slots=True, kw_only=True)
class CondaProblem:
    """Why the conda part cannot be solved for a target (rattler's own explanation)."""

    reason: str
    fix: str


def native_cuda(driver: str | None, platform: str, kb: KnowledgeBase) -> str | None:
    """The newest CUDA X.Y whose toolkit `driver` runs natively (the `__cuda` a node would show)."""
    if driver is None:
        return None
    have = parse_driver(driver)
    best: tuple[int, int] | None = None
    for major in range(10, 20):
        for minor in range(0, 10):
            toolkit = kb.cuda_toolkit(f"{major}.{minor}")
            if toolkit is None:
                continue
            floor = toolkit.min_driver_windows if platform == "windows-amd64" else toolkit.min_driver_linux
            if floor and parse_driver(floor) <= have:
                best = max(best or (0, 0), (major, minor))
    return f"{best[0]}.{best[1]}" if best else None


def virtual_packages(*, platform: str, glibc: str, cuda: str | None) -> list[tuple[str, str, str]]:
    """(name, version, build) of the virtual packages a node of the target would have."""
    arch = "aarch64" if platform.endswith(("aarch64", "arm64")) else "x86_64"
    out: list[tuple[str, str, str]] = [("__archspec", "1", arch)]
    if platform.startswith("linux"):
        out += [("__linux", LINUX_KERNEL, "0"), ("__glibc", glibc, "0"), ("__unix", "0", "0")]
    elif platform.startswith("macos"):
        out += [("__osx", MACOS_VERSION, "0"), ("__unix", "0", "0")]
    else:
        out.append(("__win", "0", "0"))
    if cuda is not None:
        out.append(("__cuda", cuda, "0"))
    return out


def channel_url(channel: str) -> str:
    """A channel as a URL: names resolve under conda's default alias (https://conda.anaconda.org)."""
    import rattler

    return str(rattler.Channel(channel).base_url).rstrip("/")


def solve_conda(
    conda: CondaSpec,
    *,
    platform: str,
    glibc: str,
    driver: str | None,
    kb: KnowledgeBase,
    cache_dir: Path,
    exclude_newer: str | None = None,
) -> tuple[CondaPackage, ...] | CondaProblem:
    """The conda packages of `conda` for one target, sorted by name.

    Raises SpecError for a match spec rattler cannot parse, NetworkError when a channel cannot be
    read (exit 3: a retry may cure it).
    """
    rattler = require_rattler()
    import rattler.exceptions as rx

    subdir = CONDA_SUBDIRS[platform]
    cuda = native_cuda(driver, platform, kb)
    virtual = [
        rattler.GenericVirtualPackage(rattler.PackageName(n), rattler.Version(v), rattler.BuildString(b))
        for n, v, b in virtual_packages(platform=platform, glibc=glibc, cuda=cuda)
    ]
    for i, text in enumerate(conda.dependencies):
        try:
            rattler.MatchSpec(text)
        except rx.InvalidMatchSpecError as exc:
            raise SpecError(
                f"conda.dependencies[{i}]: {text!r} is not a conda match spec ({exc})",
                hint='write a match spec like "python 3.11.*" or "openmpi >=4.1"',
            ) from None
    channels = [rattler.Channel(c) for c in conda.channels]
    newer = dt.datetime.fromisoformat(exclude_newer.replace("Z", "+00:00")) if exclude_newer else None
    try:
        with _GATEWAYS.use(cache_dir) as gateway:
            records = asyncio.run(
                rattler.solve(
                    sources=channels,
                    specs=list(conda.dependencies),
                    gateway=gateway,
                    platforms=[rattler.Subdir(subdir), rattler.Subdir("noarch")],
                    virtual_packages=virtual,
                    exclude_newer=newer,
                    timestamp_policy="allow-missing" if newer else "require-timestamp",
                )
            )
    except rx.SolverError as exc:
        where = f"{platform}, glibc {glibc}, " + (
            f"driver {driver} (CUDA <= {cuda})" if driver else "no driver"
        )
        return CondaProblem(
            reason=f"the [conda] part cannot be solved for {where}: {_one_paragraph(str(exc))}",
            fix="relax [conda].dependencies, or raise the target's driver/glibc",
        )
    except (rx.GatewayError, rx.FetchRepoDataError, rx.IoError) as exc:
        names = ", ".join(redact_url(channel_url(c)) for c in conda.channels)
        raise NetworkError(
            f"cannot read the conda channels ({names}): {_one_paragraph(str(exc))}",
            hint="check [conda].channels and the network (or the mirror); retry later",
        ) from None
    return tuple(sorted((_locked(r) for r in records), key=lambda p: p.name))


class _SharedGateways:
    """rattler Gateways shared by the solves that run at the same time.

    The targets of one `envlock solve` are solved in threads of their own, at once; sharing one
    Gateway lets them read each channel's repodata once (every target reads `noarch`; targets of
    one platform read the same subdir). A Gateway keeps what it read in memory, so it lives only
    while a solve uses it: the next solve (a later test in the same process, say) reads the
    channels again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Path, tuple[Any, int]] = {}

    @contextlib.contextmanager
    def use(self, cache_dir: Path) -> Iterator[Any]:
        import rattler

        with self._lock:
            gateway, users = self._open.get(cache_dir) or (rattler.Gateway(cache_dir=cache_dir), 0)
            self._open[cache_dir] = (gateway, users + 1)
        try:
            yield gateway
        finally:
            with self._lock:
                gateway, users = self._open[cache_dir]
                if users == 1:
                    del self._open[cache_dir]
                else:
                    self._open[cache_dir] = (gateway, users - 1)


_GATEWAYS = _SharedGateways()


def _one_paragraph(text: str) -> str:
    return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _locked(r: object) -> CondaPackage:
    import rattler

    assert isinstance(r, rattler.RepoDataRecord)
    if r.sha256 is None or r.size is None:
        raise NetworkError(
            f"{r.file_name}: the channel's repodata gives no sha256 or size for it",
            hint="envlock locks conda packages by sha256; use a channel whose repodata lists them",
        )
    noarch = str(r.noarch) if r.noarch and r.noarch.none is False else None
    return CondaPackage(
        name=r.name.normalized,
        version=str(r.version),
        build=str(r.build),
        build_number=r.build_number,
        subdir=str(r.subdir),
        channel=redact_url(str(r.channel).rstrip("/")),
        noarch=noarch,
        depends=tuple(r.depends),
        constrains=tuple(r.constrains),
        md5=r.md5.hex() if r.md5 is not None else None,
        artifact=Artifact(filename=r.file_name, url=redact_url(r.url), size=r.size, sha256=r.sha256.hex()),
    )
