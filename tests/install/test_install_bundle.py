"""`envlock fetch` + `envlock install --offline --bundle` with every network route closed."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from lockmaker import FileServer, run_envlock


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def _no_network(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """A command prefix and environment under which no connection can succeed.

    Preferred: a network namespace with no routes (`unshare -rn`). Else a sitecustomize that makes
    every Python socket connect fail; either way proxies and indexes point at a closed port.
    """
    dead = f"http://127.0.0.1:{_closed_port()}"
    env = {
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "ALL_PROXY": dead,
        "UV_INDEX_URL": dead + "/simple",
        "PIP_INDEX_URL": dead + "/simple",
    }
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False).returncode == 0:
        return ["unshare", "-rn"], env
    site = tmp_path / "nonet"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import socket\n"
        "def _refuse(self, *a, **k):\n"
        "    raise OSError('network closed by the test')\n"
        "socket.socket.connect = _refuse\n"
        "socket.socket.connect_ex = _refuse\n"
    )
    return [], env | {"PYTHONPATH": str(site)}


def test_fetch_then_offline_install_with_the_network_closed(
    lock: Path, tmp_path: Path, server: FileServer
) -> None:
    bundle = tmp_path / "bundle"
    fetched = run_envlock(["fetch", "-l", str(lock), "-o", str(bundle), "--json"])
    assert fetched.returncode == 0, fetched.stderr
    assert (bundle / "envlock.lock").read_bytes() == lock.read_bytes()
    sums = (bundle / "SHA256SUMS").read_text().splitlines()
    assert len(sums) == 3  # the lock + alpha + beta (shared by both targets, fetched once)
    check = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=bundle, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    server.close()

    prefix, env = _no_network(tmp_path)
    moved = tmp_path / "airgapped" / "bundle"
    moved.parent.mkdir()
    shutil.move(str(bundle), moved)  # the bundle travels; nothing refers back to where it was made
    store = tmp_path / "airgapped" / "store"
    done = run_envlock(
        ["install", "--offline", "--bundle", str(moved), "--target", "cpu", "--store", str(store)],
        prefix=prefix,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    env_path = Path(done.stdout.strip())
    ran = run_envlock(
        [
            "run",
            "--offline",
            "--bundle",
            str(moved),
            "--target",
            "cpu",
            "--store",
            str(store),
            "--",
            "python",
            "-c",
            "import alpha, beta; print(alpha.__version__, beta.__version__)",
        ],
        prefix=prefix,
        env=env,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["1.0", "2.0"]
    assert env_path.parent == store / "v1" / "envs"


def test_the_network_really_is_closed(tmp_path: Path, server: FileServer) -> None:
    prefix, env = _no_network(tmp_path)
    probe = subprocess.run(
        [
            *prefix,
            "python",
            "-c",
            f"import urllib.request; urllib.request.urlopen({server.url!r}, timeout=5)",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert probe.returncode != 0


@pytest.mark.parametrize("damage", ["missing", "wrong"])
def test_damaged_bundle_is_an_integrity_error(lock: Path, tmp_path: Path, store: Path, damage: str) -> None:
    bundle = tmp_path / "bundle"
    assert run_envlock(["fetch", "-l", str(lock), "-o", str(bundle)]).returncode == 0
    beta = next((bundle / "artifacts").glob("*/beta-*.whl"))
    if damage == "missing":
        beta.unlink()
    else:
        beta.write_bytes(b"something else")
    done = run_envlock(
        ["install", "--offline", "--bundle", str(bundle), "--target", "cpu", "--store", str(store)]
    )
    assert done.returncode == 1, done.stderr
    assert "beta-2.0-py3-none-any.whl" in done.stderr
    assert ("misses" if damage == "missing" else "do not match") in done.stderr
    assert list((store / "v1" / "envs").iterdir()) == []


def test_swapped_bundle_lock_is_an_integrity_error(lock: Path, tmp_path: Path, store: Path) -> None:
    bundle = tmp_path / "bundle"
    assert run_envlock(["fetch", "-l", str(lock), "-o", str(bundle), "--target", "small"]).returncode == 0
    (bundle / "envlock.lock").write_text((bundle / "envlock.lock").read_text() + "\n")
    done = run_envlock(["install", "--offline", "--bundle", str(bundle), "--store", str(store)])
    assert done.returncode == 1
    assert "SHA256SUMS" in done.stderr


def test_fetch_of_one_target_bundles_only_its_files(lock: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    assert run_envlock(["fetch", "-l", str(lock), "-o", str(bundle), "--target", "small"]).returncode == 0
    assert [p.name for p in (bundle / "artifacts").glob("*/*.whl")] == ["alpha-1.0-py3-none-any.whl"]
