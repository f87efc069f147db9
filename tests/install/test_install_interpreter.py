"""A locked interpreter: solve pins the python-build-standalone build uv would install (URL + sha256),
install unpacks it into the store, bundles carry it, `--offline` uses it, `--python` overrides it.

The real host of those builds is not reachable here, so the tests serve a mirror (uv reads
UV_PYTHON_INSTALL_MIRROR) holding an archive in python-build-standalone's `install_only` layout,
built at test time from this machine's own Python install tree (its stdlib, without site-packages
and test suites). uv names the file; the bytes are this Python, so the version inside is the
host's, not the one in the name.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from lockmaker import PYTHON, FileServer, TargetDef, make_lock, run_envlock, serving

from envlock.index.client import HttpIndexClient
from envlock.lock.model import LockedInterpreter
from envlock.resolvers.uv import python_downloads
from envlock.solve.interpreter import pin_interpreter

_SKIP_DIRS = {"site-packages", "test", "tests", "__pycache__", "idlelib", "tkinter", "turtledemo", "lib2to3"}
_SKIP_DIRS |= {"ensurepip", "pydoc_data", "unittest"}


def _source_tree() -> Path:
    base = Path(sys.base_prefix)
    if (
        not (base / "bin" / f"python{PYTHON}").is_file()
        or not (base / "lib" / f"python{PYTHON}" / "os.py").is_file()
    ):
        pytest.skip(f"{base} is not a Unix Python install tree (bin/python{PYTHON}, lib/python{PYTHON})")
    return base


def build_standalone_archive(dest: Path) -> None:
    """Pack this machine's Python as python-build-standalone packs an `install_only` build:
    everything under a top-level `python/` directory, `bin/python3` beside `bin/pythonX.Y`."""
    base = _source_tree()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w:gz", compresslevel=1) as tar:
        tar.add(base / "bin" / f"python{PYTHON}", f"python/bin/python{PYTHON}")
        for alias in ("python3", "python"):
            link = tarfile.TarInfo(f"python/bin/{alias}")
            link.type = tarfile.SYMTYPE
            link.linkname = f"python{PYTHON}"
            tar.addfile(link)
        for lib in sorted((base / "lib").glob("libpython*.so*")):
            tar.add(lib, f"python/lib/{lib.name}")
        stdlib = base / "lib" / f"python{PYTHON}"
        for root, dirs, files in os.walk(stdlib):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("config-"))
            rel = Path(root).relative_to(stdlib)
            for name in sorted(files):
                tar.add(Path(root, name), f"python/lib/python{PYTHON}/{rel / name}", recursive=False)
        site = tarfile.TarInfo(f"python/lib/python{PYTHON}/site-packages")
        site.type = tarfile.DIRTYPE
        site.mode = 0o755
        tar.addfile(site)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FileServer, Path]]:
    """A python-build-standalone mirror on 127.0.0.1 holding the build uv would pick for PYTHON.

    (The per-test environment of tests/conftest.py drops UV_* variables again: tests that ask uv
    set UV_PYTHON_INSTALL_MIRROR themselves.)"""
    root = tmp_path_factory.mktemp("mirror")
    with serving(root) as server:
        base = server.url + "pbs"
        old = os.environ.get("UV_PYTHON_INSTALL_MIRROR")
        os.environ["UV_PYTHON_INSTALL_MIRROR"] = base
        try:
            url = next(
                d.url
                for d in python_downloads(PYTHON)
                if (d.implementation, d.os, d.arch, d.libc, d.variant)
                == ("cpython", "linux", "x86_64", "gnu", "default")
            )
            assert url.startswith(base + "/"), url  # uv applied the mirror
            build_standalone_archive(root / unquote(urlsplit(url).path.lstrip("/")))
            yield server, root
        finally:
            if old is None:
                os.environ.pop("UV_PYTHON_INSTALL_MIRROR", None)
            else:
                os.environ["UV_PYTHON_INSTALL_MIRROR"] = old


@pytest.fixture(scope="module")
def pinned(mirror: tuple[FileServer, Path], tmp_path_factory: pytest.TempPathFactory) -> LockedInterpreter:
    cache = tmp_path_factory.mktemp("cache")
    with HttpIndexClient() as client:
        return pin_interpreter(PYTHON, "linux-x86_64", client, cache_root=cache, target="cpu")


def _stripped_path(tmp_path: Path) -> str:
    """A PATH on which no Python of the locked version (nor any Python) can be found."""
    empty = tmp_path / "bin-without-python"
    empty.mkdir()
    for tool in ("sh", "env"):  # what a shell-less job still has
        found = Path("/bin", tool)
        if found.exists():
            (empty / tool).symlink_to(found)
    return str(empty)


def test_solve_pins_the_build_uv_would_install_by_url_and_sha256(
    mirror: tuple[FileServer, Path],
    pinned: LockedInterpreter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, root = mirror
    monkeypatch.setenv("UV_PYTHON_INSTALL_MIRROR", server.url + "pbs")  # each test starts without UV_*
    archive = root / unquote(urlsplit(pinned.artifact.url).path.lstrip("/"))
    import hashlib

    assert pinned.artifact.url.startswith(server.url + "pbs/")
    assert pinned.artifact.filename.endswith("-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz")
    assert pinned.artifact.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert pinned.artifact.size == archive.stat().st_size
    assert pinned.version.startswith(PYTHON + ".")
    # the hash is kept: a second solve does not download the archive again
    cache = tmp_path / "cache"
    with HttpIndexClient() as client:
        first = pin_interpreter(PYTHON, "linux-x86_64", client, cache_root=cache)
        requests = len(server.requests)
        again = pin_interpreter(PYTHON, "linux-x86_64", client, cache_root=cache)
    assert again == first and len(server.requests) == requests


def test_the_lock_records_the_interpreter_and_reads_it_back(
    pinned: LockedInterpreter, tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    lock = make_lock(
        tmp_path / "envlock.lock", wheels, server.url, [TargetDef(name="cpu")], interpreter=pinned
    )
    text = lock.read_text()
    assert f'interpreter = {{ implementation = "cpython", version = "{pinned.version}"' in text
    shown = json.loads(run_envlock(["show", "-l", str(lock), "--json"]).stdout)
    assert shown["targets"][0]["interpreter"]["sha256"] == pinned.artifact.sha256
    text_out = run_envlock(["show", "-l", str(lock)])  # the content hash covers it: no edit detected
    assert text_out.returncode == 0, text_out.stderr
    assert f"interpreter      cpython {pinned.version} (python-build-standalone" in text_out.stdout


def test_offline_install_from_a_bundle_uses_the_locked_interpreter_with_no_python_on_path(
    pinned: LockedInterpreter,
    mirror: tuple[FileServer, Path],
    tmp_path: Path,
    wheels: Path,
    server: FileServer,
) -> None:
    lock = make_lock(
        tmp_path / "envlock.lock", wheels, server.url, [TargetDef(name="cpu")], interpreter=pinned
    )
    bundle = tmp_path / "bundle"
    fetched = run_envlock(["fetch", "-l", str(lock), "-o", str(bundle)])
    assert fetched.returncode == 0, fetched.stderr
    assert (bundle / "artifacts" / pinned.artifact.sha256 / pinned.artifact.filename).is_file()
    server.close()  # no network from here on: the index and (below) the mirror are unreachable
    store = tmp_path / "store"
    path = _stripped_path(tmp_path)
    env = {"PATH": path, "UV_PYTHON_INSTALL_MIRROR": "http://127.0.0.1:9/unreachable"}
    done = run_envlock(["install", "--offline", "--bundle", str(bundle), "--store", str(store)], env=env)
    assert done.returncode == 0, done.stderr
    assert "unpacking the interpreter" in done.stderr
    env_dir = Path(done.stdout.strip())
    record = json.loads((env_dir / "envlock-env.json").read_text())
    assert record["interpreter-source"] == "locked"
    unpacked = store / "v1" / "python" / f"{pinned.artifact.sha256[:32]}-cpython-{pinned.version}"
    assert record["interpreter"].startswith(str(unpacked))
    ran = run_envlock(
        ["run", "--offline", "--bundle", str(bundle), "--store", str(store), "--",
         "python", "-c", "import sys, alpha; print(sys.base_prefix)"],
        env=env,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert Path(ran.stdout.strip()) == unpacked / "python"
    # a second environment on the same build shares the unpacked interpreter
    assert len(list((store / "v1" / "python").iterdir())) == 1


def test_python_override_warns_and_records_the_warning(
    pinned: LockedInterpreter,
    mirror: tuple[FileServer, Path],
    tmp_path: Path,
    wheels: Path,
    server: FileServer,
) -> None:
    lock = make_lock(
        tmp_path / "envlock.lock", wheels, server.url, [TargetDef(name="cpu")], interpreter=pinned
    )
    store = tmp_path / "store"
    locked = run_envlock(["install", "-l", str(lock), "--store", str(store)])
    assert locked.returncode == 0, locked.stderr
    done = run_envlock(
        ["install", "-l", str(lock), "--store", str(store), "--python", sys.executable, "--json"]
    )
    assert done.returncode == 0, done.stderr
    assert f"--python {sys.executable} replaces the interpreter the lock pins" in done.stderr
    result = json.loads(done.stdout)
    assert result["interpreter-source"] == "override"
    assert result["path"] != locked.stdout.strip()  # another environment than the locked one
    record = json.loads(Path(result["path"], "envlock-env.json").read_text())
    assert record["interpreter-source"] == "override"
    assert any("replaces the interpreter the lock pins" in w for w in record["warnings"])
    bad = run_envlock(["install", "-l", str(lock), "--store", str(store), "--python", str(tmp_path)])
    assert bad.returncode == 2 and "not an executable file" in bad.stderr


def test_offline_without_the_interpreter_is_a_clear_exit_3(
    pinned: LockedInterpreter, tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    lock = make_lock(
        tmp_path / "envlock.lock", wheels, server.url, [TargetDef(name="cpu")], interpreter=pinned
    )
    done = run_envlock(["install", "-l", str(lock), "--store", str(tmp_path / "store"), "--offline"])
    assert done.returncode == 3
    assert "the locked interpreter" in done.stderr and "envlock fetch" in done.stderr


@pytest.mark.parametrize(
    ("field", "value"),
    [("version", "../../../tmp/x"), ("file", "../python.tar.gz"), ("sha256", "ab" * 16)],
)
def test_a_lock_whose_interpreter_would_escape_the_store_is_refused(
    field: str, value: str, tmp_path: Path, wheels: Path
) -> None:
    from dataclasses import replace

    from envlock.lock.model import Artifact

    good = LockedInterpreter(
        implementation="cpython",
        version="3.11.14",
        artifact=Artifact(
            filename="cpython-3.11.14+20260211-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
            url="http://127.0.0.1:9/python.tar.gz",
            size=1,
            sha256="0" * 64,
        ),
    )
    bad = {
        "version": replace(good, version=value),
        "file": replace(good, artifact=replace(good.artifact, filename=value)),
        "sha256": replace(good, artifact=replace(good.artifact, sha256=value)),
    }[field]
    lock = make_lock(
        tmp_path / "envlock.lock", wheels, "file:///unused/", [TargetDef(name="cpu")], interpreter=bad
    )
    done = run_envlock(["install", "-l", str(lock), "--store", str(tmp_path / "store")])
    assert done.returncode == 2, done.stderr
    assert re.search(rf"interpreter\.{field}: found .*, expected", done.stderr), done.stderr
    assert not (tmp_path / "store").exists()


def test_gc_keeps_the_interpreter_of_a_rooted_environment_and_removes_it_with_the_last_one(
    pinned: LockedInterpreter, tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    lock, store = _install_pinned(pinned, tmp_path, wheels, server)
    unpacked = store / "v1" / "python" / f"{pinned.artifact.sha256[:32]}-cpython-{pinned.version}"
    assert unpacked.is_dir()
    gc = run_envlock(["gc", "--store", str(store)])
    assert gc.returncode == 0, gc.stderr
    assert unpacked.is_dir()
    ran = run_envlock(["run", "-l", str(lock), "--store", str(store), "--", "python", "-c", "import alpha"])
    assert ran.returncode == 0, ran.stderr  # the environment still runs on it

    lock.unlink()  # the environment's root dies, and nothing else is built on the interpreter
    gc = run_envlock(["gc", "--store", str(store)])
    assert gc.returncode == 0, gc.stderr
    assert f"removed python {unpacked}" in gc.stdout
    assert list((store / "v1" / "python").iterdir()) == []
    assert list((store / "v1" / "envs").iterdir()) == []


def test_an_interpreter_another_user_planted_in_the_store_is_not_run(
    pinned: LockedInterpreter, tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    """The unpacked build's name follows from the lock, so another member of a group store can make
    it first; the install unpacks a copy of its own instead and says why."""
    if os.geteuid() != 0:
        pytest.skip("needs root: the planted build is given to uid 65534 with chown")
    lock = make_lock(
        tmp_path / "envlock.lock", wheels, server.url, [TargetDef(name="cpu")], interpreter=pinned
    )
    store = tmp_path / "store"
    name = f"{pinned.artifact.sha256[:32]}-cpython-{pinned.version}"
    planted = store / "v1" / "python" / name
    exe = planted / "python" / "bin" / f"python{PYTHON}"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\necho planted\n")
    exe.chmod(0o755)
    (planted / ".envlock-complete").write_text(pinned.artifact.sha256 + "\n")
    for path in (planted, planted / "python", exe.parent, exe, planted / ".envlock-complete"):
        os.lchown(path, 65534, 65534)
    done = run_envlock(["install", "-l", str(lock), "--store", str(store)])
    assert done.returncode == 0, done.stderr
    assert f"{planted} is owned by uid 65534, not by you" in done.stderr
    assert "using a copy of your own" in done.stderr
    env_dir = Path(done.stdout.strip())
    record = json.loads((env_dir / "envlock-env.json").read_text())
    own = planted.with_name(f"{name}-u{os.getuid()}")
    assert record["interpreter"].startswith(str(own))
    assert exe.read_text() == "#!/bin/sh\necho planted\n"  # left as it was
    ran = run_envlock(
        ["run", "-l", str(lock), "--store", str(store), "--",
         "python", "-c", "import sys; print(sys.base_prefix)"]
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert Path(ran.stdout.strip()) == own / "python"
    for dirpath, dirnames, filenames in os.walk(own):  # the build others run is read-only
        for entry in (Path(dirpath), *(Path(dirpath, n) for n in (*dirnames, *filenames))):
            assert entry.is_symlink() or not entry.lstat().st_mode & 0o222, entry


def test_verify_compares_the_interpreter_an_environment_runs_with_its_archive(
    pinned: LockedInterpreter, tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    lock, store = _install_pinned(pinned, tmp_path, wheels, server)
    verify = ["verify", "-l", str(lock), "--store", str(store)]
    clean = run_envlock(verify)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    unpacked = store / "v1" / "python" / f"{pinned.artifact.sha256[:32]}-cpython-{pinned.version}"
    stdlib = unpacked / "python" / "lib" / f"python{PYTHON}"
    changed = stdlib / "os.py"
    changed.chmod(0o644)
    changed.write_text(changed.read_text() + "\nimport subprocess  # planted\n")
    added = stdlib / "sitecustomize.py"
    stdlib.chmod(0o755)
    added.write_text("print('planted')\n")
    found = run_envlock(verify)
    assert found.returncode == 1
    out = found.stdout + found.stderr
    assert f"{changed}: differs from the locked interpreter archive" in out
    assert f"{added}: not in the locked interpreter archive" in out


def _install_pinned(
    pinned: LockedInterpreter, tmp_path: Path, wheels: Path, server: FileServer
) -> tuple[Path, Path]:
    """A one-target lock on the pinned interpreter, installed into a new store: (lock, store)."""
    lock = make_lock(
        tmp_path / "envlock.lock", wheels, server.url, [TargetDef(name="cpu")], interpreter=pinned
    )
    store = tmp_path / "store"
    done = run_envlock(["install", "-l", str(lock), "--store", str(store)])
    assert done.returncode == 0, done.stderr
    return lock, store
