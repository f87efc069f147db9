"""Direct references (`name @ path/url`) in [env].dependencies: locked with their hash and source,
installed, importable; sdists and source trees under the `[resolution] build` policy."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from envlock import _toml
from envlock.lock.read import load_lock
from fixtures.server import FixtureIndexServer
from fixtures.wheels import build_wheel
from tests.solve.conftest import Run, target_block

Envlock = Callable[..., Run]
CI = target_block("ci")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _package(lock_file: Path, target: str, name: str) -> dict[str, object]:
    data = _toml.loads(lock_file.read_text())
    found = next(t for t in data["targets"] if t["name"] == target)
    return next(p for p in found["packages"] if p["name"] == name)


@pytest.fixture(autouse=True)
def cpu_node(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installs here judge this machine as a CPU-only node, whatever it has."""
    monkeypatch.setenv("ENVLOCK_GPUS", "none")
    monkeypatch.setenv("ENVLOCK_DRIVER", "none")


def test_a_local_wheel_is_locked_with_its_hash_and_relative_path_and_installs(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    wheel = build_wheel(
        tmp_path / "dist",
        "mylib",
        "0.1.0",
        "py3-none-any",
        requires_dist=("filelock",),
        files={"mylib/__init__.py": b'ANSWER = "from the direct wheel"\n'},
    )
    spec = write_spec(deps=(f"mylib @ {wheel.as_uri()}",), targets=CI, pytorch=False)
    run = envlock("solve", "-s", str(spec))
    assert run.code == 0, run.err
    lock_file = spec.parent / "envlock.lock"
    mylib = _package(lock_file, "ci", "mylib")
    assert mylib["version"] == "0.1.0"
    assert mylib["source"] == {"path": "dist/mylib-0.1.0-py3-none-any.whl"}
    (artifact,) = mylib["artifacts"]  # type: ignore[misc]  # a list of one table
    assert artifact["sha256"] == _sha256(wheel)
    assert artifact["size"] == wheel.stat().st_size
    assert artifact["hash-source"] == "file"
    assert "index" not in mylib
    # its own dependency came through the resolver, from the index
    assert _package(lock_file, "ci", "filelock")["version"] == "3.16.1"
    assert envlock("check", "-s", str(spec)).code == 0
    shown = envlock("show", "-l", str(lock_file))
    assert "0.1.0  (path dist/mylib-0.1.0-py3-none-any.whl)" in shown.out
    from packaging.pylock import Pylock

    exported = spec.parent / "pylock.ci.toml"
    run = envlock("export", "-l", str(lock_file), "--target", "ci", "--format", "pylock", "-o", str(exported))
    assert run.code == 0, run.err
    pylock = Pylock.from_dict(_toml.loads(exported.read_text()))
    pylock.validate()
    (wheel_entry,) = next(p for p in pylock.packages if p.name == "mylib").wheels or ()
    assert (wheel_entry.path, wheel_entry.hashes["sha256"]) == (mylib["source"]["path"], _sha256(wheel))  # type: ignore[index]  # TOML table

    # Installed on a node whose envlock cache does not hold the wheel: it is read from its path.
    from envlock.solve.direct import direct_cache

    shutil.rmtree(direct_cache())
    run = envlock("install", "-l", str(lock_file), "--target", "ci")
    assert run.code == 0, run.err
    env = Path(run.out.strip().splitlines()[-1])
    out = subprocess.run(
        [str(env / "bin" / "python"), "-c", "import mylib, filelock; print(mylib.ANSWER)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "from the direct wheel"


def test_a_relative_path_reference_and_a_changed_wheel(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    build_wheel(tmp_path / "wheels", "mylib", "0.2.0", "py3-none-any")
    spec = write_spec(deps=("mylib @ ./wheels/mylib-0.2.0-py3-none-any.whl",), targets=CI, pytorch=False)
    assert envlock("solve", "-s", str(spec)).code == 0, "solve"
    lock = load_lock(spec.parent / "envlock.lock")
    (pkg,) = [p for p in lock.targets[0].packages if p.name == "mylib"]
    assert pkg.source is not None and pkg.source.location == "wheels/mylib-0.2.0-py3-none-any.whl"
    # The wheel is replaced by other bytes under the same name: the install refuses them.
    from envlock.solve.direct import direct_cache

    shutil.rmtree(direct_cache())
    build_wheel(
        tmp_path / "wheels", "mylib", "0.2.0", "py3-none-any", files={"mylib/__init__.py": b"X = 1\n"}
    )
    run = envlock("check", "-s", str(spec))
    assert run.code == 1
    assert "mylib: wheels/mylib-0.2.0-py3-none-any.whl holds other bytes than the lock pins" in run.err
    lock_file = str(spec.parent / "envlock.lock")
    run = envlock("install", "-l", lock_file, "--target", "ci")
    assert run.code == 1  # the lock is stale against the spec's directory
    assert "mylib: wheels/mylib-0.2.0-py3-none-any.whl holds other bytes than the lock pins" in run.err
    run = envlock("install", "-l", lock_file, "--target", "ci", "--frozen")
    assert run.code == 1  # and the bytes themselves do not pass verification
    assert "mylib-0.2.0-py3-none-any.whl" in run.err and "sha256" in run.err


def test_a_wheel_that_does_not_fit_a_target_is_refused(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path / "dist", "natlib", "1.0", "cp311-cp311-manylinux_2_17_x86_64")
    spec = write_spec(
        deps=(f"natlib @ {wheel.as_uri()}",), targets=CI + target_block("mac", "macos-arm64"), pytorch=False
    )
    run = envlock("solve", "-s", str(spec))
    assert run.code == 1
    assert "does not install on target mac" in run.err


# -- sdists and source trees -------------------------------------------------------------------

# A PEP 517 backend inside the project (backend-path), so the build needs nothing from an index.
_BACKEND = """
import base64, hashlib, zipfile

NAME, VERSION = "srcpkg", "0.3.0"
FAIL = None


def get_requires_for_build_wheel(config_settings=None):
    return []


def _record(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if FAIL:
        exec(FAIL)
    info = f"{NAME}-{VERSION}.dist-info"
    members = [
        (f"{NAME}/__init__.py", b"BUILT = True\\n"),
        (f"{info}/METADATA", f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n"
                             "Requires-Dist: filelock\\n\\n".encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\n"
                          b"Tag: py3-none-any\\n"),
    ]
    record = "".join(f"{p},{_record(d)},{len(d)}\\n" for p, d in members) + f"{info}/RECORD,,\\n"
    members.append((f"{info}/RECORD", record.encode()))
    filename = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(f"{wheel_directory}/{filename}", "w") as archive:
        for path, data in members:
            item = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(item, data)
    return filename
"""


def _source_tree(root: Path, fail: str | None = None) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [build-system]
            requires = []
            build-backend = "backend"
            backend-path = ["."]
            """
        )
    )
    backend = _BACKEND if fail is None else _BACKEND.replace("FAIL = None", f"FAIL = {fail!r}")
    (root / "backend.py").write_text(backend)
    return root


def test_a_source_tree_is_refused_under_the_default_build_policy(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    _source_tree(tmp_path / "srcpkg")
    spec = write_spec(deps=("srcpkg @ ./srcpkg",), targets=CI, pytorch=False)
    run = envlock("solve", "-s", str(spec), "--json")
    assert run.code == 1
    error = run.json()["error"]
    assert "srcpkg" in error["message"] and "[resolution] build" in error["message"]
    assert 'build = ["srcpkg"]' in error["hint"]
    assert not (spec.parent / "envlock.lock").exists()


@pytest.mark.parametrize("policy", ['"allowed"', '["srcpkg"]'])
def test_an_allowed_source_tree_is_built_hashed_and_recorded(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path, policy: str
) -> None:
    _source_tree(tmp_path / "srcpkg")
    spec = write_spec(
        deps=("srcpkg @ ./srcpkg",), targets=CI, pytorch=False, extra=f"\n[resolution]\nbuild = {policy}\n"
    )
    run = envlock("solve", "-s", str(spec))
    assert run.code == 0, run.err
    lock_file = spec.parent / "envlock.lock"
    srcpkg = _package(lock_file, "ci", "srcpkg")
    assert srcpkg["source"] == {"path": "srcpkg", "built": True}
    (artifact,) = srcpkg["artifacts"]  # type: ignore[misc]  # a list of one table
    assert artifact["file"] == "srcpkg-0.3.0-py3-none-any.whl"
    assert artifact["hash-source"] == "built"
    from envlock.solve.direct import cached_wheel

    assert _sha256(cached_wheel(artifact["sha256"], artifact["file"])) == artifact["sha256"]
    assert _package(lock_file, "ci", "filelock")  # the built wheel's dependency is locked too
    run = envlock("install", "-l", str(lock_file), "--target", "ci")
    assert run.code == 0, run.err
    env = Path(run.out.strip().splitlines()[-1])
    subprocess.run([str(env / "bin" / "python"), "-c", "import srcpkg; assert srcpkg.BUILT"], check=True)


def test_a_git_reference_records_the_resolved_commit(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    repo = _source_tree(tmp_path / "repo")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "."], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "one"], check=True)
    subprocess.run([*git, "-C", str(repo), "tag", "v0.3.0"], check=True)
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    spec = write_spec(
        deps=(f"srcpkg @ git+{repo.as_uri()}@v0.3.0",),
        targets=CI,
        pytorch=False,
        extra='\n[resolution]\nbuild = "allowed"\n',
    )
    run = envlock("solve", "-s", str(spec))
    assert run.code == 0, run.err
    lock_file = spec.parent / "envlock.lock"
    srcpkg = _package(lock_file, "ci", "srcpkg")
    assert srcpkg["source"] == {"git": repo.as_uri(), "commit": commit, "built": True}

    # A new commit of the same version: the diff shows the source moving, with both commits.
    old_lock = tmp_path / "old.lock"
    shutil.copy(lock_file, old_lock)
    (repo / "backend.py").write_text((repo / "backend.py").read_text().replace("BUILT = True", "BUILT = 2"))
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "-am", "two"], check=True)
    newer = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    _respec_dep = spec.read_text().replace("@v0.3.0", "@" + newer)
    spec.write_text(_respec_dep)
    assert envlock("solve", "-s", str(spec)).code == 0
    diff = envlock("diff", str(old_lock), str(lock_file))
    assert diff.code == 0
    assert commit in diff.out and newer in diff.out, diff.out

    # Pinned to a full commit that the lock already holds: a re-solve neither clones nor builds.
    locked = lock_file.read_bytes()
    shutil.rmtree(repo)
    run = envlock("solve", "-s", str(spec), "--upgrade-package", "filelock")
    assert run.code == 0, run.err
    assert lock_file.read_bytes() == locked


def test_a_build_that_needs_torch_and_nvcc_says_so(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    # what flash-attn's setup.py says when built in isolation
    fail = (
        "raise OSError('CUDA_HOME environment variable is not set (nvcc not found)') "
        "from ModuleNotFoundError(\"No module named 'torch'\")"
    )
    _source_tree(tmp_path / "flash-attn", fail=fail)
    spec = write_spec(
        deps=("flash-attn @ ./flash-attn",),
        targets=CI,
        pytorch=False,
        extra='\n[resolution]\nbuild = ["flash-attn"]\n',
    )
    run = envlock("solve", "-s", str(spec), "--json")
    assert run.code == 1
    error = run.json()["error"]
    assert "needs torch importable while it builds and the CUDA compiler nvcc" in error["message"]
    assert "prebuilt wheel of flash-attn" in error["hint"]
    assert "driver" not in error["hint"]


def test_a_wheel_by_url_is_locked_with_its_url_and_hash(
    envlock: Envlock, write_spec: Callable[..., Path], index_server: FixtureIndexServer
) -> None:
    filename = "filelock-3.16.1-py3-none-any.whl"
    url = index_server.file_url(filename)
    spec = write_spec(deps=(f"filelock @ {url}",), targets=CI, pytorch=False)
    run = envlock("solve", "-s", str(spec))
    assert run.code == 0, run.err
    filelock = _package(spec.parent / "envlock.lock", "ci", "filelock")
    assert filelock["source"] == {"url": url}
    (artifact,) = filelock["artifacts"]  # type: ignore[misc]  # a list of one table
    assert (artifact["url"], artifact["sha256"]) == (url, index_server.wheel(filename).sha256)
    assert artifact["hash-source"] == "downloaded"


def test_a_bundle_carries_a_direct_wheel_to_an_offline_install(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    build_wheel(tmp_path / "dist", "mylib", "0.4.0", "py3-none-any")
    spec = write_spec(deps=("mylib @ ./dist/mylib-0.4.0-py3-none-any.whl",), targets=CI, pytorch=False)
    assert envlock("solve", "-s", str(spec)).code == 0
    lock_file = spec.parent / "envlock.lock"
    bundle = tmp_path / "bundle"
    run = envlock("fetch", "-l", str(lock_file), "-o", str(bundle))
    assert run.code == 0, run.err
    # Elsewhere: no envlock cache, no wheel beside the lock, no network.
    from envlock.solve.direct import direct_cache

    shutil.rmtree(direct_cache())
    shutil.rmtree(tmp_path / "dist")
    run = envlock("install", "--offline", "--bundle", str(bundle), "--target", "ci")
    assert run.code == 0, run.err
    env = Path(run.out.strip().splitlines()[-1])
    subprocess.run([str(env / "bin" / "python"), "-c", "import mylib"], check=True)


def test_an_sdist_file_follows_the_build_policy_both_ways(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    import tarfile

    tree = _source_tree(tmp_path / "srcpkg-0.3.0")
    (tree / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: srcpkg\nVersion: 0.3.0\n")
    sdist = tmp_path / "dist" / "srcpkg-0.3.0.tar.gz"
    sdist.parent.mkdir()
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(tree, arcname=tree.name)
    shutil.rmtree(tree)
    deps = ("srcpkg @ ./dist/srcpkg-0.3.0.tar.gz",)
    spec = write_spec(deps=deps, targets=CI, pytorch=False)
    run = envlock("solve", "-s", str(spec))
    assert run.code == 1
    assert (
        "is an sdist" in run.err and '[resolution] build = "never" does not allow building srcpkg' in run.err
    )
    spec = write_spec(deps=deps, targets=CI, pytorch=False, extra='\n[resolution]\nbuild = ["srcpkg"]\n')
    run = envlock("solve", "-s", str(spec))
    assert run.code == 0, run.err
    srcpkg = _package(spec.parent / "envlock.lock", "ci", "srcpkg")
    assert srcpkg["source"] == {"path": "dist/srcpkg-0.3.0.tar.gz", "built": True}
    (artifact,) = srcpkg["artifacts"]  # type: ignore[misc]  # a list of one table
    assert (artifact["file"], artifact["hash-source"]) == ("srcpkg-0.3.0-py3-none-any.whl", "built")
