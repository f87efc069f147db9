"""The content-addressed store: immutable environments, artifacts by sha256, roots, leases, GC."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from envlock.store.layout import ENV_RECORD, ENV_STORE, StoreLayout, default_store_root, env_dir_name

if TYPE_CHECKING:  # kept out of the store-hit path: they pull in threading
    from envlock.store.lease import LeaseHolder, LeaseInfo
    from envlock.store.local import BuildOutcome


class Store(Protocol):
    """Where environments live once built; `LocalStore` is the one implementation."""

    layout: StoreLayout

    def lookup(self, name: str) -> Path | None:
        """The published environment `name`, or None."""

    def build(
        self,
        name: str,
        *,
        info: LeaseInfo,
        build: Callable[[Path], None],
        after_publish: Callable[[Path], None] | None = None,
        on_wait: Callable[[LeaseHolder | None], None] | None = None,
    ) -> BuildOutcome:
        """Build `name` once across every process sharing the store, and publish it atomically."""


__all__ = [
    "ENV_RECORD",
    "ENV_STORE",
    "Store",
    "StoreLayout",
    "default_store_root",
    "env_dir_name",
]
