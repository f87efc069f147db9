"""Choosing a resolver backend by name; the interface it implements is in `envlock.resolvers`."""

from __future__ import annotations

from envlock.errors import UsageError
from envlock.resolvers import ResolverBackend


def get_backend(name: str, *, offline: bool = False) -> ResolverBackend:
    """The backend called `name` ("uv" or "pip-tools"); `offline` reaches uv only, as pip-tools
    always asks the indexes."""
    if name == "uv":
        from envlock.resolvers.uv import UvBackend

        return UvBackend(offline=offline)
    if name == "pip-tools":
        from envlock.resolvers.piptools import PipToolsBackend

        return PipToolsBackend()
    raise UsageError(f"unknown resolver {name!r}", hint="use --resolver uv or --resolver pip-tools")
