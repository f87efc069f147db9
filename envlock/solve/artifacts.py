"""Turn a backend's resolved files into locked artifacts: index, size, sha256, upload time.

The index the file came from, its size, upload time and yank state are read from the index pages
themselves. When an index gives no sha256 for a file (download.pytorch.org leaves many without),
envlock downloads the file and hashes it, checks that against what the backend saw, and records
`hash-source = "downloaded"` in the lock.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from envlock.errors import IntegrityError, ResolutionError
from envlock.index import IndexClient
from envlock.index.auth import redact_url
from envlock.index.errors import ProjectNotFound
from envlock.index.model import IndexFile
from envlock.lock.model import Artifact, LockedPackage
from envlock.resolvers import ResolvedFile, ResolvedPackage


def _find(client: IndexClient, indexes: Sequence[str], name: str, filename: str) -> tuple[str, IndexFile | None]:
    for index in indexes:
        try:
            page = client.project(index, name)
        except ProjectNotFound:
            continue
        for f in page.files:
            if f.filename == filename:
                return page.index, f
    return indexes[0], None


def _artifact(client: IndexClient, rf: ResolvedFile, listed: IndexFile | None, scratch: Path) -> Artifact:
    url = listed.url if listed else redact_url(rf.url)
    sha256 = listed.sha256 if listed else None
    size = listed.size if listed else None
    source = "index"
    if sha256 is None:
        got, got_size = client.download(url, scratch / rf.filename)
        (scratch / rf.filename).unlink(missing_ok=True)
        if rf.sha256 and rf.sha256 != got:
            raise IntegrityError(
                f"{rf.filename}: the resolver saw sha256 {rf.sha256} but the file downloaded from "
                f"{url} hashes to {got}",
                hint="the index is serving different bytes for the same file; retry, and report it to "
                "the index operator if it persists",
            )
        sha256, size, source = got, got_size, "downloaded"
    elif rf.sha256 and rf.sha256 != sha256:
        raise IntegrityError(
            f"{rf.filename}: the index lists sha256 {sha256} but the resolver saw {rf.sha256}",
            hint="the index changed while solving; retry",
        )
    if size is None:
        size = rf.size if rf.size is not None else client.file_info(url)[0]
    return Artifact(
        filename=rf.filename,
        url=url,
        size=size,
        sha256=sha256,
        hash_source=source,
        upload_time=(listed.upload_time if listed else None) or rf.upload_time,
        yanked=listed.yanked if listed else False,
    )


def _best_wheel(
    client: IndexClient, indexes: Sequence[str], name: str, version: str, tags: Sequence[Tag]
) -> ResolvedFile | None:
    """The most specific wheel of `name==version` for the target, for backends that report no files."""
    rank = {tag: i for i, tag in enumerate(tags)}
    for index in indexes:
        try:
            page = client.project(index, name)
        except ProjectNotFound:
            continue
        fitting = [
            (min(rank.get(t, len(rank)) for t in f.tags), f)
            for f in page.files
            if f.is_wheel and not f.yanked and f.version == Version(version) and not f.tags.isdisjoint(rank)
        ]
        if fitting:
            f = min(fitting, key=lambda pair: (pair[0], pair[1].filename))[1]
            return ResolvedFile(url=f.url, filename=f.filename, sha256=None, size=None, upload_time=None)
    return None


def lock_packages(
    client: IndexClient,
    resolved: Sequence[ResolvedPackage],
    *,
    pinned: dict[str, str],
    indexes: Sequence[str],
    tags: Sequence[Tag],
) -> tuple[LockedPackage, ...]:
    """Locked packages, sorted by name, for a resolution (pinned projects come from their index).

    `tags` are the target's wheel tags, most specific first; they pick the file for backends
    that report only names and versions.
    """
    out: list[LockedPackage] = []
    with tempfile.TemporaryDirectory(prefix="envlock-hash-") as tmp:
        for pkg in resolved:
            name = canonicalize_name(pkg.name)
            search = [pinned[name]] if name in pinned else list(indexes)
            artifacts: list[Artifact] = []
            index = search[0]
            files = pkg.files
            if not files:
                found = _best_wheel(client, search, name, pkg.version, tags)
                if found is None:
                    raise ResolutionError(
                        f"{name} {pkg.version}: no wheel for this target on " + ", ".join(search),
                        hint="the resolver picked a version the indexes have no wheel of; use --resolver uv",
                    )
                files = (found,)
            for rf in files:
                index, listed = _find(client, search, name, rf.filename)
                artifacts.append(_artifact(client, rf, listed, Path(tmp)))
            out.append(
                LockedPackage(
                    name=name,
                    version=pkg.version,
                    index=index,
                    artifacts=tuple(sorted(artifacts, key=lambda a: a.filename)),
                )
            )
    return tuple(sorted(out, key=lambda p: p.name))
