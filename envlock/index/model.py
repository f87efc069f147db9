"""What an index says about a project: its page and the files listed on it (PEP 503 / PEP 691)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version


@functools.lru_cache(maxsize=8192)
def _wheel_name(filename: str) -> tuple[Version, frozenset[Tag]] | None:
    """(version, tags) of a wheel file name, or None; parsed once per name (a page of a thousand
    torch files is looked at by several steps of a solve)."""
    try:
        _, version, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    return version, tags


@functools.lru_cache(maxsize=8192)
def _sdist_version(filename: str) -> Version | None:
    try:
        return parse_sdist_filename(filename)[1]
    except InvalidSdistFilename:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexFile:
    """One file of a project page, as the index listed it.

    `url` is absolute, without a fragment and without credentials. `hashes` holds
    `(algorithm, lowercase hex)` pairs sorted by algorithm; it is empty when the index gave none
    (download.pytorch.org leaves many files without a hash). `upload_time` is the RFC 3339 string
    exactly as the index wrote it; `size` is None when the index does not say (HTML pages).
    """

    filename: str
    url: str
    hashes: tuple[tuple[str, str], ...] = ()
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    size: int | None = None
    upload_time: str | None = None
    core_metadata: bool = False

    @property
    def sha256(self) -> str | None:
        """The sha256 the index gave for this file, or None."""
        for algorithm, digest in self.hashes:
            if algorithm == "sha256":
                return digest
        return None

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    @property
    def version(self) -> Version | None:
        """The version in the file name, local label kept (`2.5.1+cu124`); None if unparsable."""
        if self.is_wheel:
            parts = _wheel_name(self.filename)
            return parts[0] if parts else None
        return _sdist_version(self.filename)

    @property
    def tags(self) -> frozenset[Tag]:
        """The wheel's compatibility tags; empty for sdists and unparsable names."""
        parts = _wheel_name(self.filename) if self.is_wheel else None
        return parts[1] if parts else frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectPage:
    """The files an index lists for one project.

    `index` is the index base URL (credentials removed, trailing slash); `name` is the
    PEP 503-normalized project name; `serial` is the index's change serial when it gives one
    (`_last-serial` / `X-PyPI-Last-Serial`).
    """

    index: str
    name: str
    files: tuple[IndexFile, ...]
    serial: int | None = None


# Called with (bytes so far, total bytes or None) while a file downloads.
DownloadProgress = Callable[[int, "int | None"], None]
