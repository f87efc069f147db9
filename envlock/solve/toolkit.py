"""Lock the CUDA toolkit components of `[cuda] toolkit` for a target, from NVIDIA's redist manifests.

The target's locked CUDA runtime (X.Y) picks the release: the newest `redistrib_X.Y.Z.json` under
the redist base whose manifest offers every wanted component for the target's platform. Each
component archive is locked like a package file, by URL, size and sha256, with the component's
own version. The manifest is input from a server or a mirror: every path and digest in it is
checked before it goes into a lock.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from packaging.version import InvalidVersion, Version

from envlock.display import redact_url
from envlock.errors import IndexFormatError, SpecError
from envlock.index.errors import ArtifactNotFound
from envlock.kb.toolkit import component_key, manifest_components, redist_platform, wheel_extra
from envlock.lock.model import Artifact, LockedPackage

_RELEASE_RE = re.compile(r"""href=["'](?:[^"'>]*/)?redistrib_(\d+\.\d+\.\d+)\.json["']""")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_PATH_RE = re.compile(r"[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)*")
MAX_ARCHIVE_SIZE = 8 << 30  # no CUDA component archive comes near this; a larger claim is a bad manifest


class DocumentSource(Protocol):
    def document(self, url: str) -> bytes: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedToolkit:
    release: str  # "12.4.1"
    components: tuple[LockedPackage, ...]  # sorted by name


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolkitProblem:
    """Why no toolkit release serves the target, and what would."""

    reason: str
    fix: str


def releases(client: DocumentSource, base: str) -> list[str]:
    """The toolkit releases the redist base lists, newest first."""
    listing = client.document(base.rstrip("/") + "/").decode("utf-8", "replace")
    found = {m.group(1) for m in _RELEASE_RE.finditer(listing)}
    return sorted(found, key=Version, reverse=True)


def lock_toolkit(
    client: DocumentSource,
    *,
    base: str,
    cuda: str,
    platform: str,
    jetson: bool,
    wanted: Sequence[str],
) -> LockedToolkit | ToolkitProblem:
    """The newest release of CUDA `cuda` (X.Y) that offers every `wanted` component for `platform`.

    Raises SpecError when a wanted name is no component of any release looked at (with a
    did-you-mean), IndexFormatError when a manifest is malformed, NetworkError as the client does.
    """
    base = base.rstrip("/")
    plat = redist_platform(platform, jetson=jetson)
    if plat is None:
        return ToolkitProblem(
            reason=f"NVIDIA publishes no CUDA toolkit for {platform}",
            fix="remove [cuda].toolkit, or use it only for Linux and Windows targets",
        )
    minor = [r for r in releases(client, base) if r.startswith(f"{cuda}.")]
    if not minor:
        return ToolkitProblem(
            reason=f"{redact_url(base)} has no CUDA {cuda} toolkit release (no redistrib_{cuda}.*.json)",
            fix=f"point [indexes].nvidia-redist at a mirror with CUDA {cuda}, "
            'or use toolkit-source = "index"',
        )
    known: set[str] = set()
    missing_here: dict[str, list[str]] = {}
    for release in minor:
        url = f"{base}/redistrib_{release}.json"
        manifest = _manifest(client, url)
        names = manifest_components(manifest)
        known.update(names)
        keys = {w: component_key(w, names) for w in wanted}
        if any(k is None for k in keys.values()):
            missing_here[release] = [w for w, k in keys.items() if k is None]
            continue
        absent = [k for k in keys.values() if k is not None and plat not in _table(manifest, k, url)]
        if absent:
            missing_here[release] = absent
            continue
        components = tuple(
            sorted(
                (_component(manifest, k, plat, base, url) for k in keys.values() if k is not None),
                key=lambda c: c.name,
            )
        )
        return LockedToolkit(release=release, components=components)
    unknown = [w for w in wanted if component_key(w, known) is None]
    if unknown:
        short = {wheel_extra(k): k for k in sorted(known)}  # "nvcc" -> "cuda_nvcc"
        close = [short[c] for c in difflib.get_close_matches(wheel_extra(unknown[0]), list(short), n=1)]
        raise SpecError(
            f"cuda.toolkit: {unknown[0]!r} is not a component of CUDA {cuda} "
            f"(releases {', '.join(minor)} of {redact_url(base)})",
            hint=f"did you mean {close[0]!r}?" if close else "component names: " + ", ".join(sorted(known)),
        )
    newest = minor[0]
    return ToolkitProblem(
        reason=f"CUDA {newest} toolkit: {', '.join(missing_here[newest])} not published for {plat}",
        fix=f"drop {', '.join(missing_here[newest])} from [cuda].toolkit",
    )


def _manifest(client: DocumentSource, url: str) -> dict[str, object]:
    try:
        body = client.document(url)
    except ArtifactNotFound:
        raise IndexFormatError(
            f"{redact_url(url)} is listed but cannot be fetched (404)",
            hint="the redist mirror is incomplete; retry later or use another mirror",
        ) from None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise IndexFormatError(
            f"{redact_url(url)} is not a redist manifest (not a JSON object)",
            hint="check [indexes].nvidia-redist: NVIDIA's redist directory or a mirror of it",
        )
    return data


def _table(manifest: dict[str, object], key: str, url: str) -> dict[str, object]:
    value = manifest[key]
    if not isinstance(value, dict):
        raise _bad(url, key, "is not an object")
    return value


def _component(manifest: dict[str, object], key: str, plat: str, base: str, url: str) -> LockedPackage:
    table = _table(manifest, key, url)
    entry = table[plat]
    version = table.get("version")
    if not isinstance(entry, dict) or not isinstance(version, str):
        raise _bad(url, key, "has no version or no object per platform")
    try:
        Version(version)
    except InvalidVersion:
        raise _bad(url, key, f"version {version!r} is not a version") from None
    path, sha256, size = entry.get("relative_path"), entry.get("sha256"), entry.get("size")
    if not isinstance(path, str) or not _PATH_RE.fullmatch(path) or ".." in path.split("/"):
        raise _bad(url, key, f"{plat}.relative_path {path!r} is not a relative path inside the redist")
    if not isinstance(sha256, str) or not _SHA256_RE.fullmatch(sha256):
        raise _bad(url, key, f"{plat}.sha256 is not 64 lowercase hex digits")
    if not isinstance(size, str) or not size.isdigit() or not 0 < int(size) <= MAX_ARCHIVE_SIZE:
        raise _bad(url, key, f"{plat}.size {size!r} is not a plausible size in bytes")
    filename = path.rsplit("/", 1)[-1]
    return LockedPackage(
        name=key,
        version=version,
        index=redact_url(url),
        artifacts=(
            Artifact(filename=filename, url=f"{redact_url(base)}/{path}", size=int(size), sha256=sha256),
        ),
    )


def _bad(url: str, key: str, what: str) -> IndexFormatError:
    return IndexFormatError(
        f"{redact_url(url)}: component {key} {what}",
        hint="the manifest is damaged or not NVIDIA's; check [indexes].nvidia-redist",
    )
