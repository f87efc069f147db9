"""Resolver backends behind one small interface: uv (the engine) and pip-tools (cross-check).

A backend turns one `ResolutionRequest` (one target, one torch variant) into a `Resolution`:
the exact files of every package, as the backend saw them. Everything CUDA-specific happens
around the backends, in `envlock.solve`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolutionRequest:
    """What to resolve, for which interpreter and platform, from which indexes."""

    requirements: tuple[str, ...]  # PEP 508
    constraints: tuple[str, ...]  # PEP 508 constraints (e.g. `torch!=2.8.0`)
    python: str  # "3.11"
    platform: str  # "linux-x86_64"
    glibc: str  # "2.28"
    default_index: str
    extra_indexes: tuple[str, ...]
    pinned: tuple[tuple[str, str], ...]  # (project, index URL): only that index may serve it
    exclude_newer: str | None
    # `name==version` pins of the previous lock: kept unless the request needs otherwise
    preferences: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedFile:
    """One file of a resolved package as the backend reported it."""

    url: str
    filename: str
    sha256: str | None
    size: int | None
    upload_time: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedPackage:
    name: str
    version: str
    files: tuple[ResolvedFile, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolution:
    """The backend's answer: every package of the set, sorted by name."""

    packages: tuple[ResolvedPackage, ...]
    backend: str  # "uv 0.13.9" / "pip-tools 7.4.1"

    def package(self, name: str) -> ResolvedPackage | None:
        for p in self.packages:
            if p.name == name:
                return p
        return None


class ResolverBackend(Protocol):
    """A resolution engine."""

    name: str
    offline: bool  # resolves from its own cache alone, never asking an index (uv can; pip-tools cannot)

    def version(self) -> str:
        """The engine's version, recorded in the lock."""

    def resolve(self, request: ResolutionRequest) -> Resolution:
        """Resolve `request`; raise ResolutionError when unsatisfiable, NetworkError on index failures."""
