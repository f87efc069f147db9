"""The env spec: `envlock.toml` (or `[tool.envlock]` in `pyproject.toml`) read into validated values.

The parser (and with it `packaging` and the knowledge base) is imported when one of its names is first
used, not with the package: `envlock.spec.driver`, which node detection uses on every store hit, is
part of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envlock.spec.parse import find_spec, load_spec, spec_hash

__all__ = ["find_spec", "load_spec", "spec_hash"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from envlock.spec import parse

        return getattr(parse, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
