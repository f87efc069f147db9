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
            # a local wheel of a direct reference: its path, relative to the spec's directory
            where = a.url or (p.source.location if p.source and not p.source.built else None)
            if where is None:  # a wheel envlock built has no place outside envlock's cache
                origin = p.source.describe() if p.source else "?"
                out.append(f"# {p.name} {p.version}: built by envlock from {origin}")
                continue
            out.append(f"{p.name} @ {redact_url(where)} \\")
            out.append(f"    --hash=sha256:{a.sha256}")
    return "\n".join(out) + "\n"
