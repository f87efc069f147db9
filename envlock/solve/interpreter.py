"""Pin a target's interpreter: the python-build-standalone build uv would install, by URL, size, sha256.

Which build: uv's own download metadata (`uv python list X.Y --only-downloads`), for the target's
platform (glibc builds on Linux, the `default` variant, `freethreaded` for "X.Yt"), the newest patch
release uv knows. The URL is the one uv would fetch, so `UV_PYTHON_INSTALL_MIRROR` (or uv's
`python-install-mirror` setting) decides where it comes from. uv does not print the sha256 of a
build, so envlock downloads the archive once through its index client and hashes it; the result is
kept in the cache (`<cache>/python-builds/`, keyed by URL), so later solves do not download again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
from pathlib import Path
from urllib.parse import unquote

from envlock.errors import ResolutionError
from envlock.index import IndexClient
from envlock.lock.model import Artifact, LockedInterpreter
from envlock.platforms import Platform


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _cache_file(cache_root: Path, url: str) -> Path:
    return cache_root / "python-builds" / (hashlib.sha256(url.encode()).hexdigest() + ".json")


def _hash_archive(client: IndexClient, url: str, cache_root: Path | None) -> tuple[str, int]:
    if cache_root is not None:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            data = json.loads(_cache_file(cache_root, url).read_text(encoding="utf-8"))
            return str(data["sha256"]), int(data["size"])
    with tempfile.TemporaryDirectory(prefix="envlock-python-") as tmp:
        sha, size = client.download(url, Path(tmp) / "archive")
    if cache_root is not None:
        path = _cache_file(cache_root, url)
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_name(path.name + ".part")
            part.write_text(json.dumps({"url": url, "sha256": sha, "size": size}), encoding="utf-8")
            part.replace(path)
    return sha, size


def pin_interpreter(
    python: str, platform: str, client: IndexClient, *, cache_root: Path | None = None, target: str = ""
) -> LockedInterpreter:
    """The interpreter build for Python `python` ("3.11", "3.13t") on `platform`, hashed.

    Raises ResolutionError when uv knows no such build, NetworkError when the archive cannot be read.
    """
    from envlock.resolvers.uv import python_downloads

    try:
        # The build uv lists for a platform does not depend on the target's glibc floor.
        where = Platform.of(platform, python=python, glibc="2.17").uv_python_download()
    except ValueError:
        raise ResolutionError(
            f"target {target}: envlock knows no python-build-standalone builds for {platform}",
            hint='set [env] interpreter = "system" in the spec for this platform',
        ) from None
    variant = "freethreaded" if python.endswith("t") else "default"
    builds = [
        d
        for d in python_downloads(python.rstrip("t"))
        if d.implementation == "cpython" and (d.os, d.arch, d.libc) == where and d.variant == variant
    ]
    if not builds:
        raise ResolutionError(
            f"target {target}: uv knows no CPython {python} build for {platform} to download",
            hint='upgrade uv, or set [env] interpreter = "system" in the spec',
        )
    build = max(builds, key=lambda d: _version_key(d.version))
    sha, size = _hash_archive(client, build.url, cache_root)
    return LockedInterpreter(
        implementation="cpython",
        version=build.version,
        artifact=Artifact(
            filename=unquote(build.url.rsplit("/", 1)[-1]),
            url=build.url,
            size=size,
            sha256=sha,
            hash_source="downloaded",
        ),
    )
