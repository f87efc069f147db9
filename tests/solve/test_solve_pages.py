"""What a solve asks the indexes for: only changed pages are downloaded again, `--refresh` asks anew."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from fixtures.server import FixtureIndexServer, RequestRecord
from tests.solve.conftest import Run, target_block

Envlock = Callable[..., Run]


def _envlock_page_bodies(server: FixtureIndexServer) -> list[RequestRecord]:
    """Index pages (not files) envlock itself downloaded whole; uv's own requests are not counted."""
    return [
        r
        for r in server.requests
        if (r.user_agent or "").startswith("envlock/")
        and r.method == "GET"
        and r.status == 200
        and r.path.endswith("/")
    ]


def _spec(write_spec: Callable[..., Path], server: FixtureIndexServer) -> Path:
    spec = write_spec(
        deps=("torch>=2.5,<2.8", "numpy<2"),
        targets=target_block("h100", gpus=("H100",), driver="550.54.15") + target_block("ci"),
    )
    # The default index as the real one behaves: no ETag, no Last-Modified, no Cache-Control.
    text = spec.read_text().replace(
        f'default = "{server.default}"', f'default = "{server.fault("no-validators")}"'
    )
    spec.write_text(text)
    return spec


def test_a_second_solve_downloads_no_page_again(
    envlock: Envlock, write_spec: Callable[..., Path], index_server: FixtureIndexServer
) -> None:
    spec = _spec(write_spec, index_server)
    index_server.clear_requests()
    first = envlock("solve", "-s", str(spec))
    assert first.code == 0, first.err
    assert any("/fault/no-validators/simple/" in r.path for r in _envlock_page_bodies(index_server))
    lock = (spec.parent / "envlock.lock").read_bytes()
    index_server.clear_requests()

    second = envlock("solve", "-s", str(spec))

    assert second.code == 0, second.err
    assert _envlock_page_bodies(index_server) == []
    assert (spec.parent / "envlock.lock").read_bytes() == lock


def test_refresh_downloads_the_pages_again(
    envlock: Envlock, write_spec: Callable[..., Path], index_server: FixtureIndexServer
) -> None:
    spec = _spec(write_spec, index_server)
    assert envlock("solve", "-s", str(spec)).code == 0
    lock = (spec.parent / "envlock.lock").read_bytes()
    index_server.clear_requests()

    run = envlock("solve", "-s", str(spec), "--refresh")

    assert run.code == 0, run.err
    fetched = {r.path for r in _envlock_page_bodies(index_server)}
    assert "/fault/no-validators/simple/numpy/" in fetched
    assert (spec.parent / "envlock.lock").read_bytes() == lock


_LOADS_HTTPX = """
import sys
from envlock.cli.main import main
code = main(sys.argv[1:])
print("HTTPX " + str("httpx" in sys.modules))
sys.exit(code)
"""


def test_a_solve_from_fresh_pages_sends_nothing_and_skips_the_http_client(
    envlock: Envlock, write_spec: Callable[..., Path], index_server: FixtureIndexServer
) -> None:
    # Start-up a user notices on every re-solve: with every page fresh in the cache, envlock
    # neither asks the index nor loads its HTTP client library.
    spec = write_spec(deps=("numpy<2",), targets=target_block("ci"), pytorch=False)
    spec.write_text(
        spec.read_text().replace(
            f'default = "{index_server.default}"', f'default = "{index_server.fault("no-validators")}"'
        )
    )
    assert envlock("solve", "-s", str(spec)).code == 0
    lock = (spec.parent / "envlock.lock").read_bytes()
    index_server.clear_requests()

    done = subprocess.run(
        [sys.executable, "-c", _LOADS_HTTPX, "solve", "-s", str(spec)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )

    assert done.returncode == 0, done.stderr
    assert [r for r in index_server.requests if (r.user_agent or "").startswith("envlock/")] == []
    assert "HTTPX False" in done.stdout
    assert (spec.parent / "envlock.lock").read_bytes() == lock
