"""A store shared by two real Unix users through a group (setgid 2775, umask 002), as on a cluster.

The test makes the users (useradd, as root) and runs envlock as each of them with a system Python
they can reach, a copy of uv and of envlock's own dependencies in a world-readable directory: one
builds, the other uses, builds another environment from the first one's downloads, cannot change
the first one's files, and `verify` run by either notices a change its owner made.
"""

from __future__ import annotations

import grp
import importlib.util
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lockmaker import FileServer, TargetDef, make_lock

from envlock.store.roots import lock_root_name

REPO = Path(__file__).resolve().parents[2]
PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"
# What envlock imports at run time, beyond the standard library (copied for the test users).
RUNTIME = ("packaging", "httpx", "httpcore", "h11", "anyio", "idna", "certifi", "sniffio", "tomli",
           "typing_extensions", "exceptiongroup")  # fmt: skip


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    home: Path


def _system_python() -> str | None:
    """An interpreter of this Python's X.Y that users other than root can run."""
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        candidate = Path(directory) / PYTHON
        if candidate.is_file() and candidate.resolve().stat().st_mode & stat.S_IXOTH:
            return str(candidate)
    return None


def _copy_runtime(dest: Path) -> None:
    dest.mkdir(parents=True)
    for name in RUNTIME:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            shutil.copytree(origin.parent, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, dest / origin.name)
    shutil.copytree(REPO / "envlock", dest / "envlock", ignore=shutil.ignore_patterns("__pycache__"))


@pytest.fixture
def shared() -> Iterator[Path]:
    """A world-readable directory outside root's own (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="envlock-multiuser-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


@pytest.fixture
def users(shared: Path) -> Iterator[tuple[User, User, int]]:
    if os.geteuid() != 0:
        pytest.skip("needs root: the test creates two Unix users with useradd")
    if not shutil.which("useradd") or not shutil.which("groupadd"):
        pytest.skip("needs useradd and groupadd")
    tag = os.urandom(3).hex()
    group = f"elk{tag}g"
    made: list[str] = []
    try:
        subprocess.run(["groupadd", group], check=True, capture_output=True)
        gid = grp.getgrnam(group).gr_gid
        out = []
        for who in ("a", "b"):
            name = f"elk{tag}{who}"
            home = shared / f"home-{who}"
            subprocess.run(
                ["useradd", "-M", "-U", "-G", group, "-d", str(home), "-s", "/bin/sh", name],
                check=True,
                capture_output=True,
            )
            made.append(name)
            entry = pwd.getpwnam(name)
            home.mkdir()
            os.chown(home, entry.pw_uid, entry.pw_gid)
            out.append(User(name=name, uid=entry.pw_uid, gid=entry.pw_gid, home=home))
        yield out[0], out[1], gid
    finally:
        for name in made:
            subprocess.run(["userdel", name], check=False, capture_output=True)
        subprocess.run(["groupdel", group], check=False, capture_output=True)


def _setup(shared: Path) -> tuple[str, FileServer]:
    python = _system_python()
    if python is None:
        pytest.skip(f"no {PYTHON} that other users can run in /usr/local/bin, /usr/bin or /bin")
    from envlock.resolvers.uv import uv_binary

    (shared / "bin").mkdir()
    shutil.copy2(uv_binary(), shared / "bin" / "uv")
    _copy_runtime(shared / "site")
    return python, FileServer(shared / "wheels")


def _group_store(shared: Path, server: FileServer, group: int) -> tuple[Path, Path]:
    """The lock and a store made as README's "Shared stores" says: root's, the group's, 3775."""
    lock = make_lock(
        shared / "envlock.lock",
        shared / "wheels",
        server.url,
        [TargetDef(name="cpu"), TargetDef(name="small", packages=(("alpha", "1.0"),))],
    )
    for path in [lock, *(shared / "wheels").iterdir()]:
        path.chmod(0o644)
    store = shared / "store"
    store.mkdir()
    os.chown(store, 0, group)
    store.chmod(0o3775)
    return lock, store


def test_two_users_share_a_group_store(shared: Path, users: tuple[User, User, int]) -> None:
    alice, bob, group = users
    python, server = _setup(shared)
    try:
        _scenario(shared, python, alice, bob, group, server)
    finally:
        server.close()


