"""The seam through which long work reports progress without knowing about terminals."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives progress from long work; the CLI shows it on a terminal and drops it in a pipe."""

    def step(self, message: str) -> None:
        """A new phase has begun (`resolving h100 cu124`)."""

    def warn(self, message: str) -> None:
        """Something the user should know that does not stop the work."""


class PhaseLog(Protocol):
    """Receives the few phases of long work (lease won, downloading, installing, published), which the
    CLI writes as one plain line each even without a terminal: the log of a batch job."""

    def phase(self, message: str) -> None:
        """A phase has begun or ended (`downloading 12 files / 340.2 MB`)."""


class Silent:
    """A Progress that drops everything (library use, tests)."""

    def step(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def phase(self, message: str) -> None:
        pass
