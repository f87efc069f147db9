"""What a published store environment holds, byte for byte: the same lock gives the same tree, package
metadata looks like an index install, bytecode is hash-based, nothing is writable, and `verify` names
any file that changed."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lockmaker import FileServer, TargetDef, make_lock, run_envlock

from envlock.store.modes import remove_tree
from envlock.store.tree import TREE_MANIFEST, tree_differences

SITE = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"

# A package with what installers treat specially: a set constant (written in hash order unless the
# seed is fixed), a subpackage, a console script, a script with `#!python`, a data file, a .pth.
ALPHA = {
    "alpha/__init__.py": b'__version__ = "1.0"\n\ndef main():\n    print("alpha", kind("beta"))\n\n'
    b'def kind(x):\n    return x in {"alpha", "beta", "gamma", "delta", "epsilon"}\n',
    "alpha/sub/__init__.py": b"",
    "alpha/sub/mod.py": b"VALUE = 42\n",
    "alpha-1.0.dist-info/entry_points.txt": b"[console_scripts]\nalpha-tool = alpha:main\n",
    "alpha-1.0.data/scripts/alpha-script": b"#!python\nimport alpha\nprint(alpha.__version__)\n",
    "alpha-1.0.data/data/share/alpha/notes.txt": b"notes\n",
    # A .pth that imports a module at every start of the venv's Python (as setuptools' does): that
    # Python must not write the module's bytecode itself while envlock compiles it.
    "alpha-hook.pth": b"import alpha_hook\n",
    "alpha_hook.py": b"HOOKED = True\n",
}


def _install(lock: Path, store: Path, *, prefix: tuple[str, ...] = (), cwd: Path | None = None,
             env: dict[str, str] | None = None) -> Path:  # fmt: skip
    done = run_envlock(
        ["install", "-l", str(lock), "--target", "cpu", "--store", str(store), "--json"],
        prefix=prefix,
        cwd=cwd,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return Path(json.loads(done.stdout)["path"])


@pytest.fixture
def rich_lock(tmp_path: Path, wheels: Path, server: FileServer) -> Path:
    return make_lock(
        tmp_path / "envlock.lock", wheels, server.url, [TargetDef(name="cpu")], payloads={"alpha": ALPHA}
    )


def test_same_lock_twice_gives_the_same_tree_file_by_file(
    rich_lock: Path, store: Path, tmp_path: Path
) -> None:
    first = _install(rich_lock, store, env={"UV_CACHE_DIR": str(tmp_path / "cache-1")})
    manifest = (first / TREE_MANIFEST).read_text()
    record = json.loads((first / "envlock-env.json").read_text())
    remove_tree(store)
    time.sleep(1.1)  # a later clock: any recorded time would now differ in its seconds
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    second = _install(
        rich_lock,
        store,
        prefix=("sh", "-c", 'umask 077 && exec "$@"', "sh"),
        cwd=elsewhere,
        env={"UV_CACHE_DIR": str(tmp_path / "cache-2")},
    )
    assert second == first
    again = (second / TREE_MANIFEST).read_text()
    differences = tree_differences(manifest, again)
    assert not differences, "files that differ between the two builds:\n" + "\n".join(differences)
    assert json.loads((second / "envlock-env.json").read_text())["tree-hash"] == record["tree-hash"]
    verified = run_envlock(["verify", "-l", str(rich_lock), "--store", str(store), "--json"])
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["environments"][0]["tree-hash"] == record["tree-hash"]


def test_published_env_is_read_only_and_owns_its_files(rich_lock: Path, store: Path, tmp_path: Path) -> None:
    env = _install(rich_lock, store, env={"UV_CACHE_DIR": str(tmp_path / "cache")})
    writable = []
    linked = []
    for path in [env, *env.rglob("*")]:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue
        if st.st_mode & 0o222:
            writable.append(f"{path.relative_to(env)} {stat.S_IMODE(st.st_mode):04o}")
        if stat.S_ISREG(st.st_mode) and st.st_nlink != 1:
            linked.append(str(path.relative_to(env)))
    assert writable == []
    assert linked == []  # nothing shares an inode with uv's cache
    assert stat.S_IMODE((env / "bin" / "alpha-tool").stat().st_mode) == 0o555
    assert stat.S_IMODE((env / "bin" / "alpha-script").stat().st_mode) == 0o555
    tool = subprocess.run([str(env / "bin" / "alpha-tool")], capture_output=True, text=True, check=False)
    assert tool.stdout == "alpha True\n", tool.stderr
    dist_info = env / SITE / "alpha-1.0.dist-info"
    assert (dist_info / "INSTALLER").read_text() == "envlock\n"
    assert not (dist_info / "uv_cache.json").exists()
    rows = (dist_info / "RECORD").read_text().splitlines()
    assert rows[:-1] == sorted(rows[:-1]) and rows[-1] == "alpha-1.0.dist-info/RECORD,,"
    assert not [r for r in rows if "uv_cache" in r or "direct_url" in r]
    art = next((store / "v1" / "artifacts" / "sha256").glob("*/alpha-1.0-*.whl"))
    assert stat.S_IMODE(art.stat().st_mode) == 0o444 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_pip_freeze_prints_name_version_and_the_locked_url_for_a_direct_reference(
    tmp_path: Path, wheels: Path, server: FileServer, store: Path
) -> None:
    lock = make_lock(tmp_path / "envlock.lock", wheels, server.url, [TargetDef(name="cpu")], direct=("beta",))
    env = _install(lock, store)
    beta_url = server.url + "beta-2.0-py3-none-any.whl"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--path", str(env / SITE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if "No module named pip" in pip.stderr:
        pytest.skip("pip is not installed for this Python")
    assert pip.returncode == 0, pip.stderr
    sha = load_sha(lock, "beta")
    assert pip.stdout.splitlines() == ["alpha==1.0", f"beta @ {beta_url}#sha256={sha}"]
    from envlock.resolvers.uv import uv_binary

    uv = subprocess.run(
        [uv_binary(), "pip", "freeze", "--python", str(env / "bin" / "python")],
        capture_output=True, text=True, check=False, env={**os.environ, "UV_NO_CONFIG": "1"},
    )  # fmt: skip
    assert uv.returncode == 0, uv.stderr
    assert uv.stdout.splitlines()[0] == "alpha==1.0"
    assert uv.stdout.splitlines()[1].startswith(f"beta @ {beta_url}")
    direct = json.loads((env / SITE / "beta-2.0.dist-info" / "direct_url.json").read_text())
    assert direct["url"] == beta_url
    assert direct["archive_info"]["hashes"]["sha256"] == sha


def load_sha(lock: Path, name: str) -> str:
    from envlock.lock.read import load_lock

    target = load_lock(lock).targets[0]
    package = target.package(name)
    assert package is not None
    return package.artifacts[0].sha256


def test_bytecode_is_compiled_hash_based_and_imports_write_nothing(rich_lock: Path, store: Path) -> None:
    env = _install(rich_lock, store)
    tag = sys.implementation.cache_tag
    sources = sorted((env / SITE).rglob("*.py"))
    assert {p.name for p in sources} >= {"__init__.py", "mod.py", "alpha_hook.py"}
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        data = pyc.read_bytes()
        assert data[:4] == importlib.util.MAGIC_NUMBER, pyc
        assert int.from_bytes(data[4:8], "little") == 0b11, f"{pyc}: not a checked hash-based .pyc"
        assert data[8:16] == importlib.util.source_hash(source.read_bytes()), pyc
        listed = (env / SITE / "alpha-1.0.dist-info" / "RECORD").read_text()
        if "alpha" in source.parts:
            assert pyc.relative_to(env / SITE).as_posix() in listed
    # Importing uses the compiled files and writes nothing, even as root (who could write).
    subprocess.run([str(env / "bin" / "python"), "-c", "import alpha.sub.mod, beta"], check=True)
    verified = run_envlock(["verify", "-l", str(rich_lock), "--store", str(store)])
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_verify_passes_fresh_and_names_the_file_after_one_byte_changes(lock: Path, store: Path) -> None:
    env = _install(lock, store)
    fresh = run_envlock(["verify", "-l", str(lock), "--store", str(store)])
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert fresh.stdout.startswith("ok  cpu  ")

    victim = env / SITE / "beta" / "__init__.py"
    victim.chmod(0o644)  # the owner (or root) can always take the read-only mode off
    data = bytearray(victim.read_bytes())
    data[0] ^= 0x01
    victim.write_bytes(bytes(data))
    victim.chmod(0o444)
    changed = run_envlock(["verify", "-l", str(lock), "--store", str(store), "--target", "cpu"])
    assert changed.returncode == 1
    rel = f"{SITE}/beta/__init__.py"
    assert f"{rel}: contents changed" in changed.stdout
    assert f"{rel}: differs from the locked wheel of beta 2.0" in changed.stdout
    assert "alpha" not in changed.stdout
    assert "installed files changed" in changed.stderr

    as_json = run_envlock(["verify", "-l", str(lock), "--store", str(store), "--json"])
    assert as_json.returncode == 1
    problems = json.loads(as_json.stdout)["environments"][0]["problems"]
    assert any(p.startswith(rel) for p in problems)

    doctor = run_envlock(["doctor", "-l", str(lock), "--target", "cpu", "--verify", "--store", str(store)])
    assert doctor.returncode == 1
    assert "FAIL  verify" in doctor.stdout and rel in doctor.stdout


def test_verify_names_a_file_added_to_the_env_and_a_changed_pyvenv_cfg(lock: Path, store: Path) -> None:
    env = _install(lock, store)
    site = env / SITE
    site.chmod(0o755)
    (site / "sitecustomize.py").write_text("print('owned')\n")
    (site / "clear\x1b[2J.py").write_text("")
    cfg = env / "pyvenv.cfg"
    cfg.chmod(0o644)
    cfg.write_text(cfg.read_text() + "include-system-site-packages = true\n")
    done = run_envlock(["verify", "-l", str(lock), "--store", str(store)])
    assert done.returncode == 1
    assert f"{SITE}/sitecustomize.py: added" in done.stdout
    assert f"{SITE}/clear\\x1b[2J.py: added" in done.stdout  # shown, not acted on
    assert "\x1b" not in done.stdout
    assert f"{SITE}: mode 0555 -> 0755" in done.stdout
    assert "pyvenv.cfg: mode 0444 -> 0644, contents changed" in done.stdout


def test_verify_without_an_installed_env_says_so(lock: Path, store: Path) -> None:
    done = run_envlock(["verify", "-l", str(lock), "--store", str(store), "--target", "small"])
    assert done.returncode == 1
    assert "target small of" in done.stderr and "is not installed" in done.stderr
    unknown = run_envlock(["verify", "-l", str(lock), "--store", str(store), "--target", "nope"])
    assert unknown.returncode == 2


def test_gc_removes_a_read_only_env(lock: Path, store: Path) -> None:
    env = _install(lock, store)
    lock.unlink()  # its root dies with it
    done = run_envlock(["gc", "--store", str(store)])
    assert done.returncode == 0, done.stderr
    assert not env.exists()
    assert list((store / "v1" / "scratch").iterdir()) == []


def test_two_stores_and_a_prefix_hold_the_same_tree(rich_lock: Path, tmp_path: Path) -> None:
    envs = [_install(rich_lock, tmp_path / "store-a"), _install(rich_lock, tmp_path / "store-b")]
    prefixed = run_envlock(
        ["install", "-l", str(rich_lock), "--target", "cpu", "--store", str(tmp_path / "store-a"),
         "--prefix", str(tmp_path / "venv")]
    )  # fmt: skip
    assert prefixed.returncode == 0, prefixed.stderr
    envs.append(tmp_path / "venv")
    manifests = [(env / TREE_MANIFEST).read_text() for env in envs]
    for env, other in zip(envs[1:], manifests[1:], strict=True):
        differences = tree_differences(manifests[0], other)
        assert not differences, f"{env} differs from {envs[0]}:\n" + "\n".join(differences)
    # The compiled files name their sources inside the environment; a traceback names the real file.
    crash = subprocess.run(
        [str(envs[1] / "bin" / "python"), "-c", "import alpha; alpha.kind([])"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert f'File "{envs[1] / SITE / "alpha" / "__init__.py"}"' in crash.stderr


def test_installs_into_new_stores_do_not_grow_uvs_cache(rich_lock: Path, tmp_path: Path) -> None:
    uv_cache = Path(os.environ["UV_CACHE_DIR"])

    def cached_files() -> int:
        return sum(1 for p in uv_cache.rglob("*") if p.is_file()) if uv_cache.exists() else 0

    _install(rich_lock, tmp_path / "store-a")
    after_first = cached_files()
    _install(rich_lock, tmp_path / "store-b")
    _install(rich_lock, tmp_path / "store-c")
    # uv keeps no unpacked copy of the stores' wheels (its cache holds only what uv venv needs)
    assert not list(uv_cache.rglob("alpha/__init__.py")) if uv_cache.exists() else True
    assert cached_files() == after_first


def test_verify_names_a_fifo_planted_in_the_env_without_reading_it(lock: Path, store: Path) -> None:
    """A group member may put a FIFO where a file was, or beside it: reading it would block verify for
    good. It is named as a changed kind or an addition, and never opened."""
    env = _install(lock, store)
    site = env / SITE
    site.chmod(0o755)
    (site / "beta").chmod(0o755)
    victim = site / "beta" / "__init__.py"
    victim.chmod(0o644)
    victim.unlink()
    os.mkfifo(victim)
    os.mkfifo(site / "extra.pth")
    done = run_envlock(["verify", "-l", str(lock), "--store", str(store)], timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{SITE}/beta/__init__.py: kind f -> o" in done.stdout
    assert f"{SITE}/extra.pth: added" in done.stdout
