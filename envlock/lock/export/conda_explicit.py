"""Export one lock target's `[conda]` part as an `@EXPLICIT` file that conda, mamba and micromamba install.

Each line is a package URL with its md5 after `#` (the form every conda client reads); the lock's
sha256 stays the reference for envlock's own installs. The PyPI part is not in the file: install it
with the requirements or pylock export into the prefix's Python.
"""

from __future__ import annotations

from envlock.errors import UsageError
from envlock.lock.model import Lock, LockedTarget


def export_conda_explicit(lock: Lock, target: LockedTarget) -> str:
    """The `@EXPLICIT` text for `target`; UsageError when it has no conda part."""
    if not target.conda:
        raise UsageError(
            f"target {target.name} has no [conda] part to export",
            hint="use --format pylock or requirements for the PyPI part",
        )
    subdirs = sorted({c.subdir for c in target.conda if c.subdir != "noarch"})
    out = [
        f"# conda explicit export of target {target.name!r} of {lock.inputs.name} (envlock export)",
        f"# platform: {subdirs[0] if subdirs else 'noarch'}",
        "# create with: micromamba create -p PREFIX -f THIS_FILE   (or conda/mamba create --file)",
        "@EXPLICIT",
    ]
    for c in target.conda:
        out.append(f"{c.artifact.url}#{c.md5}" if c.md5 else c.artifact.url)
    return "\n".join(out) + "\n"
