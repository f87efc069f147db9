"""The pip-tools backend: `pip-compile` for the host's own platform and Python.

pip cannot resolve for another platform, so this backend serves targets that match the machine
envlock runs on, and cross-checks uv there. pip merges every index and takes the best version:
the variant index is added as an extra index, and its local versions (`2.5.1+cu124`) sort above
the default index's plain `2.5.1`, so pip takes the variant's build. That is weaker than uv's
explicit index pinning, which is why uv is the engine. pip-compile reports names and versions;
the files, sizes and hashes are read from the indexes afterwards (see `envlock.solve.packages`).
pip-compile has no upload-date cut-off, so a spec with `exclude-newer` is refused.

Index credentials never reach a command line, which every local user can read in /proc: the
index URLs go to pip without userinfo in `PIP_INDEX_URL` / `PIP_EXTRA_INDEX_URL` (pip itself puts
them on the command line of the pip it starts to build an sdist), and the credentials in a netrc
file of pip-compile's own (`NETRC`, mode 0600 in a private temporary directory, removed after),
after the user's own netrc entries. netrc is keyed by host: two indexes on one host share one
login (the last one named wins).
"""

from __future__ import annotations

import netrc
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from envlock import processes
from envlock.display import redact_text
from envlock.errors import InternalError, NetworkError, ResolutionError, UsageError
from envlock.index.auth import netrc_path, split_credentials
from envlock.platforms import host_platform
from envlock.resolvers import Resolution, ResolutionRequest, ResolvedPackage

_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
# pip's configuration would add indexes, find-links and constraints of this machine.
_PIP_ENV = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_CONSTRAINT",
    "PIP_NO_INDEX",
    "PIP_REQUIRE_VIRTUALENV",
)


def host_target() -> tuple[str, str]:
    """(platform, "X.Y") of the interpreter envlock runs on."""
    return host_platform(), f"{sys.version_info.major}.{sys.version_info.minor}"


def _private_netrc(request: ResolutionRequest, work: Path) -> Path | None:
    """A netrc with the credentials of `request`'s index URLs, after the user's own; None without any."""
    entries: dict[str, tuple[str, str]] = {}
    for url in (request.default_index, *request.extra_indexes, *(u for _, u in request.pinned)):
        bare, credentials = split_credentials(url)
        host = urlsplit(bare).hostname
        if credentials is not None and host:
            entries[host] = (credentials.username, credentials.password)
    if not entries:
        return None
    lines: list[str] = []
    own = netrc_path()
    try:
        netrc.netrc(str(own))  # an unreadable or broken netrc is one pip would not have read either
        lines.append(own.read_text(encoding="utf-8").rstrip("\n"))
    except (OSError, netrc.NetrcParseError, UnicodeDecodeError):
        pass
    for host, (login, password) in entries.items():
        # netrc tokens end at white space and cannot be quoted for every reader.
        if any(ch.isspace() for ch in host + login + password):
            raise UsageError(
                f"the credentials for {host} contain white space, which a netrc file cannot hold",
                hint="use --resolver uv (the default), which is given them in its environment",
            )
        lines.append(f"machine {host} login {login} password {password}")
    path = work / "netrc"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    return path


class PipToolsBackend:
    """Resolves through `pip-compile` for the host platform only."""

    name = "pip-tools"
    offline = False  # pip-compile has no cache-only mode

    def version(self) -> str:
        from importlib.metadata import version

        return version("pip-tools")

    def _binary(self) -> str:
        found = shutil.which(
            "pip-compile",
            path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        )
        if not found:
            raise InternalError("pip-compile is not installed", hint="pip install pip-tools")
        return found

    def resolve(self, request: ResolutionRequest) -> Resolution:
        plat, python = host_target()
        if (request.platform, request.python) != (plat, python):
            raise UsageError(
                f"pip-tools resolves only for this host ({plat}, Python {python}), not for "
                f"{request.platform} with Python {request.python}",
                hint="use --resolver uv (the default), which resolves for any target",
            )
        if request.exclude_newer:
            # pip-compile has no upload-date cut-off; resolving without it would lock newer files.
            raise UsageError(
                "--resolver pip-tools cannot honour [resolution].exclude-newer",
                hint="use --resolver uv (the default), or drop exclude-newer for this cross-check",
            )
        with tempfile.TemporaryDirectory(prefix="envlock-piptools-") as tmp:
            work = Path(tmp)
            reqs = list(request.requirements)
            (work / "requirements.in").write_text("\n".join(reqs) + "\n")
            cmd = [
                self._binary(),
                "--quiet",
                "--no-header",
                "--no-annotate",
                "--strip-extras",
                "--allow-unsafe",
                "--no-emit-index-url",
                "--cache-dir",
                str(work / "cache"),
                "-o",
                str(work / "requirements.txt"),
            ]
            default = split_credentials(request.default_index)[0]
            extra: list[str] = []
            for url in [u for _, u in request.pinned] + list(request.extra_indexes):
                bare = split_credentials(url)[0]
                if bare != default and bare not in extra:
                    extra.append(bare)
            if request.constraints:
                (work / "constraints.txt").write_text("\n".join(request.constraints) + "\n")
                cmd += ["--pip-args", f"--constraint {work / 'constraints.txt'}"]
            cmd.append(str(work / "requirements.in"))
            env = {k: v for k, v in os.environ.items() if k not in _PIP_ENV}
            env["PIP_CONFIG_FILE"] = os.devnull
            env["PIP_INDEX_URL"] = default
            if extra:
                env["PIP_EXTRA_INDEX_URL"] = " ".join(extra)
            netrc_file = _private_netrc(request, work)
            if netrc_file is not None:
                env["NETRC"] = str(netrc_file)
            proc = processes.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                text = redact_text((proc.stderr or proc.stdout).strip())
                if "Could not fetch" in text or "ConnectionError" in text or "HTTPError" in text:
                    raise NetworkError(f"pip-compile could not reach an index:\n{text}")
                raise ResolutionError(f"pip-compile found no solution:\n{text}")
            packages = []
            for line in (work / "requirements.txt").read_text().splitlines():
                m = _LINE.match(line.strip())
                if m:
                    packages.append(ResolvedPackage(name=m.group(1).lower(), version=m.group(2), files=()))
        return Resolution(
            packages=tuple(sorted(packages, key=lambda p: p.name)), backend=f"pip-tools {self.version()}"
        )
