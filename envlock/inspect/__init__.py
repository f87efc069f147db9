"""List the SASS and PTX architectures inside CUDA binaries, wheels and environments, and verify them."""

from __future__ import annotations

from envlock.inspect.model import BinaryReport, CorruptBinaryError, FatbinEntry, NotABinaryError
from envlock.inspect.scan import inspect_directory, inspect_elf, inspect_path, inspect_wheel
from envlock.inspect.verify import (
    ArchVerification,
    LibraryGap,
    check_reports,
    disagreement_with_kb,
    verify_environment,
)

__all__ = [
    "ArchVerification",
    "BinaryReport",
    "CorruptBinaryError",
    "FatbinEntry",
    "LibraryGap",
    "NotABinaryError",
    "check_reports",
    "disagreement_with_kb",
    "inspect_directory",
    "inspect_elf",
    "inspect_path",
    "inspect_wheel",
    "verify_environment",
]