def test_a_member_the_store_does_not_trust_cannot_plant_an_environment(
    shared: Path, users: tuple[User, User, int]
) -> None:
    """Without a trusted-users file, bob builds an environment at the name the lock gives and then
    changes it (it is his); alice's install of that lock does not run it but builds her own copy."""
    alice, bob, group = users
    python, server = _setup(shared)
    try:
        lock, store = _group_store(shared, server, group)
        envlock = [python, "-m", "envlock"]
        with_store = ["-l", str(lock), "--store", str(store)]
        made = subprocess.run(
            [*envlock, "install", *with_store, "--target", "small"],
            env={**os.environ, "PYTHONPATH": str(shared / "site"), "ENVLOCK_GPUS": "none"},
            capture_output=True, text=True, check=False, umask=0o002,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr  # the store's owner makes v1/ first, as README says

        planted = _as(bob, group, [*envlock, "install", *with_store, "--target", "cpu", "--json"], shared)
        assert planted.returncode == 0, planted.stderr
        bobs = Path(json.loads(planted.stdout)["path"])
        beta = bobs / "lib" / PYTHON / "site-packages" / "beta" / "__init__.py"
        changed = _as(
            bob, group, ["sh", "-c", f"chmod u+w {beta} && echo 'print(\"planted\")' >> {beta}"], shared
        )
        assert changed.returncode == 0, changed.stderr

        code = "import beta; print(beta.__version__)"
        ran = _as(
            alice,
            group,
            [*envlock, "run", *with_store, "--target", "cpu", "--", "python", "-c", code],
            shared,
        )
        assert (ran.returncode, ran.stdout) == (0, "2.0\n"), ran.stderr
        assert (
            f"not using the environment others may have put in the store ({bobs} is owned by uid {bob.uid}"
            in (ran.stderr)
        )
        hers = bobs.with_name(f"{bobs.name}-u{alice.uid}")
        assert hers.is_dir() and hers.stat().st_uid == alice.uid
        checked = _as(alice, group, [*envlock, "verify", *with_store, "--target", "cpu"], shared)
        assert checked.returncode == 0 and str(hers) in checked.stdout, checked.stdout + checked.stderr

        # With the owner's word that the group's builds are trusted, alice runs bob's, and her verify
        # finds what he changed in it.
        trust = store / "trusted-users"
        trust.write_text(f"@{grp.getgrgid(group).gr_name}\n")
        trust.chmod(0o644)
        caught = _as(alice, group, [*envlock, "verify", *with_store, "--target", "cpu"], shared)
        assert caught.returncode == 1 and "beta/__init__.py" in caught.stdout, caught.stdout + caught.stderr
    finally:
        server.close()


def _as(user: User, group: int, args: list[str], shared: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{shared / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(user.home),
        "UV_CACHE_DIR": str(user.home / "uv-cache"),
        "PYTHONPATH": str(shared / "site"),
        "ENVLOCK_GPUS": "none",
        "ENVLOCK_DRIVER": "none",
        "LANG": "C.UTF-8",
    }
    return subprocess.run(
        args,
        user=user.uid,
        group=user.gid,
        extra_groups=[group],
        umask=0o002,
        env=env,
        cwd=user.home,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _scenario(shared: Path, python: str, alice: User, bob: User, group: int, server: FileServer) -> None:
    lock, store = _group_store(shared, server, group)
    # The store's owner trusts every member's builds: alice makes v1/ and bob runs what she built.
    trust = store / "trusted-users"
    trust.write_text(f"# the hpc group builds for each other\n@{grp.getgrgid(group).gr_name}\n")
    trust.chmod(0o644)
    envlock = [python, "-m", "envlock"]
    with_store = ["-l", str(lock), "--store", str(store)]

    # alice builds target cpu.
    built = _as(alice, group, [*envlock, "install", *with_store, "--target", "cpu", "--json"], shared)
    assert built.returncode == 0, built.stderr
    env = Path(json.loads(built.stdout)["path"])
    wrong = []
    for path in [env, *env.rglob("*")]:
        st = path.lstat()
        if st.st_gid != group:
            wrong.append(f"{path}: group {st.st_gid}")
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o222:
            wrong.append(f"{path}: mode {stat.S_IMODE(st.st_mode):04o}")
        if stat.S_ISREG(st.st_mode) and st.st_nlink != 1:
            wrong.append(f"{path}: {st.st_nlink} links (shared with a uv cache)")
    assert wrong == []
    artifacts = sorted((store / "v1" / "artifacts" / "sha256").glob("*/*.whl"))
    assert artifacts
    for art in artifacts:
        st = art.stat()
        assert (stat.S_IMODE(st.st_mode), st.st_gid, st.st_uid) == (0o444, group, alice.uid), art

    # bob finds it, runs it, and builds target small from the artifact alice downloaded.
    found = _as(bob, group, [*envlock, "install", *with_store, "--target", "cpu", "--json"], shared)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == json.loads(built.stdout) | {"built": False}
    code = "import alpha, beta; print(alpha.__version__, beta.__version__)"
    ran = _as(
        bob, group, [*envlock, "run", *with_store, "--target", "cpu", "--", "python", "-c", code], shared
    )
    assert (ran.returncode, ran.stdout) == (0, "1.0 2.0\n"), ran.stderr
    small = _as(bob, group, [*envlock, "install", *with_store, "--target", "small", "--json"], shared)
    assert small.returncode == 0, small.stderr
    assert json.loads(small.stdout)["built"] is True
    assert len(server.requests) == 2  # alpha and beta, once each: bob reused alice's alpha

    fresh = _as(bob, group, [*envlock, "verify", *with_store], shared)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert fresh.stdout.count("ok  ") == 2

    # bob cannot change alice's environment: no write bit, not his to chmod, no new files.
    victim = env / "lib" / PYTHON / "site-packages" / "beta" / "__init__.py"
    attempt = _as(bob, group, [python, "-c", f"open({str(victim)!r}, 'ab').write(b'#')"], shared)
    assert attempt.returncode != 0 and "PermissionError" in attempt.stderr
    attempt = _as(bob, group, ["chmod", "u+w", str(victim)], shared)
    assert attempt.returncode != 0 and "not permitted" in attempt.stderr
    attempt = _as(bob, group, ["touch", str(victim.parent / "evil.py")], shared)
    assert attempt.returncode != 0 and "Permission denied" in attempt.stderr
    assert victim.read_bytes() == b'__version__ = "2.0"\n'
    # envs/ is sticky: bob cannot move alice's environment aside to put his own in its place.
    assert (store / "v1" / "envs").stat().st_mode & stat.S_ISVTX
    attempt = _as(bob, group, ["mv", str(env), str(env) + ".aside"], shared)
    assert attempt.returncode != 0 and env.is_dir(), attempt.stderr

    # roots/ is sticky and roots are per user: bob cannot remove or replace alice's root (which would
    # leave her environment to the next gc), and his own install of the lock added a root of his own.
    roots = store / "v1" / "roots"
    assert roots.stat().st_mode & stat.S_ISVTX
    hers = roots / f"u{alice.uid}-{lock_root_name(lock, 'cpu')}"
    assert hers.is_symlink() and (roots / f"u{bob.uid}-{lock_root_name(lock, 'cpu')}").is_symlink()
    for attack in (["rm", "-f", str(hers)], ["ln", "-sfn", "/nonexistent", str(hers)],
                   ["rm", "-f", f"{hers}.lock"], ["mv", str(roots), f"{roots}.aside"]):  # fmt: skip
        attempt = _as(bob, group, attack, shared)
        assert attempt.returncode != 0, attack
    assert hers.resolve() == env and Path(f"{hers}.lock").is_symlink()

    # alice, the owner, can take the read-only mode off and change a file; bob's verify says which.
    changed = _as(alice, group, ["sh", "-c", f"chmod u+w {victim} && echo '#' >> {victim}"], shared)
    assert changed.returncode == 0, changed.stderr
    caught = _as(bob, group, [*envlock, "verify", *with_store, "--target", "cpu"], shared)
    assert caught.returncode == 1, caught.stdout + caught.stderr
    rel = f"lib/{PYTHON}/site-packages/beta/__init__.py"
    assert f"{rel}: mode 0444 -> 0644, contents changed" in caught.stdout
    doctor = _as(bob, group, [*envlock, "doctor", *with_store, "--target", "cpu", "--verify"], shared)
    assert doctor.returncode == 1 and rel in doctor.stdout, doctor.stdout + doctor.stderr

    # gc as a user removes that user's read-only environment, and leaves the other user's alone.
    small_env = Path(json.loads(small.stdout)["path"])
    lock.unlink()  # every root of this lock dies with it
    swept = _as(alice, group, [*envlock, "gc", "--store", str(store)], shared)
    assert swept.returncode == 0, swept.stderr
    assert not env.exists()
    assert small_env.is_dir()
    swept = _as(bob, group, [*envlock, "gc", "--store", str(store)], shared)
    assert swept.returncode == 0, swept.stderr
    assert not small_env.exists()
    assert list((store / "v1" / "envs").iterdir()) == []
    assert list((store / "v1" / "scratch").iterdir()) == []
