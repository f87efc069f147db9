"""What an index says about a project: its page and the files listed on it (PEP 503 / PEP 691)."""

from __future__ import annotations

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
        try:
            if self.is_wheel:
                return parse_wheel_filename(self.filename)[1]
            return parse_sdist_filename(self.filename)[1]
        except (InvalidWheelFilename, InvalidSdistFilename):
            return None

    @property
    def tags(self) -> frozenset[Tag]:
        """The wheel's compatibility tags; empty for sdists and unparsable names."""
        if not self.is_wheel:
            return frozenset()
        try:
            return parse_wheel_filename(self.filename)[3]
        except InvalidWheelFilename:
            return frozenset()


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
