"""`envlock install` / `run` / `shell` / `gc` as a user runs them, against fixture wheels served locally."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from lockmaker import FileServer, TargetDef, make_lock, run_envlock

from envlock.lock.read import load_lock
from envlock.store.layout import env_dir_name


def _env_path(store: Path, lock: Path, target: str) -> Path:
    parsed = load_lock(lock)
    t = parsed.target(target)
    assert t is not None
    return (
        store / "v1" / "envs" / env_dir_name(env_hash=t.env_hash, env_name=parsed.inputs.name, target=target)
    )


def test_install_twice_second_is_a_lookup(lock: Path, store: Path, server: FileServer) -> None:
    first = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store), "--json"])
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["built"] is True
    path = Path(doc["path"])
    assert path == _env_path(store, lock, "cpu")
    record = json.loads((path / "envlock-env.json").read_text())
    assert record["target"] == "cpu"
    assert record["lock-content-hash"] == load_lock(lock).content_hash
    assert [p["name"] for p in record["packages"]] == ["alpha", "beta"]
    assert Path(record["interpreter"]).exists()
    downloads = len(server.requests)
    assert downloads == 2

    second = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store), "--json"])
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == doc | {"built": False}
    assert len(server.requests) == downloads  # nothing fetched again
    assert (store / "v1" / "builds.log").read_text().count("published") == 1
    assert list((store / "v1" / "scratch").iterdir()) == []


def test_env_holds_exactly_the_locked_packages(lock: Path, store: Path) -> None:
    done = run_envlock(["install", "-l", str(lock), "--target", "small", "--store", str(store)])
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    listed = subprocess.run(
        [
            str(path / "bin" / "python"),
            "-I",  # isolated: the working directory is not on sys.path
            "-c",
            "import importlib.metadata as m; print(sorted(d.metadata['Name'] for d in m.distributions()))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.strip() == "['alpha']"


def test_run_execs_inside_the_env_and_passes_the_exit_code(lock: Path, store: Path) -> None:
    code = "import sys, os, alpha, beta; print(sys.prefix); print(os.environ['VIRTUAL_ENV']); sys.exit(7)"
    done = run_envlock(
        ["run", "-l", str(lock), "--target", "cpu", "--store", str(store), "--", "python", "-c", code]
    )
    assert done.returncode == 7, done.stderr
    prefix, venv = done.stdout.split()
    assert prefix == venv == str(_env_path(store, lock, "cpu"))


def test_shell_prints_the_activation_line(lock: Path, store: Path) -> None:
    done = run_envlock(["shell", "-l", str(lock), "--target", "cpu", "--store", str(store)])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"source {_env_path(store, lock, 'cpu')}/bin/activate"
    activated = subprocess.run(
        ["bash", "-c", f"{done.stdout.strip()} && python -c 'import alpha; print(alpha.__version__)'"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert activated.stdout.strip() == "1.0", activated.stderr


def test_prefix_install_makes_a_plain_venv_and_roots_it(lock: Path, store: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "myenv"
    done = run_envlock(
        ["install", "-l", str(lock), "--target", "small", "--store", str(store), "--prefix", str(prefix)]
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(prefix)
    assert json.loads((prefix / "envlock-env.json").read_text())["target"] == "small"
    assert not (store / "v1" / "envs").exists() or list((store / "v1" / "envs").iterdir()) == []
    again = run_envlock(
        [
            "install",
            "-l",
            str(lock),
            "--target",
            "small",
            "--store",
            str(store),
            "--prefix",
            str(prefix),
            "--json",
        ]
    )
    assert json.loads(again.stdout)["built"] is False
    # the prefix keeps its artifacts alive in GC
    dry = run_envlock(["gc", "--store", str(store), "--dry-run", "--json"])
    assert json.loads(dry.stdout)["would-remove"] == []
    # another target into the same prefix replaces it
    other = run_envlock(
        ["install", "-l", str(lock), "--target", "cpu", "--store", str(store), "--prefix", str(prefix)]
    )
    assert other.returncode == 0, other.stderr
    assert json.loads((prefix / "envlock-env.json").read_text())["target"] == "cpu"


def test_prefix_refuses_a_foreign_directory(lock: Path, store: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "precious"
    prefix.mkdir()
    (prefix / "notes.txt").write_text("mine")
    done = run_envlock(
        ["install", "-l", str(lock), "--target", "cpu", "--store", str(store), "--prefix", str(prefix)]
    )
    assert done.returncode == 2
    assert "not an envlock environment" in done.stderr
    assert (prefix / "notes.txt").read_text() == "mine"


def test_gc_dry_run_lists_exactly_what_gc_removes(
    lock: Path, store: Path, tmp_path: Path, server: FileServer
) -> None:
    for target in ("cpu", "small"):
        assert (
            run_envlock(["install", "-l", str(lock), "--target", target, "--store", str(store)]).returncode
            == 0
        )
    assert (
        json.loads(run_envlock(["gc", "--store", str(store), "--dry-run", "--json"]).stdout)["would-remove"]
        == []
    )
    # the lock changes: beta 2.0 -> 3.0 for target cpu; reinstall moves the root to the new env
    old_cpu = _env_path(store, lock, "cpu")
    make_lock(
        lock,
        tmp_path / "wheels",
        server.url,
        [
            TargetDef(name="cpu", packages=(("alpha", "1.0"), ("beta", "3.0"))),
            TargetDef(name="small", packages=(("alpha", "1.0"),)),
        ],
    )
    assert run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store)]).returncode == 0
    dry = json.loads(run_envlock(["gc", "--store", str(store), "--dry-run", "--json"]).stdout)["would-remove"]
    planned = sorted((d["kind"], Path(d["path"]).name) for d in dry)
    beta2 = next(
        p
        for p in (store / "v1" / "artifacts" / "sha256").iterdir()
        if any(f.name.startswith("beta-2.0") for f in p.iterdir())
    )
    assert planned == sorted([("env", old_cpu.name), ("artifact", beta2.name)])
    assert old_cpu.exists()  # the dry run removed nothing
    done = json.loads(run_envlock(["gc", "--store", str(store), "--json"]).stdout)["removed"]
    assert sorted((d["kind"], Path(d["path"]).name) for d in done) == planned
    assert not old_cpu.exists() and not beta2.exists()
    assert _env_path(store, lock, "cpu").exists() and _env_path(store, lock, "small").exists()
    # deleting the lock file kills its roots
    lock.unlink()
    dry = json.loads(run_envlock(["gc", "--store", str(store), "--dry-run", "--json"]).stdout)["would-remove"]
    assert {d["kind"] for d in dry} == {"root", "env", "artifact"}


def test_console_scripts_of_a_published_env_run_inside_it(
    tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    # The env is built in scratch (uv names it through /proc/self/cwd) and renamed into place:
    # a script must still find the env's python, and nothing inside may name where it was built.
    tool = TargetDef(name="cpu", packages=(("tool", "1.0"),))
    payload = {
        "tool": {
            "tool/__init__.py": b"import sys\ndef main():\n    print(sys.prefix)\n",
            "tool-1.0.dist-info/entry_points.txt": b"[console_scripts]\ntool = tool:main\n",
        }
    }
    lock = make_lock(tmp_path / "tool.lock", wheels, server.url, [tool], payloads=payload)
    store = tmp_path / "store"
    done = run_envlock(["run", "-l", str(lock), "--store", str(store), "--", "tool"])
    assert done.returncode == 0, done.stderr
    env = _env_path(store, lock, "cpu")
    assert done.stdout.strip() == str(env)
    for path in env.rglob("*"):
        if path.is_file() and not path.is_symlink():
            text = path.read_bytes()
            assert b"/proc/self" not in text and b"/scratch/" not in text, path


def test_gc_of_a_store_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    typo = tmp_path / "typo"
    done = run_envlock(["gc", "--store", str(typo)])
    assert done.returncode == 2
    assert f"store {typo} does not exist" in done.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_envlock(["gc", "--store", str(empty), "--dry-run", "--json"])
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"]["store"] == str(empty)


def test_uv_settings_of_the_user_do_not_reach_the_store(lock: Path, store: Path, tmp_path: Path) -> None:
    # UV_LINK_MODE=symlink would make the env's files links into uv's cache; `uv cache clean` then
    # breaks a store path that must never change
    cache = tmp_path / "uv-cache"
    done = run_envlock(
        ["install", "-l", str(lock), "--target", "cpu", "--store", str(store)],
        env={"UV_LINK_MODE": "symlink", "UV_CACHE_DIR": str(cache)},
    )
    assert done.returncode == 0, done.stderr
    env = Path(done.stdout.strip())
    site = next((env / "lib").glob("python*/site-packages"))
    installed = [p for p in site.rglob("*") if p.is_symlink() or p.is_file()]
    assert any(p.relative_to(site).parts[0] == "alpha" for p in installed)
    assert not [p for p in installed if p.is_symlink()]
    assert cache.is_dir()  # UV_CACHE_DIR is kept: clusters point uv's cache away from a small home
