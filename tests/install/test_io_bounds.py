"""Downloads that never end, lie about their size, compress anyway, crawl or loop (issue 8, findings 8
and 9): each is stopped with the right exit code and a message that says what happened.

The servers are real HTTP servers on 127.0.0.1 that misbehave on purpose; the locks are real locks,
re-pointed by the test at the misbehaving URL and sealed again."""

from __future__ import annotations

import gzip
import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from lockmaker import FileServer, reseal, run_envlock

from envlock.lock.model import Lock


class Misbehaving:
    """`/endless/F` streams zeros forever, `/liar/F` announces 1000 times F's size, `/gzip/F` sends F
    gzip-encoded, `/slow/F` one byte every half second, `/loop/F` redirects to itself."""

    def __init__(self, root: Path) -> None:
        self.sent = 0
        self.requests: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                kind, _, name = self.path.strip("/").partition("/")
                data = (root / name).read_bytes() if (root / name).is_file() else b""
                try:
                    if kind == "loop":
                        self.send_response(302)
                        self.send_header("Location", self.path)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    elif kind == "endless":
                        self.send_response(200)
                        self.end_headers()
                        while True:
                            self.wfile.write(b"\0" * 65536)
                            owner.sent += 65536
                    elif kind == "liar":
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(data) * 1000))
                        self.end_headers()
                        self.wfile.write(data)
                    elif kind == "gzip":
                        body = gzip.compress(data)
                        self.send_response(200)
                        self.send_header("Content-Encoding", "gzip")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                    elif kind == "slow":
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        for i in range(len(data)):
                            self.wfile.write(data[i : i + 1])
                            self.wfile.flush()
                            time.sleep(0.5)
                    else:
                        self.send_error(404)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def bad(wheels: Path) -> Iterator[Misbehaving]:
    srv = Misbehaving(wheels)
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def _point_alpha(lock: Path, url_of: str) -> None:
    def edit(x: Lock) -> Lock:
        targets = []
        for t in x.targets:
            packages = tuple(
                replace(p, artifacts=tuple(replace(a, url=url_of + a.filename) for a in p.artifacts))
                if p.name == "alpha"
                else p
                for p in t.packages
            )
            targets.append(replace(t, packages=packages))
        return replace(x, targets=tuple(targets))

    reseal(lock, edit)


def _install(lock: Path, store: Path, **env: str) -> tuple[int, str]:
    done = run_envlock(
        ["install", "-l", str(lock), "--target", "small", "--store", str(store)], env=env, timeout=90
    )
    return done.returncode, done.stderr


def test_finding8_an_endless_body_stops_at_the_locked_size(
    lock: Path, store: Path, bad: Misbehaving, server: FileServer
) -> None:
    _point_alpha(lock, bad.url + "endless/")
    code, err = _install(lock, store)
    assert code == 1, err
    assert "sent more than" in err
    assert list((store / "v1" / "scratch").iterdir()) == []
    assert not (store / "v1" / "envs").exists() or list((store / "v1" / "envs").iterdir()) == []


def test_finding8_a_size_announced_above_the_lock_is_refused(
    lock: Path, store: Path, bad: Misbehaving
) -> None:
    _point_alpha(lock, bad.url + "liar/")
    code, err = _install(lock, store)
    assert code == 1, err
    assert "announces" in err and "the lock pins" in err


def test_finding8_gzip_content_encoding_is_not_decoded(lock: Path, store: Path, bad: Misbehaving) -> None:
    # the bytes as sent are gzip, not the wheel: a server may not swap them, however they decode
    _point_alpha(lock, bad.url + "gzip/")
    code, err = _install(lock, store)
    assert code == 1, err
    assert "do not match the lock" in err or "does not match its expected sha256" in err


def test_finding8_a_crawling_server_meets_the_deadline(lock: Path, store: Path, bad: Misbehaving) -> None:
    _point_alpha(lock, bad.url + "slow/")
    code, err = _install(lock, store, ENVLOCK_DOWNLOAD_FILE_DEADLINE="2")
    assert code == 3, err
    assert "deadline" in err and "ENVLOCK_DOWNLOAD_FILE_DEADLINE" in err


def test_finding8_a_file_url_to_a_device_is_refused(lock: Path, store: Path) -> None:
    def to_zero(x: Lock) -> Lock:
        t = x.target("small")
        assert t is not None
        alpha = t.packages[0]
        art = replace(alpha.artifacts[0], url="file:///dev/zero")
        small = replace(t, packages=(replace(alpha, artifacts=(art,)),))
        return replace(x, targets=tuple(small if u.name == "small" else u for u in x.targets))

    reseal(lock, to_zero)
    code, err = _install(lock, store)
    assert code == 1, err
    assert "not a regular file" in err


def test_finding9_a_redirect_loop_is_one_clear_failure_not_retried(
    lock: Path, store: Path, bad: Misbehaving
) -> None:
    _point_alpha(lock, bad.url + "loop/")
    code, err = _install(lock, store)
    assert code == 3, err
    assert "redirect loop" in err
    assert "internal error" not in err
    assert len(bad.requests) <= 21  # one try: the first request and httpx's 20 redirects
