"""The seam through which long work reports progress without knowing about terminals."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives progress from long work; the CLI shows it on a terminal and drops it in a pipe."""

    def step(self, message: str) -> None:
        """A new phase has begun (`resolving h100 cu124`)."""

    def warn(self, message: str) -> None:
        """Something the user should know that does not stop the work."""


class Silent:
    """A Progress that drops everything (library use, tests)."""

    def step(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass
