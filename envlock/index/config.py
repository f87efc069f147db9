"""Which index is "the default": the spec's, else the one the user's uv or pip configuration names.

Order (first hit wins): the spec's `[indexes] default`; the environment (`UV_DEFAULT_INDEX`,
`UV_INDEX_URL`, `PIP_INDEX_URL`); uv's configuration files (`UV_CONFIG_FILE`, else the user's
`uv/uv.toml` under `$XDG_CONFIG_HOME` or `~/.config`, then the system's under `$XDG_CONFIG_DIRS`
and `/etc/uv/uv.toml`); pip's configuration files, with pip's own precedence (`PIP_CONFIG_FILE`,
site, user, global; `[install]` over `[global]`); and last pip's built-in default, read from the
installed pip at run time so that no index host name is written into envlock.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from envlock.display import redact_url
from envlock.errors import SpecError

_ENV_VARIABLES = ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL")


@dataclass(frozen=True, slots=True, kw_only=True)
class DefaultIndex:
    """The default index URL (trailing slash, credentials kept) and where it came from, for messages."""

    url: str
    source: str  # "spec", "env UV_INDEX_URL", "uv config /etc/uv/uv.toml", "pip built-in", ...

    def describe(self) -> str:
        """`https://mirror/simple/ (from env PIP_INDEX_URL)`, without credentials."""
        return f"{redact_url(self.url)} (from {self.source})"


def _normalize(url: str) -> str:
    return url.strip().rstrip("/") + "/"


def find_default_index(
    spec_default: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    etc_dir: Path = Path("/etc"),
) -> DefaultIndex:
    """The default index and its source; SpecError when none can be found.

    `environ` and `etc_dir` exist so that tests can hide the machine's own configuration.
    """
    env = os.environ if environ is None else environ
    if spec_default:
        return DefaultIndex(url=_normalize(spec_default), source="spec")
    for variable in _ENV_VARIABLES:
        value = env.get(variable, "").strip()
        if value:
            return DefaultIndex(url=_normalize(value.split()[0]), source=f"env {variable}")
    for path in _uv_config_files(env, etc_dir):
        url = _uv_default(path)
        if url:
            return DefaultIndex(url=_normalize(url), source=f"uv config {path}")
    pip_files = list(_pip_config_files(env, etc_dir))
    # pip lets `[install]` of any file beat `[global]` of any file; within a section the later file wins.
    for section in ("install", "global"):
        for path in reversed(pip_files):
            url = _pip_default(path, section)
            if url:
                return DefaultIndex(url=_normalize(url), source=f"pip config {path} [{section}]")
    builtin = _pip_builtin()
    if builtin:
        return DefaultIndex(url=_normalize(builtin), source="pip built-in")
    raise SpecError(
        "no default package index is configured, and pip is not installed to name its own default",
        hint='set [indexes] default = "https://.../simple" in envlock.toml, or UV_DEFAULT_INDEX',
    )


def default_index_url(spec_default: str | None = None) -> str:
    """The default index URL with a trailing slash (see `find_default_index`)."""
    return find_default_index(spec_default).url


def configuration_files(
    environ: Mapping[str, str] | None = None, *, etc_dir: Path = Path("/etc")
) -> tuple[Path, ...]:
    """Every uv and pip configuration file that `find_default_index` may read (present or not)."""
    env = os.environ if environ is None else environ
    return (*_uv_config_files(env, etc_dir), *_pip_config_files(env, etc_dir))


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def _config_home(env: Mapping[str, str]) -> Path:
    xdg = env.get("XDG_CONFIG_HOME")
    return Path(xdg) if xdg else _home(env) / ".config"


def _config_dirs(env: Mapping[str, str], etc_dir: Path) -> list[Path]:
    raw = env.get("XDG_CONFIG_DIRS", "")
    dirs = [Path(part) for part in raw.split(os.pathsep) if part]
    return dirs or [etc_dir / "xdg"]


# ------------------------------------------------------------------------------------------- uv


def _uv_config_files(env: Mapping[str, str], etc_dir: Path) -> Iterator[Path]:
    """uv's configuration files, most important first (uv merges user over system)."""
    if env.get("UV_NO_CONFIG"):
        return
    explicit = env.get("UV_CONFIG_FILE")
    if explicit:
        yield Path(explicit)
        return
    yield _config_home(env) / "uv" / "uv.toml"
    for directory in _config_dirs(env, etc_dir):
        yield directory / "uv" / "uv.toml"
    yield etc_dir / "uv" / "uv.toml"


def _uv_default(path: Path) -> str | None:
    from envlock import _toml  # here: `configuration_files` runs before a solve's imports

    try:
        document = _toml.load(path)
    except (OSError, _toml.TOMLDecodeError):
        # An unreadable or broken uv.toml is uv's to report; envlock just looks further.
        return None
    for entry in document.get("index", []) if isinstance(document.get("index"), list) else []:
        if isinstance(entry, dict) and entry.get("default") is True and isinstance(entry.get("url"), str):
            return str(entry["url"])
    value = document.get("index-url")
    return value if isinstance(value, str) and value else None


# ------------------------------------------------------------------------------------------ pip


def _pip_config_files(env: Mapping[str, str], etc_dir: Path) -> Iterator[Path]:
    """pip's configuration files in the order pip loads them (later ones override earlier ones)."""
    explicit = env.get("PIP_CONFIG_FILE")
    if explicit == os.devnull:
        return
    for directory in _config_dirs(env, etc_dir):
        yield directory / "pip" / "pip.conf"
    yield etc_dir / "pip.conf"
    yield Path(sys.prefix) / "pip.conf"
    yield _home(env) / ".pip" / "pip.conf"
    yield _config_home(env) / "pip" / "pip.conf"
    if explicit:
        yield Path(explicit)


def _pip_default(path: Path, section: str) -> str | None:
    import configparser  # here: a spec that names its default index reads no pip configuration

    parser = configparser.RawConfigParser()
    try:
        read = parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error):
        return None
    if not read:
        return None
    if parser.has_option(section, "index-url"):
        value = parser.get(section, "index-url").strip()
        if value:
            return value.split()[0]
    return None


def _pip_builtin() -> str | None:
    try:
        # pip's private module is the one place its built-in default is written down.
        from pip._internal.models.index import PyPI
    except Exception:  # reason: pip absent or its private layout changed; fall through to the error
        return None
    url = getattr(PyPI, "simple_url", None)
    return url if isinstance(url, str) else None
