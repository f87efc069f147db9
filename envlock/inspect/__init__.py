"""List the SASS and PTX architectures inside CUDA binaries, wheels and environments, and verify them."""

from __future__ import annotations

from envlock.inspect.model import BinaryReport, CorruptBinaryError, FatbinEntry, NotABinaryError
from envlock.inspect.scan import inspect_directory, inspect_elf, inspect_path, inspect_wheel

__all__ = [
    "BinaryReport",
    "CorruptBinaryError",
    "FatbinEntry",
    "NotABinaryError",
    "inspect_directory",
    "inspect_elf",
    "inspect_path",
    "inspect_wheel",
]
