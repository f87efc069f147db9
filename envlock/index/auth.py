"""Index credentials: taken from URL userinfo and netrc, sent as basic auth, never shown.

Every URL that leaves the index client (in a page, a file, an error message) goes through
`envlock.display.redact_url`, which drops the userinfo entirely: a token used as a user name is as
secret as a password.
"""

from __future__ import annotations

import netrc
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from envlock.display import redact_url


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """A user name and password for HTTP basic auth."""

    username: str
    password: str

    def __repr__(self) -> str:  # keeps secrets out of tracebacks and debug logs
        return "Credentials(<redacted>)"


def _authority(url: str) -> str:
    """What lies between `scheme://` and the path, query or fragment (string matching, as redact_url)."""
    _, sep, rest = url.partition("://")
    return re.split(r"[/?#]", rest, maxsplit=1)[0] if sep else ""


def split_credentials(url: str) -> tuple[str, Credentials | None]:
    """`(url without userinfo, credentials from the userinfo or None)`."""
    bare = redact_url(url)
    if bare == url:
        return url, None
    userinfo = _authority(url).rsplit("@", 1)[0]
    user, _, password = userinfo.partition(":")
    return bare, Credentials(username=unquote(user), password=unquote(password))


def host_key(url: str) -> str:
    """The `host[:port]` part of a URL, lowercase, without userinfo: what credentials are keyed by."""
    return _authority(url).rsplit("@", 1)[-1].lower()


def netrc_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$NETRC`, else `~/.netrc` (the file curl, pip and uv read)."""
    env = os.environ if environ is None else environ
    explicit = env.get("NETRC")
    if explicit:
        return Path(explicit)
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".netrc"


class CredentialStore:
    """Credentials by host, from index URLs seen so far and from netrc; safe to share between threads."""

    def __init__(self, netrc_file: Path | None = None) -> None:
        self._by_host: dict[str, Credentials] = {}
        self._lock = threading.Lock()
        self._netrc_file = netrc_file if netrc_file is not None else netrc_path()
        self._netrc: netrc.netrc | None = None
        self._netrc_loaded = False

    def remember(self, url: str) -> str:
        """Record the userinfo of `url` (if any) for its host; return the URL without it."""
        bare, credentials = split_credentials(url)
        if credentials is not None:
            with self._lock:
                self._by_host[host_key(url)] = credentials
        return bare

    def for_url(self, url: str) -> Credentials | None:
        """Credentials to send to the host of `url`: from a remembered URL first, then netrc."""
        key = host_key(url)
        with self._lock:
            known = self._by_host.get(key)
            if known is not None:
                return known
            table = self._load_netrc()
        if table is None:
            return None
        hostname = urlsplit(redact_url(url)).hostname or ""
        entry = table.authenticators(key) or table.authenticators(hostname)
        if entry is None:
            return None
        login, _account, password = entry
        return Credentials(username=login or "", password=password or "")

    def _load_netrc(self) -> netrc.netrc | None:
        if not self._netrc_loaded:
            self._netrc_loaded = True
            try:
                self._netrc = netrc.netrc(str(self._netrc_file))
            except (OSError, netrc.NetrcParseError):
                # A missing or unreadable netrc means "no credentials", as for curl and pip.
                self._netrc = None
        return self._netrc
