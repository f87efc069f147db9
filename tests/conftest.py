"""Shared pytest fixtures: the local fixture index server, and isolation from the user's configuration.

Every test runs with HOME, the XDG directories, envlock's cache and store, and uv's cache in its own
temporary directory, and without the machine's `PIP_*`, `UV_*` and `ENVLOCK_*` variables, so that
no test reads or writes the real user's configuration or caches. Tests marked `network` keep the
real environment: they exist to use the real configuration.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.server import FIXED_PORT, FixtureIndexServer

_CLEARED_PREFIXES = ("PIP_", "UV_", "ENVLOCK_")


@pytest.fixture(autouse=True)
def isolated_environment(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Path | None:
    """A private HOME (returned) and clean environment per test; skipped for `network` tests."""
    if request.node.get_closest_marker("network") is not None:
        return None
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith(_CLEARED_PREFIXES) or name == "NETRC":
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(home / "etc-xdg"))
    monkeypatch.setenv("ENVLOCK_CACHE_DIR", str(home / ".cache" / "envlock"))
    monkeypatch.setenv("ENVLOCK_STORE", str(home / ".local" / "share" / "envlock" / "store"))
    monkeypatch.setenv("UV_CACHE_DIR", str(home / ".cache" / "uv"))
    monkeypatch.setenv("UV_NO_CONFIG", "1")  # uv must not read the machine's /etc/uv/uv.toml
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # nor pip the machine's pip.conf
    no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
    monkeypatch.setenv("NO_PROXY", no_proxy)
    monkeypatch.setenv("no_proxy", no_proxy)
    return home


@pytest.fixture(scope="session")
def index_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureIndexServer]:
    """The fixture indexes on 127.0.0.1 and a free port, built once per session.

    `.base`, `.default` (`<base>/simple/`), `.pytorch` (`<base>/whl`, variant `X` at `.variant(X)`),
    `.nvidia`, `.private` / `.private_with_credentials`, `.fault(kind)`, `.wheel_path(filename)`,
    `.wheel(filename)` (sha256, size), `.catalog`, `.requests` / `.clear_requests()`.
    """
    server = FixtureIndexServer(tmp_path_factory.mktemp("fixture-index"), slow_seconds=2.0)
    server.start()
    yield server
    server.stop()


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="session")
def fixed_port_index_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureIndexServer]:
    """The fixture indexes on 127.0.0.1:8765, the address the committed example locks name; skips if taken."""
    if not _port_is_free(FIXED_PORT):
        message = f"port {FIXED_PORT} is in use; the committed example locks need it"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI the lock checks must run, not skip
        pytest.skip(message)
    server = FixtureIndexServer(tmp_path_factory.mktemp("fixture-index-fixed"), port=FIXED_PORT)
    server.start()
    yield server
    server.stop()
