"""List the SASS and PTX architectures inside CUDA binaries, wheels and environments, and verify them."""

from __future__ import annotations

from envlock.inspect.model import BinaryReport, CorruptBinaryError, NotABinaryError
from envlock.inspect.scan import inspect_elf, inspect_path
from envlock.inspect.verify import ArchVerification, check_reports, disagreement_with_kb, verify_environment

__all__ = [
    "ArchVerification",
    "BinaryReport",
    "CorruptBinaryError",
    "NotABinaryError",
    "check_reports",
    "disagreement_with_kb",
    "inspect_elf",
    "inspect_path",
    "verify_environment",
]
