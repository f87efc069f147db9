"""gc through another path to the same store (issue 8, finding 3): a bind mount, a symlink, an
automounter give one store several names; an environment whose root holds it under any of them is
live. The other path is a symlink here, removed before gc runs, as on a node that mounts the store
elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

from lockmaker import run_envlock


def _gc(store: Path) -> dict[str, object]:
    done = run_envlock(["gc", "--store", str(store), "--json"])
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_finding3_gc_keeps_an_env_installed_through_another_path(lock: Path, tmp_path: Path) -> None:
    real = tmp_path / "real-store"
    real.mkdir()
    alias = tmp_path / "mnt-store"
    alias.symlink_to(real)
    done = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(alias)])
    assert done.returncode == 0, done.stderr
    name = Path(done.stdout.strip()).name
    alias.unlink()  # this node reaches the store only as `real`

    result = _gc(real)
    assert (real / "v1" / "envs" / name).is_dir(), result
    assert not [i for i in result["removed"] if i["kind"] in ("env", "artifact")]  # type: ignore[attr-defined, index]
    done = run_envlock(
        [
            "run",
            "-l",
            str(lock),
            "--target",
            "cpu",
            "--store",
            str(real),
            "--",
            "python",
            "-c",
            "import alpha",
        ]
    )
    assert done.returncode == 0, done.stderr


def test_finding3_an_absolute_root_from_another_mount_still_holds_its_env(lock: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store)])
    assert done.returncode == 0, done.stderr
    name = Path(done.stdout.strip()).name
    roots = store / "v1" / "roots"
    for root in roots.iterdir():
        root.unlink()
    # what an older envlock wrote on a node that mounts this store at /cluster/envlock
    (roots / "my-root").symlink_to(f"/cluster/envlock/v1/envs/{name}")
    _gc(store)
    assert (store / "v1" / "envs" / name).is_dir()
    (roots / "my-root").unlink()
    result = _gc(store)
    assert not (store / "v1" / "envs" / name).exists(), result  # unrooted, it goes
