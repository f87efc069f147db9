"""The env spec: `envlock.toml` (or `[tool.envlock]` in `pyproject.toml`) read into validated values."""

from __future__ import annotations

from envlock.spec.parse import find_spec, load_spec, spec_hash

__all__ = ["find_spec", "load_spec", "spec_hash"]
