"""The rule for a driver version a user writes: the full version nvidia-smi prints, not a branch.

Shared by the spec (`[[target]].driver`) and node detection (`ENVLOCK_DRIVER`), so that both accept
and refuse the same text. A bare branch ("550") used to be read as 550.0 and could turn a native
choice into minor-version compatibility without a word; it is refused with what to write instead.
Linux drivers have three parts ("550.54.15"), older Linux and Windows drivers two ("390.157",
"551.61"); both are full versions.
"""

from __future__ import annotations

import re

_FULL_RE = re.compile(r"^\d+\.\d+(\.\d+){0,2}$")
_BRANCH_RE = re.compile(r"^\d+$")
EXPECTED = 'the full driver version nvidia-smi prints, like "550.54.15"'


def driver_problem(text: str) -> tuple[str, str] | None:
    """None when `text` is a full driver version; else (what is wrong, hint)."""
    if _FULL_RE.match(text):
        return None
    if _BRANCH_RE.match(text):
        return (
            f'"{text}" is a driver branch, not a full version',
            "write the whole Driver Version that nvidia-smi prints on the oldest node "
            '(like "550.54.15"), not only its branch',
        )
    return (
        f'"{text}" is not a driver version',
        "copy the Driver Version that nvidia-smi prints on the oldest node",
    )
