"""Fixtures for image tests: the Debian base (built once, cached), fixture wheels served locally,
a real distribution registry (Debian's docker-registry) on 127.0.0.1, and podman set up for here."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "install"))

from debian_base import TOOLS, DebianBase, build_base  # noqa: E402  # after the sys.path lines above
from lockmaker import FileServer, TargetDef, make_lock  # noqa: E402  # after the sys.path lines above

from envlock.lock.digest import seal  # noqa: E402  # after the sys.path lines above
from envlock.lock.read import load_lock  # noqa: E402  # after the sys.path lines above
from envlock.lock.write import dump_lock  # noqa: E402  # after the sys.path lines above


def _missing(tools: Sequence[str]) -> list[str]:
    return [t for t in tools if shutil.which(t) is None]


@pytest.fixture(scope="session")
def debian_base() -> DebianBase:
    missing = _missing([*TOOLS, "skopeo"])
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (.ci/run installs them)")
    if os.geteuid() != 0:
        pytest.skip("debootstrap needs root")
    return build_base()


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    path = tmp_path / "wheels"
    path.mkdir()
    return path


@pytest.fixture
def server(wheels: Path) -> Iterator[FileServer]:
    srv = FileServer(wheels)
    yield srv
    srv.close()


GAMMA = {
    "gamma/__init__.py": b'import sys\n\ndef main():\n    print("gamma says hi from", sys.prefix)\n',
    "gamma-1.0.dist-info/entry_points.txt": b"[console_scripts]\ngamma-hello = gamma:main\n",
}


def image_lock(
    dest: Path,
    wheels: Path,
    server: FileServer,
    *,
    python: str,
    torch: str = "2.5.1+cu124",
    platform: str = "linux-x86_64",
    extra: Sequence[tuple[str, str]] = (
        ("alpha", "1.0"),
        ("gamma", "1.0"),
        ("nvidia-cudnn-cu12", "9.1.0.70"),
    ),
) -> Path:
    """A lock with one CUDA target `gpu`: torch (a fixture wheel), an nvidia-* wheel and small ones
    (gamma has a console script, `gamma-hello`), with the CUDA facts a real cu124 lock records."""
    make_lock(
        dest,
        wheels,
        server.url,
        [
            TargetDef(
                name="gpu",
                packages=(("torch", torch), *extra),
                gpus=("sm_80", "sm_90"),
                variant="cu124",
                torch=torch,
                cuda="12.4",
                requires_driver="550.54.14",
                compat="native",
                driver="550.54.15",
                platform=platform,
            )
        ],
        python=python,
        payloads={"gamma": GAMMA},
    )
    lock = load_lock(dest)
    targets = tuple(dataclasses.replace(t, cudnn="9.1.0.70", nccl="2.21.5") for t in lock.targets)
    dest.write_text(dump_lock(seal(dataclasses.replace(lock, targets=targets))), encoding="utf-8")
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Registry:
    """Debian's docker-registry (the CNCF distribution registry) serving plain HTTP on 127.0.0.1."""

    def __init__(self, root: Path, *, htpasswd: Path | None = None) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log = root / "registry.log"
        auth = f"auth:\n  htpasswd:\n    realm: envlock-test\n    path: {htpasswd}\n" if htpasswd else ""
        config = root / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: info\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
            f"http:\n  addr: {self.host}\n{auth}",
            encoding="utf-8",
        )
        self._log = self.log.open("w")
        self.proc = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 401 with auth: it is up
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("docker-registry did not start: " + self.log.read_text()) from None
                time.sleep(0.1)

    def blob_uploads(self) -> int:
        """Blob uploads the registry completed (its access log: PUT of an upload session)."""
        self._log.flush()
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return sum(1 for line in text.splitlines() if '"PUT /v2/' in line and "/blobs/uploads/" in line)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    if _missing(["docker-registry", "skopeo"]):
        pytest.skip("needs docker-registry and skopeo (.ci/run installs them)")
    root = tmp_path / "registry"
    root.mkdir()
    reg = Registry(root)
    yield reg
    reg.close()


@pytest.fixture
def auth_registry(tmp_path: Path) -> Iterator[Registry]:
    if _missing(["docker-registry", "skopeo", "htpasswd"]):
        pytest.skip("needs docker-registry, skopeo and htpasswd (.ci/run installs them)")
    root = tmp_path / "auth-registry"
    root.mkdir()
    htpasswd = root / "htpasswd"
    done = subprocess.run(
        ["htpasswd", "-Bbn", "envlock", "right-password"], capture_output=True, text=True, check=True
    )
    htpasswd.write_text(done.stdout, encoding="utf-8")
    reg = Registry(root, htpasswd=htpasswd)
    yield reg
    reg.close()


class Podman:
    """podman as it runs here: runc, cgroupfs, no default ulimits (a containers.conf written here),
    with its storage under `root` and a short run root (podman refuses long ones)."""

    def __init__(self, root: Path) -> None:
        if shutil.which("podman") is None:
            pytest.skip("needs podman (.ci/run installs it)")
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.conf = root / "containers.conf"
        self.conf.write_text(
            '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n'
            'cgroup_manager = "cgroupfs"\nevents_logger = "file"\n',
            encoding="utf-8",
        )
        self.runroot = tempfile.mkdtemp(prefix="envlock-podman-")

    def __call__(self, args: Sequence[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["podman", "--root", str(self.root / "storage"), "--runroot", self.runroot, *args],
            capture_output=True,
            text=True,
            env=dict(os.environ, CONTAINERS_CONF=str(self.conf)),
            timeout=timeout,
            check=False,
        )

    def close(self) -> None:
        self(["rmi", "--all", "--force"])  # only this storage; unmounts its layers
        shutil.rmtree(self.runroot, ignore_errors=True)


@pytest.fixture
def podman(tmp_path: Path) -> Iterator[Podman]:
    runner = Podman(tmp_path / "podman")
    yield runner
    runner.close()
