"""py-rattler, the conda library behind the `[conda]` part: an optional dependency, imported on use."""

from __future__ import annotations

from types import ModuleType

from envlock.errors import UsageError


def require_rattler() -> ModuleType:
    """The rattler module, or a UsageError saying how to get it."""
    try:
        import rattler
    except ImportError:
        raise UsageError(
            "the lock or spec has a [conda] part, and py-rattler (the conda library envlock uses) "
            "is not installed",
            hint="pip install 'envlock[conda]'",
        ) from None
    return rattler
