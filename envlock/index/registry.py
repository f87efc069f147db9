"""The registry client: the one module that talks to OCI registries, by starting skopeo.

Why skopeo rather than HTTP written here: the distribution API's real-world parts (bearer-token
auth against the realm a registry names, basic auth, credential files and helpers in the formats
podman and docker write, mirrors and `registries.conf`, chunked uploads, cross-repository mounts,
retries) are large and subtle, and skopeo is the maintained implementation container users already
trust and configure. It uploads a blob only when a HEAD request shows the registry lacks it.

Credentials: `--creds USER:PASS` goes into a private auth file (mode 0600, removed afterwards),
never onto skopeo's command line; without it skopeo reads `REGISTRY_AUTH_FILE`,
`$XDG_RUNTIME_DIR/containers/auth.json` and `~/.docker/config.json` itself. skopeo's messages are
shown with any credential removed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from envlock import processes
from envlock.errors import IncompatibleNodeError, NetworkError, UsageError

_PROBLEMS = (
    ("connection refused", "the registry refused the connection (is it running? is the port right?)"),
    ("no such host", "the registry's host name does not resolve"),
    ("i/o timeout", "the registry did not answer in time"),
    ("server gave http response to https client", "the registry speaks plain HTTP"),
    ("unauthorized", "the registry refused the credentials (or none were given)"),
    ("authentication required", "the registry wants credentials"),
    ("denied", "the registry denied access"),
    ("x509", "the registry's TLS certificate is not trusted"),
    ("manifest unknown", "the registry has no such image or tag"),
    ("name unknown", "the registry has no such repository"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryAccess:
    """How to reach registries: TLS verification and optional `USER:PASS` credentials."""

    tls_verify: bool = True
    creds: str | None = None

    def __repr__(self) -> str:  # never show the credentials, not even in a traceback
        return f"RegistryAccess(tls_verify={self.tls_verify}, creds={'***' if self.creds else None})"


@dataclass(frozen=True, slots=True, kw_only=True)
class PushResult:
    uploaded: tuple[str, ...]  # blob digests skopeo sent
    skipped: tuple[str, ...]  # blob digests the registry already had


def skopeo_binary() -> str:
    found = shutil.which("skopeo")
    if not found:
        raise IncompatibleNodeError(
            "skopeo is not installed; envlock uses it to talk to registries and to read oci-archive files",
            hint="install skopeo (Debian/Ubuntu: apt-get install skopeo; RHEL: dnf install skopeo)",
        )
    return found


def _redact(text: str, creds: str | None) -> str:
    if creds:
        text = text.replace(creds, "****")
        _user, _, password = creds.partition(":")
        if password:
            text = text.replace(password, "****")
        text = text.replace(base64.b64encode(creds.encode()).decode(), "****")
    from envlock.display import redact_text

    return redact_text(text)


@contextlib.contextmanager
def _auth_file(host: str, creds: str | None) -> Iterator[Path | None]:
    if not creds:
        yield None
        return
    if ":" not in creds:
        raise UsageError(
            "--creds: expected USER:PASSWORD", hint="or log in with `podman login` / `skopeo login`"
        )
    with tempfile.TemporaryDirectory(prefix="envlock-auth-") as tmp:
        path = Path(tmp) / "auth.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"auths": {host: {"auth": base64.b64encode(creds.encode()).decode()}}}, f)
        yield path


def _fail(host: str, action: str, done: subprocess.CompletedProcess[str], creds: str | None) -> NetworkError:
    raw = done.stderr or done.stdout
    text = _redact("\n".join(line for line in raw.splitlines() if "level=debug" not in line).strip(), creds)
    lower = text.lower()
    why = next((w for key, w in _PROBLEMS if key in lower), "skopeo failed")
    tail = "\n".join(text.splitlines()[-3:])
    hint = "check that the registry is up and the credentials (--creds, REGISTRY_AUTH_FILE) are right; retry"
    if "plain http" in why or "x509" in lower:
        hint = "for a plain-HTTP or self-signed local registry pass --tls-verify=false"
    return NetworkError(
        f"registry {host}: cannot {action}: {why}\n{tail}",
        hint=hint,
        details={"host": host},
    )


def _run(args: Sequence[str], *, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    try:
        return processes.run(
            [skopeo_binary(), *args],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, 1, "", "i/o timeout")


def _tls(flag: str, access: RegistryAccess) -> list[str]:
    return [f"{flag}={'true' if access.tls_verify else 'false'}"]


def fetch_manifest(ref: str, host: str, access: RegistryAccess) -> tuple[bytes, str]:
    """The raw manifest (or index) bytes of `ref` (a `docker://` reference) and their digest."""
    with _auth_file(host, access.creds) as auth:
        args = ["inspect", "--raw", *_tls("--tls-verify", access)]
        if auth is not None:
            args += ["--authfile", str(auth)]
        done = _run([*args, ref], timeout=300)
    if done.returncode != 0:
        raise _fail(host, f"read {_redact(ref, access.creds)}", done, access.creds)
    raw = done.stdout.encode()
    return raw, "sha256:" + hashlib.sha256(raw).hexdigest()


def copy_image(
    src: str, dest: str, *, host: str, access: RegistryAccess, src_remote: bool, dest_remote: bool
) -> PushResult:
    """`skopeo copy SRC DEST` keeping every digest; one side may be a registry on `host`."""
    with _auth_file(host, access.creds) as auth:
        # --debug: skopeo says which blobs it skipped (HEAD found them, or a cross-repository mount)
        args = ["--debug", "copy", "--preserve-digests"] if dest_remote else ["copy", "--preserve-digests"]
        if src_remote:
            args += _tls("--src-tls-verify", access)
            if auth is not None:
                args += ["--src-authfile", str(auth)]
        if dest_remote:
            args += _tls("--dest-tls-verify", access)
            if auth is not None:
                args += ["--dest-authfile", str(auth)]
        done = _run([*args, src, dest])
    if done.returncode != 0:
        if not (src_remote or dest_remote):
            raise UsageError(f"skopeo could not copy {src} to {dest}:\n{done.stderr.strip()}")
        action = (
            f"push to {_redact(dest, access.creds)}" if dest_remote else f"pull {_redact(src, access.creds)}"
        )
        raise _fail(host, action, done, access.creds)
    copied: list[str] = []
    skipped: set[str] = set()
    asked: str | None = None  # the blob of the last HEAD request
    for line in (done.stdout + done.stderr).splitlines():
        if m := re.search(r"Copying (?:blob|config) (sha256:[0-9a-f]{64})", line):
            copied.append(m.group(1))
        elif m := re.search(r"Skipping blob (sha256:[0-9a-f]{64})", line):
            skipped.add(m.group(1))
        elif m := re.search(r"HEAD \S+/blobs/(sha256:[0-9a-f]{64})", line):
            asked = m.group(1)
        elif "... already exists" in line and asked is not None:
            skipped.add(asked)
    return PushResult(
        uploaded=tuple(d for d in copied if d not in skipped),
        skipped=tuple(d for d in copied if d in skipped),
    )
