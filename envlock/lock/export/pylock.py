"""Export one lock target as a standard PEP 751 `pylock.<target>.toml`.

The result installs with `uv pip install -r` and `pip install -r`, and validates with
`packaging.pylock`. URLs are written without userinfo (credentials belong in netrc or a
keyring). It is valid only on the target's platform and Python, which its
`environments` and `requires-python` say.
"""

from __future__ import annotations

from envlock import __version__
from envlock.display import redact_url
from envlock.lock.model import Artifact, DirectSource, Lock, LockedTarget
from envlock.lock.write import toml_string as _s
from envlock.platforms import Platform


def pylock_filename(target: str) -> str:
    """`pylock.<target>.toml`, the PEP 751 name for a named lock."""
    return f"pylock.{target}.toml"


def _upload_time(value: str | None) -> str | None:
    # PEP 751 wants a TOML datetime, not a string; RFC 3339 text is already TOML datetime syntax.
    if not value:
        return None
    return value if value.endswith(("Z", "+00:00")) else value + "Z"


def _file(a: Artifact) -> str:
    parts = [f"name = {_s(a.filename)}", f"url = {_s(redact_url(a.url))}", f"size = {a.size}"]
    upload = _upload_time(a.upload_time)
    if upload:
        parts.append(f"upload-time = {upload}")
    parts.append(f"hashes = {{ sha256 = {_s(a.sha256)} }}")
    return "{ " + ", ".join(parts) + " }"


def _direct(source: DirectSource, artifacts: tuple[Artifact, ...]) -> list[str]:
    """A direct reference in PEP 751 terms: its wheel (by path or URL), or the source it was
    built from (a directory, an archive URL, a git commit); paths are relative to the spec."""
    if source.kind == "git":
        parts = ['type = "git"', f"url = {_s(source.location)}", f"commit-id = {_s(source.commit or '')}"]
        if source.subdirectory:
            parts.append(f"subdirectory = {_s(source.subdirectory)}")
        return ["vcs = { " + ", ".join(parts) + " }"]
    if source.kind == "path" and source.built:
        return [f"directory = {{ path = {_s(source.location)} }}"]
    if source.kind == "url" and source.built:
        return [f"archive = {{ url = {_s(source.location)} }}"]
    where = f"path = {_s(source.location)}" if source.kind == "path" else f"url = {_s(source.location)}"
    lines = ["wheels = ["]
    for a in artifacts:
        lines.append(
            f"    {{ name = {_s(a.filename)}, {where}, size = {a.size}, "
            f"hashes = {{ sha256 = {_s(a.sha256)} }} }},"
        )
    return [*lines, "]"]


def export_pylock(lock: Lock, target: LockedTarget) -> str:
    """The text of the PEP 751 file for `target`."""
    platform = Platform.of(target.platform, python=target.python, glibc=target.glibc)
    out = [
        f"# PEP 751 export of target {target.name!r} of an envlock lock (envlock export).",
        f"# Valid for Python {target.python} on {target.platform} only.",
        'lock-version = "1.0"',
        f"environments = [{_s(platform.environment_marker())}]",
        f'requires-python = "=={target.python}.*"',
        "extras = []",
        "dependency-groups = []",
        "default-groups = []",
        'created-by = "envlock"',
    ]
    for p in target.packages:
        out += ["", "[[packages]]", f"name = {_s(p.name)}", f"version = {_s(p.version)}"]
        if p.source is not None:
            out += _direct(p.source, p.artifacts)
            continue
        out.append(f"index = {_s(redact_url(p.index))}")
        wheels = [a for a in p.artifacts if a.filename.endswith(".whl")]
        sdists = [a for a in p.artifacts if not a.filename.endswith(".whl")]
        if wheels:
            out.append("wheels = [")
            out += [f"    {_file(a)}," for a in wheels]
            out.append("]")
        if sdists:
            out.append(f"sdist = {_file(sdists[0])}")
    out += [
        "",
        "[tool.envlock]",
        f"target = {_s(target.name)}",
        f"variant = {_s(target.variant)}",
        f"env-hash = {_s(target.env_hash)}",
        f"lock-content-hash = {_s(lock.content_hash)}",
        f"envlock-version = {_s(__version__)}",
    ]
    return "\n".join(out) + "\n"
