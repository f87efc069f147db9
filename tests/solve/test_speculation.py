"""Resolutions started ahead of the solve (envlock.resolvers.speculation): they answer only a request
equal to the one they resolve, a repeated solve writes the same lock, and nothing with credentials is
written down."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from packaging.version import Version

from envlock.resolvers.speculation import SpeculativeBackend, speculation_key
from envlock.resolvers.uv import UvBackend
from envlock.userfiles import default_cache_root
from fixtures.server import FixtureIndexServer
from tests.solve.conftest import Run, target_block, uv_request


def test_a_resolution_started_ahead_answers_only_an_equaluv_request(
    index_server: FixtureIndexServer, tmp_path: Path
) -> None:
    old = uv_request(index_server.default, "numpy<2")
    first = SpeculativeBackend(UvBackend(), tmp_path, "same-inputs")
    assert first.start() == 0  # nothing remembered yet
    answer = first.resolve(old)
    first.save()

    second = SpeculativeBackend(UvBackend(), tmp_path, "same-inputs")
    assert second.start() == 1  # the remembered request runs at once
    # The solve now asks for something else (a newer knowledge base, an index that changed): it is
    # resolved afresh, not answered by the run started ahead.
    new = replace(old, requirements=("numpy>=2",))
    numpy = second.resolve(new).package("numpy")
    assert numpy is not None and Version(numpy.version) >= Version("2")
    assert second.resolve(old) == answer


def test_requests_with_credentials_are_never_written_down(
    index_server: FixtureIndexServer, tmp_path: Path
) -> None:
    backend = SpeculativeBackend(UvBackend(), tmp_path, "with-password")
    backend.resolve(uv_request(index_server.private_with_credentials, "privpkg"))
    backend.save()
    assert not list(tmp_path.rglob("with-password"))
    assert SpeculativeBackend(UvBackend(), tmp_path, "with-password").start() == 0


def test_a_repeated_solve_starts_uv_ahead_and_writes_the_same_lock(
    envlock: Callable[..., Run], write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    spec = write_spec(
        deps=("torch>=2.5,<2.8", "numpy<2"),
        targets=target_block("h100", gpus=("H100",), driver="550.54.15"),
    )
    lock = tmp_path / "envlock.lock"
    first = envlock("solve", "-s", str(spec))
    assert first.code == 0, first.err
    written = lock.read_bytes()
    remembered = list((default_cache_root() / "solve-requests-v1").iterdir())
    assert len(remembered) == 1
    lock.unlink()
    second = envlock("solve", "-s", str(spec))
    assert second.code == 0, second.err
    assert lock.read_bytes() == written


class _SilentIndex:
    """An index on 127.0.0.1 that accepts every connection and never answers (a dead mirror that
    still takes connections, or a proxy in front of one)."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}/simple/"
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with self._server:
            while True:
                try:
                    self.accepted.append(self._server.accept()[0])
                except OSError:
                    return

    def closed_by_peer(self) -> bool:
        """Whether every connection accepted so far has been closed from the other end."""
        for conn in self.accepted:
            conn.settimeout(10)  # the peer is gone by now; this only waits for its FIN to arrive
            try:
                while conn.recv(65536):
                    pass  # the request uv sent before it hung
            except ConnectionResetError:
                continue
            except TimeoutError:
                return False
        return True

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self._server.close()


@pytest.fixture
def silent_index() -> Iterator[_SilentIndex]:
    index = _SilentIndex()
    yield index
    index.close()


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TMPDIR for this test, where uv's scratch folders (`envlock-uv-*`) go."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    monkeypatch.setenv("UV_HTTP_TIMEOUT", "3600")
    return folder


def _plant(remembered: Path, index_url: str) -> None:
    """Point every remembered request at `index_url`: what the next solve starts ahead."""
    document = json.loads(remembered.read_bytes())
    for request in document["requests"]:
        request["default-index"] = index_url
    remembered.write_text(json.dumps(document))


def test_a_stale_run_started_ahead_is_stopped_when_the_solve_is_done_not_waited_for(
    envlock: Callable[..., Run],
    write_spec: Callable[..., Path],
    tmp_path: Path,
    scratch: Path,
    silent_index: _SilentIndex,
) -> None:
    spec = write_spec(deps=("numpy<2",), targets=target_block("cpu"), pytorch=False)
    lock = tmp_path / "envlock.lock"
    folder = default_cache_root() / "solve-requests-v1"
    folder.mkdir(parents=True, mode=0o755)  # as an older envlock made it, with the umask
    folder.chmod(0o755)
    first = envlock("solve", "-s", str(spec))
    assert first.code == 0, first.err
    # The remembered requests are named by a digest of the environment, secrets included.
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (remembered,) = folder.iterdir()
    assert stat.S_IMODE(remembered.stat().st_mode) == 0o600
    written = lock.read_bytes()
    lock.unlink()
    _plant(remembered, silent_index.url)

    second = envlock("solve", "-s", str(spec))
    assert second.code == 0, second.err
    assert lock.read_bytes() == written
    assert silent_index.accepted  # the planted run did start, and hung on the silent index
    # uv would hold its connection for an hour (the scratch fixture's UV_HTTP_TIMEOUT): closed when
    # the solve returned, it was stopped, not waited for (a solve that waited would not be back yet)
    assert silent_index.closed_by_peer()
    assert not list(scratch.glob("envlock-uv-*"))


def test_sigterm_stops_the_runs_started_ahead_and_leaves_no_scratch_folder(
    envlock: Callable[..., Run],
    write_spec: Callable[..., Path],
    tmp_path: Path,
    scratch: Path,
    silent_index: _SilentIndex,
) -> None:
    spec = write_spec(deps=("numpy<2",), targets=target_block("cpu"), pytorch=False)
    assert envlock("solve", "-s", str(spec)).code == 0
    (tmp_path / "envlock.lock").unlink()
    (remembered,) = (default_cache_root() / "solve-requests-v1").iterdir()
    _plant(remembered, silent_index.url)
    # The proxy variables are not part of the key: this solve starts the planted run, and its own
    # requests hang on the silent index too, until a batch scheduler's SIGTERM.
    env = dict(os.environ, HTTP_PROXY=silent_index.url, ALL_PROXY=silent_index.url, NO_PROXY="")
    env.pop("no_proxy", None)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "envlock", "solve", "-s", str(spec)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while len(silent_index.accepted) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(scratch.glob("envlock-uv-*")), "no run was started ahead"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGTERM
    assert not list(scratch.glob("envlock-uv-*"))


def test_a_changed_uv_or_pip_configuration_file_changes_the_key(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CONFIG_DIRS": str(tmp_path / "etc-xdg"),
    }
    keys = [speculation_key([b"spec"], env)]
    uv_toml = tmp_path / "config" / "uv" / "uv.toml"
    uv_toml.parent.mkdir(parents=True)
    uv_toml.write_text('index-url = "http://127.0.0.1:9/dead-mirror/simple"\n')
    keys.append(speculation_key([b"spec"], env))
    uv_toml.write_text('index-url = "http://127.0.0.1:9/working-mirror/simple"\n')
    keys.append(speculation_key([b"spec"], env))
    pip_conf = tmp_path / ".pip" / "pip.conf"
    pip_conf.parent.mkdir()
    pip_conf.write_text("[global]\nindex-url = http://127.0.0.1:9/simple\n")
    keys.append(speculation_key([b"spec"], env))
    assert len(set(keys)) == len(keys)
    assert speculation_key([b"spec"], env) == keys[-1]  # nothing changed: the same key
