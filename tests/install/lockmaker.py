"""Build real locks for install tests: tiny wheels with real sha256/size, sealed, written with dump_lock.

Also a tiny HTTP file server on 127.0.0.1 that can be told to serve different bytes for a file.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lockfactory import make_inputs, make_target
from lockfactory import make_lock as factory_lock

from envlock.lock.digest import env_hash, seal
from envlock.lock.model import Artifact, Lock, LockedInterpreter, LockedPackage
from envlock.lock.write import dump_lock
from fixtures.wheels import build_wheel

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class TargetDef:
    name: str
    packages: Sequence[tuple[str, str]] = (("alpha", "1.0"), ("beta", "2.0"))
    gpus: tuple[str, ...] = ()
    variant: str = "cpu"
    torch: str | None = None
    cuda: str | None = None
    requires_driver: str | None = None
    compat: str | None = None
    driver: str | None = None
    platform: str = "linux-x86_64"
    glibc: str = "2.17"


def make_lock(
    dest: Path,
    wheels: Path,
    base_url: str,
    targets: Sequence[TargetDef],
    *,
    env_name: str = "demo",
    python: str = PYTHON,
    payloads: Mapping[str, Mapping[str, bytes]] | None = None,
    interpreter: LockedInterpreter | None = None,
    interpreter_kind: str = "system",
    direct: Sequence[str] = (),
) -> Path:
    """Write `dest` (an envlock.lock) whose artifacts are wheels built into `wheels`, served at `base_url`.

    Packages named in `direct` are locked as direct references (no index, only the file's URL)."""
    locked = []
    for t in targets:
        pkgs = []
        for name, version in t.packages:
            files = (payloads or {}).get(name)
            path = build_wheel(wheels, name, version, "py3-none-any", files=files)
            data = path.read_bytes()
            art = Artifact(
                filename=path.name,
                url=base_url.rstrip("/") + "/" + path.name,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
            index = "" if name in direct else base_url
            pkgs.append(LockedPackage(name=name, version=version, index=index, artifacts=(art,)))
        pkgs.sort(key=lambda p: p.name)
        locked.append(
            make_target(
                t.name,
                platform=t.platform,
                glibc=t.glibc,
                python=python,
                gpus=t.gpus,
                driver=t.driver,
                variant=t.variant,
                torch=t.torch,
                cuda=t.cuda,
                cudnn=None,
                nccl=None,
                requires_driver=t.requires_driver,
                compat=t.compat,
                packages=tuple(pkgs),
                rejected=(),
                interpreter=interpreter,
            )
        )
    inputs = make_inputs(
        locked,
        name=env_name,
        python=python,
        dependencies=tuple(sorted({n for t in targets for n, _ in t.packages})),
        default_index=base_url,
        pytorch_index=None,
        knowledge_base="sha256:" + "1" * 64,
        interpreter=interpreter_kind,
    )
    lock = factory_lock(
        targets=tuple(locked), inputs=inputs, uv_version="0.13.9", spec_hash="sha256:" + "0" * 64
    )
    dest.write_text(dump_lock(lock), encoding="utf-8")
    return dest


class FileServer:
    """Serves a directory on 127.0.0.1; `override[name] = bytes` serves other bytes for a file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.override: dict[str, bytes] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, *, body: bool) -> None:
                name = urllib.parse.unquote(self.path.lstrip("/"))
                if body:
                    server.requests.append(name)
                data = server.override.get(name)
                if data is None:
                    path = server.root / name
                    if not path.is_file():
                        self.send_error(404)
                        return
                    data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def serving(root: Path) -> Iterator[FileServer]:
    server = FileServer(root)
    try:
        yield server
    finally:
        server.close()


def run_envlock(
    args: Sequence[str],
    *,
    store: Path | None = None,
    env: dict[str, str] | None = None,
    prefix: Sequence[str] = (),
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`envlock ARGS` in a fresh process, as a user would run it."""
    full = dict(os.environ)
    full.pop("VIRTUAL_ENV", None)
    full["ENVLOCK_GPUS"] = full.get("ENVLOCK_GPUS", "none")
    full["ENVLOCK_DRIVER"] = full.get("ENVLOCK_DRIVER", "none")
    if store is not None:
        full["ENVLOCK_STORE"] = str(store)
    full.update(env or {})
    return subprocess.run(
        [*prefix, sys.executable, "-m", "envlock", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def reseal(path: Path, change: Callable[[Lock], Lock], *, recompute_env_hash: bool = False) -> Lock:
    """Tamper with the lock at `path` as an attacker would: `change` it, then seal it again (the content
    hash proves nothing about who wrote a lock). With `recompute_env_hash` every target's env-hash is
    recomputed too, so that only checks of the values themselves can catch the change."""
    from dataclasses import replace

    from envlock.lock.read import parse_lock

    lock = change(parse_lock(path.read_text(encoding="utf-8"), verify=False))
    if recompute_env_hash:
        lock = replace(
            lock,
            targets=tuple(
                replace(t, env_hash=env_hash(python=t.python, platform=t.platform, packages=t.packages))
                for t in lock.targets
            ),
        )
    lock = seal(lock)
    path.write_text(dump_lock(lock), encoding="utf-8")
    return lock
