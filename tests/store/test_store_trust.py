"""A store shared with users one does not trust: another member of the group may plant or swap an
unpacked interpreter, or take the name of one's GC root. Real files and real modes; the other user
is uid 65534 in a forked child (os.setuid), so these tests need root.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from envlock.errors import StoreError
from envlock.lock.model import Artifact, LockedInterpreter
from envlock.store.interpreters import (
    interpreter_dir,
    private_interpreter_dir,
    shared_refused,
    unpack_interpreter,
    unpacked,
)
from envlock.store.layout import StoreLayout
from envlock.store.modes import current_umask
from envlock.store.roots import add_root, lock_root_name, read_roots

OTHER = 65534
VERSION = "3.11.9"
GENUINE = b"#!/bin/sh\necho genuine\n"


def as_other(action: Callable[[], None]) -> int:
    """Run `action` as uid/gid 65534 in a forked child; its exit status (0: done, 13: EPERM/EACCES)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.setgroups([])
            os.setgid(OTHER)
            os.setuid(OTHER)
            action()
            code = 0
        except PermissionError:
            code = 13
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.fixture
def store() -> Iterator[StoreLayout]:
    """A store every user may write (umask 0, as a group store is for its group), in a directory
    uid 65534 can reach (pytest's tmp_path is private to root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: another user is played by a child that calls os.setuid(65534)")
    top = Path(tempfile.mkdtemp(prefix="envlock-trust-"))
    top.chmod(0o755)
    old = os.umask(0)
    current_umask.cache_clear()
    try:
        layout = StoreLayout(root=top / "store")
        layout.root.mkdir(mode=0o777)
        layout.ensure()
        yield layout
    finally:
        os.umask(old)
        current_umask.cache_clear()
        subprocess.run(["chmod", "-R", "u+w", str(top)], check=False)
        shutil.rmtree(top, ignore_errors=True)


def _archive(dest: Path) -> LockedInterpreter:
    """A tiny archive in python-build-standalone's `install_only` layout."""
    with tarfile.open(dest, "w:gz") as tar:
        for name, data, mode in (
            (f"python/bin/python{VERSION[:4]}", GENUINE, 0o755),
            ("python/lib/os.py", b"# stdlib\n", 0o664),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    data = dest.read_bytes()
    return LockedInterpreter(
        implementation="cpython",
        version=VERSION,
        artifact=Artifact(
            filename=f"cpython-{VERSION}+20240101-x86_64-unknown-linux-gnu-install_only.tar.gz",
            url="http://127.0.0.1:9/python.tar.gz",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        ),
    )


@pytest.fixture
def pinned(store: StoreLayout) -> tuple[LockedInterpreter, Path]:
    archive = store.root.parent / "python.tar.gz"
    return _archive(archive), archive


def _plant(path: Path) -> None:
    """What another user makes at the predictable name: a complete-looking build of their own."""
    exe = path / "python" / "bin" / f"python{VERSION[:4]}"
    exe.parent.mkdir(parents=True)
    exe.write_bytes(b"#!/bin/sh\necho attacker code\n")
    exe.chmod(0o755)
    (path / ".envlock-complete").write_text("x\n")


def test_python_and_oci_get_the_sticky_bit_and_the_unpacked_build_is_read_only(
    store: StoreLayout, pinned: tuple[LockedInterpreter, Path]
) -> None:
    interpreter, archive = pinned
    for path in (store.base / "python", store.base / "oci"):
        assert path.stat().st_mode & stat.S_ISVTX, path
    exe = unpack_interpreter(store, interpreter, archive)
    assert exe.read_bytes() == GENUINE
    root = interpreter_dir(store, interpreter)
    assert exe.is_relative_to(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (".", *dirnames, *filenames):
            mode = (Path(dirpath) / name).lstat().st_mode
            assert not mode & 0o222, (Path(dirpath) / name, oct(mode))
    # the other user can neither move the build aside nor write into it
    assert as_other(lambda: root.rename(root.with_name(root.name + ".gone"))) == 13
    assert as_other(lambda: (root / "python" / "evil").write_text("x")) == 13
    assert unpacked(store, interpreter) == exe


def test_a_build_planted_by_another_user_is_not_run(
    store: StoreLayout, pinned: tuple[LockedInterpreter, Path]
) -> None:
    interpreter, archive = pinned
    shared = interpreter_dir(store, interpreter)
    assert as_other(lambda: _plant(shared)) == 0
    assert shared.stat().st_uid == OTHER
    assert unpacked(store, interpreter) is None
    why = shared_refused(store, interpreter)
    assert why is not None and f"owned by uid {OTHER}" in why
    exe = unpack_interpreter(store, interpreter, archive)
    assert exe.is_relative_to(private_interpreter_dir(store, interpreter))
    assert exe.read_bytes() == GENUINE
    assert unpacked(store, interpreter) == exe


def test_a_loosened_build_of_a_trusted_user_is_not_run(
    store: StoreLayout, pinned: tuple[LockedInterpreter, Path]
) -> None:
    interpreter, archive = pinned
    exe = unpack_interpreter(store, interpreter, archive)
    root = interpreter_dir(store, interpreter)
    (root / "python").chmod(0o777)  # anyone could now put another bin/ in place
    assert unpacked(store, interpreter) is None
    again = unpack_interpreter(store, interpreter, archive)  # this user's own: unpacked afresh
    assert again == exe and not (root / "python").stat().st_mode & 0o222


def test_the_private_name_taken_by_another_user_is_a_clear_error(
    store: StoreLayout, pinned: tuple[LockedInterpreter, Path]
) -> None:
    interpreter, archive = pinned
    shared, private = interpreter_dir(store, interpreter), private_interpreter_dir(store, interpreter)

    def plant_both() -> None:
        _plant(shared)
        _plant(private)

    assert as_other(plant_both) == 0
    with pytest.raises(StoreError) as err:
        unpack_interpreter(store, interpreter, archive)
    assert f"{private} is owned by uid {OTHER}, not by you" in err.value.message
    assert err.value.hint is not None and "use a store of your own" in err.value.hint
    assert (private / "python" / "bin" / f"python{VERSION[:4]}").read_bytes() != GENUINE  # left alone


def _loose_python_of_other(store: StoreLayout) -> None:
    """`python/` remade by uid 65534, writable by all, without the sticky bit."""
    pythons = store.base / "python"
    pythons.rmdir()

    def make_loose() -> None:
        pythons.mkdir()
        pythons.chmod(0o777)

    assert as_other(make_loose) == 0


def _trust_file(store: StoreLayout, text: str, *, mode: int = 0o644) -> Path:
    path = store.root / "trusted-users"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_python_owned_by_an_untrusted_user_is_refused(
    store: StoreLayout, pinned: tuple[LockedInterpreter, Path]
) -> None:
    interpreter, archive = pinned
    _loose_python_of_other(store)
    with pytest.raises(StoreError) as err:
        unpack_interpreter(store, interpreter, archive)
    assert f"python belongs to uid {OTHER}" in err.value.message
    assert err.value.hint is not None and "trusted-users" in err.value.hint


def test_python_of_a_trusted_user_without_the_sticky_bit_is_refused(
    store: StoreLayout, pinned: tuple[LockedInterpreter, Path]
) -> None:
    interpreter, archive = pinned
    _loose_python_of_other(store)
    _trust_file(store, f"# the store's builders\n{OTHER}\n")
    with pytest.raises(StoreError) as err:
        unpack_interpreter(store, interpreter, archive)
    assert "lacks the sticky bit" in err.value.message
    assert err.value.hint is not None and f"uid {OTHER}" in err.value.hint


@pytest.mark.parametrize("line", [str(OTHER), "nobody", "@nogroup", f"@{OTHER}"])
def test_a_build_of_a_user_the_store_trusts_is_run(
    store: StoreLayout, pinned: tuple[LockedInterpreter, Path], line: str
) -> None:
    import grp
    import pwd

    with contextlib.suppress(KeyError):
        if line == "nobody" and pwd.getpwnam("nobody").pw_uid != OTHER:
            pytest.skip("user nobody is not uid 65534 here")
        if line == "@nogroup" and grp.getgrnam("nogroup").gr_gid != OTHER:
            pytest.skip("group nogroup is not gid 65534 here")
    interpreter, _archive_path = pinned
    shared = interpreter_dir(store, interpreter)

    def build_sealed() -> None:  # a trusted builder's build: nobody else may write it
        _plant(shared)
        for path in (shared, *shared.rglob("*")):
            path.chmod(path.stat().st_mode & ~0o022)

    assert as_other(build_sealed) == 0
    _trust_file(store, line + "  # trusted\n")
    found = unpacked(store, interpreter)
    assert found is not None and found.is_relative_to(shared)


@pytest.mark.parametrize("how", ["writable by others", "owned by the other user"])
def test_a_trust_file_the_store_owner_does_not_hold_alone_is_ignored(
    store: StoreLayout, pinned: tuple[LockedInterpreter, Path], how: str
) -> None:
    interpreter, archive = pinned
    shared = interpreter_dir(store, interpreter)
    assert as_other(lambda: _plant(shared)) == 0
    if how == "writable by others":
        _trust_file(store, f"{OTHER}\n", mode=0o666)
    else:
        assert as_other(lambda: _trust_file(store, f"{OTHER}\n")) == 0
    assert unpacked(store, interpreter) is None
    exe = unpack_interpreter(store, interpreter, archive)
    assert exe.is_relative_to(private_interpreter_dir(store, interpreter))


def test_a_root_name_taken_by_another_user_says_who_holds_it(store: StoreLayout) -> None:
    """Root ignores the sticky bit, so here root takes the name and uid 65534 installs."""
    lock = store.root.parent / "proj" / "envlock.lock"
    lock.parent.mkdir()
    lock.write_text("x")
    env = store.envs / "abc-demo-cpu"
    env.mkdir()
    name = lock_root_name(lock, "cpu")
    theirs = store.roots / f"u{OTHER}-{name}"
    (store.roots / (theirs.name + ".lock")).symlink_to("/nonexistent")
    report = store.root.parent / "report.txt"
    report.touch(mode=0o666)
    report.chmod(0o666)

    def install_root() -> None:
        try:
            add_root(store, name, env, lock_path=lock)
        except StoreError as exc:
            report.write_text(f"{exc.message}\n{exc.hint}")

    assert as_other(install_root) == 0
    said = report.read_text()
    assert f"{theirs}.lock: that name is taken by uid 0, not by you" in said
    assert "read-only" not in said and "ask uid 0 or the store's admin to remove" in said
    # the names another user made are not read as the roots of uid 65534 (nor as its lock link)
    theirs.symlink_to("../envs/abc-demo-cpu")
    assert [r.path for r in read_roots(store)] == []
    # while a root of one's own is
    assert add_root(store, name, env, lock_path=lock).name == f"u{os.getuid()}-{name}"
    assert [(r.path.name, r.live) for r in read_roots(store)] == [(f"u{os.getuid()}-{name}", True)]


ENV = "0123456789abcdef0123456789abcdef-demo-cpu"


def _plant_env(path: Path) -> None:
    """A published-looking environment of another user's: a record and a planted module."""
    path.mkdir()
    (path / "envlock-env.json").write_text("{}\n")
    (path / "evil.py").write_text("print('planted')\n")
    for made in (path / "envlock-env.json", path / "evil.py", path):
        made.chmod(0o555 if made.is_dir() else 0o444)


def _fill(dest: Path, final: Path | None = None) -> None:
    dest.mkdir()
    (dest / "envlock-env.json").write_text('{"genuine": true}\n')


def test_an_environment_planted_by_another_user_is_not_used(store: StoreLayout) -> None:
    from envlock.store.local import LocalStore, usable_env_name

    shared = store.env_path(ENV)
    assert as_other(lambda: _plant_env(shared)) == 0
    name, why = usable_env_name(store, ENV)
    assert name == f"{ENV}-u{os.getuid()}"
    assert why is not None and f"owned by uid {OTHER}" in why
    outcome = LocalStore(store, stale_seconds=60).build(ENV, info={}, build=_fill)
    assert (outcome.path, outcome.built) == (store.env_path(name), True)
    assert (outcome.path / "envlock-env.json").read_text() == '{"genuine": true}\n'
    assert usable_env_name(store, ENV) == (name, why)  # the next install finds the private copy


def test_an_environment_another_user_publishes_during_a_build_is_not_used(store: StoreLayout) -> None:
    from envlock.store.local import LocalStore

    shared = store.env_path(ENV)

    def build_while_planted(dest: Path, final: Path) -> None:
        if not shared.exists():  # the first attempt: someone wins the rename meanwhile
            assert as_other(lambda: _plant_env(shared)) == 0
        _fill(dest)

    outcome = LocalStore(store, stale_seconds=60).build(ENV, info={}, build=build_while_planted)
    assert outcome.path == store.env_path(f"{ENV}-u{os.getuid()}") and outcome.built
    assert (shared / "evil.py").exists()  # left alone
    assert (outcome.path / "envlock-env.json").read_text() == '{"genuine": true}\n'


def test_the_private_environment_name_taken_by_another_user_is_a_clear_error(store: StoreLayout) -> None:
    from envlock.store.local import usable_env_name

    private = store.env_path(f"{ENV}-u{os.getuid()}")  # this user's, named before the child's setuid

    def plant_both() -> None:
        _plant_env(store.env_path(ENV))
        _plant_env(private)

    assert as_other(plant_both) == 0
    with pytest.raises(StoreError) as err:
        usable_env_name(store, ENV)
    assert f"is owned by uid {OTHER}, not by you" in err.value.message


def test_a_store_whose_v1_another_user_owns_is_refused(store: StoreLayout) -> None:
    from envlock.store.local import usable_env_name

    fresh = StoreLayout(root=store.root.parent / "fresh")
    fresh.root.mkdir(mode=0o777)
    fresh.root.chmod(0o1777)
    assert as_other(fresh.ensure) == 0  # the first user of a new store makes v1/ and its directories
    with pytest.raises(StoreError) as err:
        usable_env_name(fresh, ENV)
    assert f"v1 belongs to uid {OTHER}" in err.value.message
    assert err.value.hint is not None and "trusted-users" in err.value.hint


def test_a_fifo_in_place_of_a_lease_owner_file_does_not_hang_the_builder(tmp_path: Path) -> None:
    from envlock.store.lease import acquire_lease

    lease = acquire_lease(tmp_path / "x.lease", info={}, stale_seconds=60, done=lambda: False)
    assert lease is not None
    with lease:
        os.mkfifo(tmp_path / "owner.json")
        with pytest.raises(FileExistsError):
            lease.write_owner(tmp_path / "owner.json")


def test_a_symlink_in_place_of_a_store_directory_is_refused(store: StoreLayout) -> None:
    from envlock.store.local import usable_env_name

    fresh = StoreLayout(root=store.root.parent / "linked")
    fresh.root.mkdir(mode=0o777)
    fresh.root.chmod(0o1777)
    target = store.root.parent / "elsewhere"
    target.mkdir(mode=0o1777)  # root's, sticky: an owner check alone would pass it
    assert as_other(lambda: (fresh.root / "v1").symlink_to(target)) == 0
    with pytest.raises(StoreError) as err:
        usable_env_name(fresh, ENV)
    assert "v1 is not a directory" in err.value.message


def test_a_lease_of_the_shared_name_held_by_another_user_sends_the_build_to_a_private_copy(
    store: StoreLayout,
) -> None:
    from envlock.store.local import LocalStore

    lease = store.lease_path(ENV)
    # another user holds the lease and keeps it fresh; their build would not be used anyway
    assert as_other(lambda: lease.write_text('{"pid": 1, "host": "elsewhere"}')) == 0
    outcome = LocalStore(store, stale_seconds=3600).build(ENV, info={}, build=_fill)
    assert outcome.built and outcome.path == store.env_path(f"{ENV}-u{os.getuid()}")


def test_the_lease_of_the_private_name_held_by_another_user_is_a_clear_error(store: StoreLayout) -> None:
    from envlock.store.local import LocalStore

    private = f"{ENV}-u{os.getuid()}"
    assert as_other(lambda: _plant_env(store.env_path(ENV))) == 0
    assert as_other(lambda: store.lease_path(private).write_text("{}")) == 0
    with pytest.raises(StoreError) as err:
        LocalStore(store, stale_seconds=3600).build(ENV, info={}, build=_fill)
    assert f"uid {OTHER}" in err.value.message and "not by you" in err.value.message


def test_a_build_happens_in_a_scratch_directory_only_its_user_may_enter(store: StoreLayout) -> None:
    from envlock.store.local import LocalStore

    modes: list[int] = []

    def build(dest: Path, final: Path) -> None:
        modes.append(stat.S_IMODE(dest.parent.stat().st_mode))
        _fill(dest)

    LocalStore(store, stale_seconds=60).build(ENV, info={}, build=build)
    assert modes and not modes[0] & 0o077  # the store is written with umask 0 here


def test_an_image_layer_cache_directory_of_an_untrusted_user_is_refused(store: StoreLayout) -> None:
    from envlock.image.build import _check_layer_cache

    blobs = store.oci / "blobs"
    assert as_other(lambda: (blobs / "sha256").mkdir(parents=True)) == 0
    with pytest.raises(StoreError) as err:
        _check_layer_cache(store)
    assert f"belongs to uid {OTHER}" in err.value.message


def test_an_interpreter_archive_swapped_after_its_check_is_not_unpacked(
    store: StoreLayout, pinned: tuple[LockedInterpreter, Path]
) -> None:
    from envlock.errors import IntegrityError

    interpreter, archive = pinned
    other = store.root.parent / "other.tar.gz"
    _archive_with(other, b"#!/bin/sh\necho planted\n")
    other.replace(archive)  # what a member of the group can do in `artifacts/` after the check
    with pytest.raises(IntegrityError) as err:
        unpack_interpreter(store, interpreter, archive)
    assert interpreter.artifact.filename in err.value.message
    assert unpacked(store, interpreter) is None


def _archive_with(dest: Path, exe: bytes) -> None:
    with tarfile.open(dest, "w:gz") as tar:
        info = tarfile.TarInfo(f"python/bin/python{VERSION[:4]}")
        info.size, info.mode = len(exe), 0o755
        tar.addfile(info, io.BytesIO(exe))


def test_a_private_copy_of_another_users_artifact_is_a_copy_and_is_verified(store: StoreLayout) -> None:
    from envlock.errors import IntegrityError
    from envlock.store.artifacts import ArtifactState, check_file, private_copy
    from envlock.store.trust import Trust

    data = b"package bytes\n"
    art = Artifact(
        filename="pkg-1.0-h0_0.tar.bz2",
        url="http://127.0.0.1:9/pkg.tar.bz2",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    src = store.artifact_path(art.sha256, art.filename)
    src.parent.mkdir(parents=True)
    src.write_bytes(data)
    os.chown(src, OTHER, OTHER)  # stored by a member this user does not trust: they may write it later
    folder = store.root.parent / "private"
    folder.mkdir(mode=0o700)
    copy = private_copy(src, folder, art, Trust.of(store.root).trusts)
    assert copy.read_bytes() == data and copy.stat().st_ino != src.stat().st_ino
    # this user's own, read-only, and the very file this process just found right: a link, no bytes
    # copied or hashed again
    os.chown(src, os.getuid(), os.getgid())
    src.chmod(0o444)
    assert check_file(src, art) is ArtifactState.OK
    folder = store.root.parent / "private2"
    folder.mkdir(mode=0o700)
    linked = private_copy(src, folder, art, Trust.of(store.root).trusts)
    assert linked.stat().st_ino == src.stat().st_ino
    src.chmod(0o644)
    src.write_bytes(b"other bytes!!!\n")  # the same size, other bytes
    folder = store.root.parent / "private3"
    folder.mkdir(mode=0o700)
    with pytest.raises(IntegrityError):
        private_copy(src, folder, art, Trust.of(store.root).trusts)


@pytest.mark.parametrize("planted", ["symlink to /dev/zero", "fifo", "group-writable link"])
def test_what_is_planted_in_place_of_an_artifact_is_never_followed_or_waited_on(
    store: StoreLayout, planted: str
) -> None:
    """A member of the group may put a symlink (to an endless device), a FIFO or a hard link to a
    file they may write where a store artifact is: checks and private copies neither hang, nor read
    more than the locked size, nor link to a file someone else may change."""
    from envlock.errors import IntegrityError
    from envlock.store.artifacts import ArtifactState, check_file, private_copy
    from envlock.store.trust import Trust

    data = b"package bytes\n"
    art = Artifact(
        filename="pkg-1.0-h0_0.tar.bz2",
        url="http://127.0.0.1:9/pkg.tar.bz2",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    src = store.artifact_path(art.sha256, art.filename)
    src.parent.mkdir(parents=True)
    if planted == "fifo":
        os.mkfifo(src)
    elif planted == "symlink to /dev/zero":
        src.symlink_to("/dev/zero")
    else:
        writable = store.root / "some-file"  # a trusted user's file that others may write
        writable.write_bytes(data)
        writable.chmod(0o666)
        os.link(writable, src)
    folder = store.root.parent / "private"
    folder.mkdir(mode=0o700)
    if planted == "group-writable link":
        assert check_file(src, art) is ArtifactState.OK  # the bytes are right for now
        copy = private_copy(src, folder, art, Trust.of(store.root).trusts)
        assert copy.stat().st_ino != src.stat().st_ino  # a copy: later writes to it do not reach the build
        return
    assert check_file(src, art) is ArtifactState.CORRUPT
    with pytest.raises(IntegrityError):
        private_copy(src, folder, art, Trust.of(store.root).trusts)
    assert all(p.lstat().st_size <= art.size for p in folder.rglob("*") if not p.is_dir())


def test_a_link_to_a_trusted_users_file_in_place_of_the_lease_does_not_hold_the_build(
    store: StoreLayout,
) -> None:
    """Another member hard-links a file of the store's owner that the group may write (and so keep
    fresh) as the shared name's lease: no lease envlock makes, so the build does not wait for it."""
    from envlock.store.local import LocalStore

    fresh_forever = store.root / "some-log"
    fresh_forever.write_text("log\n")
    fresh_forever.chmod(0o666)
    os.link(fresh_forever, store.lease_path(ENV))
    outcome = LocalStore(store, stale_seconds=3600).build(ENV, info={}, build=_fill)
    assert outcome.built and outcome.path == store.env_path(f"{ENV}-u{os.getuid()}")


def test_a_base_image_another_user_put_in_the_image_cache_is_not_built_on(store: StoreLayout) -> None:
    from envlock.image.build import _cached_base

    digest = "sha256:" + "ab" * 32
    bases = store.oci / "bases"
    bases.mkdir(parents=True)
    bases.chmod(0o1777)

    def plant() -> None:
        layout = bases / ("ab" * 32)
        layout.mkdir()
        (layout / "index.json").write_text('{"manifests": []}')
        for made in (layout / "index.json", layout):
            made.chmod(0o444 if made.is_file() else 0o555)

    assert as_other(plant) == 0
    assert _cached_base(store, digest) == bases / f"{'ab' * 32}-u{os.getuid()}"
    # this user's own cached base, written before bases were sealed: sealed, then used
    own = bases / ("cd" * 32)
    own.mkdir()
    (own / "index.json").write_text('{"manifests": []}')
    (own / "index.json").chmod(0o666)
    assert _cached_base(store, "sha256:" + "cd" * 32) == own
    assert not (own / "index.json").stat().st_mode & 0o222


def test_a_base_image_another_user_puts_in_place_while_one_is_fetched_is_not_built_on(
    store: StoreLayout,
) -> None:
    from envlock.image.build import _place_base

    bases = store.oci / "bases"
    bases.mkdir(parents=True)
    bases.chmod(0o1777)
    shared = bases / ("ef" * 32)

    def plant() -> None:  # during the fetch: a layout of their own at the name the digest gives
        shared.mkdir()
        (shared / "index.json").write_text('{"manifests": ["theirs"]}')

    assert as_other(plant) == 0
    fetched = store.root.parent / "fetched"
    fetched.mkdir()
    (fetched / "index.json").write_text('{"manifests": ["ours"]}')
    placed = _place_base(store, shared, fetched)
    assert placed == bases / f"{'ef' * 32}-u{os.getuid()}"
    assert "ours" in (placed / "index.json").read_text()
    assert not (placed / "index.json").stat().st_mode & 0o222  # sealed
