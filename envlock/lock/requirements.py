"""Export one lock target as a hash-pinned requirements file (`pip install --require-hashes -r`)."""

from __future__ import annotations

from envlock.display import redact_url
from envlock.lock.model import Lock, LockedTarget


def export_requirements(lock: Lock, target: LockedTarget) -> str:
    """Direct-URL requirements with every sha256, so pip and uv fetch exactly the locked files.

    URLs are written without userinfo: credentials come from the installer's netrc or keyring.
    """
    out = [
        f"# Requirements export of target {target.name!r} of an envlock lock (envlock export).",
        f"# Valid for Python {target.python} on {target.platform} only; install with",
        "#   pip install --no-deps --require-hashes -r THIS_FILE",
    ]
    for p in target.packages:
        for a in p.artifacts[:1]:
            out.append(f"{p.name} @ {redact_url(a.url)} \\")
            out.append(f"    --hash=sha256:{a.sha256}")
    return "\n".join(out) + "\n"
