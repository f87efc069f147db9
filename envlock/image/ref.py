"""Image references in skopeo's transport syntax: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
`docker://HOST[:PORT]/REPO[:TAG|@sha256:HEX]`, and `scratch` (an empty base)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from envlock.errors import UsageError

TRANSPORTS = ("oci", "oci-archive", "docker")
# The distribution spec's grammar for tags and repository path components.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_REPO = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_HOST = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]+)?|\[[0-9A-Fa-f:]+\](?::[0-9]+)?")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageRef:
    """One parsed reference. `path` for oci/oci-archive; `host`/`repo` for docker."""

    transport: str  # "oci" | "oci-archive" | "docker" | "scratch"
    path: str = ""
    host: str = ""
    repo: str = ""
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        if self.transport == "scratch":
            return "scratch"
        if self.transport == "docker":
            text = f"docker://{self.host}/{self.repo}"
            if self.tag:
                text += f":{self.tag}"
            if self.digest:
                text += f"@{self.digest}"
            return text
        return f"{self.transport}:{self.path}" + (f":{self.tag}" if self.tag else "")

    @property
    def name(self) -> str:
        """`HOST/REPO` of a registry reference (what `org.opencontainers.image.base.name` records)."""
        return f"{self.host}/{self.repo}" if self.transport == "docker" else ""

    def with_tag(self, tag: str) -> ImageRef:
        from dataclasses import replace

        return replace(self, tag=tag)


def _bad(text: str, what: str, option: str) -> UsageError:
    return UsageError(
        f"{option} {text!r}: {what}",
        hint="write oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker://HOST[:PORT]/REPO[:TAG|@sha256:...]"
        + (", or scratch" if option == "--base" else ""),
        details={"reference": text},
    )


def parse_ref(text: str, *, option: str, allow_scratch: bool = False) -> ImageRef:
    """Parse `text` (the value of `option`); raises UsageError (exit 2) for an unknown transport or
    a malformed reference."""
    if text == "scratch":
        if not allow_scratch:
            raise _bad(text, "scratch is only a base, and only for --layer-only", option)
        return ImageRef(transport="scratch")
    transport, sep, rest = text.partition(":")
    if not sep or transport not in TRANSPORTS:
        raise _bad(text, f"unknown transport {transport!r} (known: oci, oci-archive, docker)", option)
    if transport == "docker":
        return _parse_docker(text, rest, option)
    if not rest:
        raise _bad(text, "no path", option)
    path, tag = rest, None
    head, colon, last = rest.rpartition(":")
    if colon and head and "/" not in last:
        path, tag = head, last
        if not _TAG.fullmatch(tag):
            raise _bad(text, f"{tag!r} is not a valid tag", option)
    return ImageRef(transport=transport, path=path, tag=tag)


def _parse_docker(text: str, rest: str, option: str) -> ImageRef:
    if not rest.startswith("//"):
        raise _bad(text, "a registry reference starts with docker://", option)
    body = rest[2:]
    digest = None
    if "@" in body:
        body, _, digest = body.partition("@")
        if not _DIGEST.fullmatch(digest):
            raise _bad(text, f"{digest!r} is not a sha256 digest", option)
    host, slash, path = body.partition("/")
    if not slash or not _HOST.fullmatch(host) or not path:
        raise _bad(text, "expected HOST[:PORT]/REPO after docker://", option)
    tag = None
    head, colon, last = path.rpartition(":")
    if colon:
        path, tag = head, last
        if not _TAG.fullmatch(tag):
            raise _bad(text, f"{tag!r} is not a valid tag", option)
    if not _REPO.fullmatch(path):
        raise _bad(text, f"{path!r} is not a valid repository name (lower case, digits, . _ - /)", option)
    return ImageRef(transport="docker", host=host, repo=path, tag=tag, digest=digest)
