"""A lock as an attacker writes it (issue 8, findings 1, 2, 4, 9): built by the test, tampered with,
and sealed again, so that its content hash is right and only the checks of what it says can catch it.
Each test runs envlock as a user would and asserts what that user would notice."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

from lockmaker import FileServer, TargetDef, make_lock, reseal, run_envlock

from envlock.lock.model import Artifact, Lock, LockedPackage
from envlock.lock.read import load_lock
from envlock.store.layout import env_dir_name
from fixtures.wheels import build_wheel

EVIL = {"alpha/__init__.py": b"__version__ = '1.0'\nOWNED = True\n"}


def _env_path(store: Path, lock: Path, target: str) -> Path:
    parsed = load_lock(lock)
    t = parsed.target(target)
    assert t is not None
    return (
        store / "v1" / "envs" / env_dir_name(env_hash=t.env_hash, env_name=parsed.inputs.name, target=target)
    )


def _swap_alpha(lock: Lock, art: Artifact) -> Lock:
    """The same lock with alpha's file replaced by `art`; every env-hash left as the victim's."""

    def swap(p: LockedPackage) -> LockedPackage:
        return replace(p, artifacts=(art,)) if p.name == "alpha" else p

    return replace(
        lock, targets=tuple(replace(t, packages=tuple(map(swap, t.packages))) for t in lock.targets)
    )


def _evil_artifact(tmp_path: Path, server: FileServer) -> Artifact:
    evil = build_wheel(tmp_path / "evil", "alpha", "1.0", "py3-none-any", files=EVIL)
    data = evil.read_bytes()
    server.override["evil/" + evil.name] = data
    return Artifact(
        filename=evil.name,
        url=server.url + "evil/" + evil.name,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _imports_owned(env: Path) -> str:
    import subprocess

    done = subprocess.run(
        [str(env / "bin" / "python"), "-I", "-c", "import alpha; print(getattr(alpha, 'OWNED', False))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


# ------------------------------------------------------------------------- finding 1: store keys


def test_finding1_lock_keeping_a_victims_env_hash_cannot_publish_at_the_victims_path(
    lock: Path, store: Path, server: FileServer, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.lock"
    shutil.copyfile(lock, victim)
    reseal(lock, lambda x: _swap_alpha(x, _evil_artifact(tmp_path, server)))
    attack = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store)])
    assert attack.returncode == 1, attack.stderr
    assert "the lock's env-hash does not match its packages" in attack.stderr
    assert not _env_path(store, victim, "cpu").exists()

    # the victim's next install builds the real packages
    done = run_envlock(["install", "-l", str(victim), "--target", "cpu", "--store", str(store)])
    assert done.returncode == 0, done.stderr
    assert _imports_owned(Path(done.stdout.strip())) == "False"

    # check and diff say so loudly
    spec = tmp_path / "envlock.toml"
    spec.write_text(
        '[env]\nname = "demo"\npython = "3.11"\ndependencies = ["alpha", "beta"]\n\n'
        '[[target]]\nname = "cpu"\nplatform = "linux-x86_64"\n',
        encoding="utf-8",
    )
    check = run_envlock(["check", "-s", str(spec), "-l", str(lock)])
    assert check.returncode == 1
    assert "env-hash does not match its packages" in check.stderr
    diff = run_envlock(["diff", str(victim), str(lock)])
    assert "env-hash does not match its packages" in diff.stdout + diff.stderr


def test_finding1_a_store_hit_is_checked_against_the_locks_packages(
    lock: Path, store: Path, server: FileServer, tmp_path: Path
) -> None:
    first = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store)])
    assert first.returncode == 0, first.stderr
    env = Path(first.stdout.strip())
    # what an older envlock published for a forged lock: the victim's path, another alpha
    record_path = env / "envlock-env.json"
    record = json.loads(record_path.read_text())
    record["packages"][0]["sha256"] = _evil_artifact(tmp_path, server).sha256
    record_path.write_text(json.dumps(record))
    again = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store)])
    assert again.returncode == 1
    assert "is not what the lock pins" in again.stderr
    run = run_envlock(["run", "-l", str(lock), "--target", "cpu", "--store", str(store), "--", "true"])
    assert run.returncode == 1


def test_finding1_bundles_are_held_to_the_same(
    lock: Path, store: Path, server: FileServer, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    made = run_envlock(["fetch", "-l", str(lock), "-o", str(bundle)])
    assert made.returncode == 0, made.stderr
    evil = _evil_artifact(tmp_path, server)
    # fetch refuses a forged lock outright
    forged = tmp_path / "forged.lock"
    shutil.copyfile(lock, forged)
    reseal(forged, lambda x: _swap_alpha(x, evil))
    refused = run_envlock(["fetch", "-l", str(forged), "-o", str(tmp_path / "b2")])
    assert refused.returncode == 1
    assert "env-hash does not match" in refused.stderr
    # a bundle whose lock, artifact and SHA256SUMS were swapped together
    shutil.copyfile(forged, bundle / "envlock.lock")
    (bundle / "artifacts" / evil.sha256).mkdir(parents=True)
    (bundle / "artifacts" / evil.sha256 / evil.filename).write_bytes(server.override["evil/" + evil.filename])
    sums = bundle / "SHA256SUMS"
    lines = [ln for ln in sums.read_text().splitlines() if not ln.endswith("  envlock.lock")]
    lines.append(f"{hashlib.sha256(forged.read_bytes()).hexdigest()}  envlock.lock")
    sums.write_text("\n".join(lines) + "\n")
    done = run_envlock(
        ["install", "--offline", "--bundle", str(bundle), "--target", "cpu", "--store", str(store)]
    )
    assert done.returncode == 1
    assert "env-hash does not match its packages" in done.stderr
    assert not (store / "v1" / "envs").exists() or not any((store / "v1" / "envs").iterdir())


# ---------------------------------------------------------------------- finding 2: lock strings


def test_finding2_a_sha256_that_is_a_path_deletes_nothing_and_creates_nothing(
    lock: Path, store: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim-dir"
    victim.mkdir()
    precious = victim / "precious.whl"
    precious.write_bytes(b"do not delete")

    def aim(x: Lock) -> Lock:
        t = x.targets[0]
        p = t.packages[0]
        art = replace(p.artifacts[0], sha256=str(victim), filename="precious.whl")
        return replace(x, targets=(replace(t, packages=(replace(p, artifacts=(art,)), *t.packages[1:])),))

    reseal(lock, aim, recompute_env_hash=True)
    done = run_envlock(["install", "-l", str(lock), "--target", "cpu", "--store", str(store)])
    assert done.returncode == 1
    assert "targets[0].packages[0].artifacts[0].sha256" in done.stderr
    assert precious.read_bytes() == b"do not delete"
    out = tmp_path / "bundle"
    fetched = run_envlock(["fetch", "-l", str(lock), "-o", str(out)])
    assert fetched.returncode == 1
    assert "targets[0].packages[0].artifacts[0].sha256" in fetched.stderr
    assert sorted(p.name for p in victim.iterdir()) == ["precious.whl"]


def test_finding2_env_hash_and_names_cannot_place_an_env_outside_the_store(
    lock: Path, store: Path, tmp_path: Path
) -> None:
    for change, key in [
        (lambda t: replace(t, name="../../escaped"), "targets[0].name"),
        (lambda t: replace(t, env_hash="sha256:../../../escaped"), "targets[0].env-hash"),
    ]:
        attacked = tmp_path / f"attacked-{key}.lock"
        shutil.copyfile(lock, attacked)
        reseal(attacked, lambda x, c=change: replace(x, targets=(c(x.targets[0]), *x.targets[1:])))
        done = run_envlock(["install", "-l", str(attacked), "--target", "cpu", "--store", str(store)])
        assert done.returncode == 1, done.stderr
        assert key in done.stderr
    attacked = tmp_path / "env-name.lock"
    shutil.copyfile(lock, attacked)
    reseal(attacked, lambda x: replace(x, inputs=replace(x.inputs, name="../escaped")))
    done = run_envlock(["install", "-l", str(attacked), "--target", "cpu", "--store", str(store)])
    assert done.returncode == 1
    assert "inputs.name" in done.stderr
    assert not any(p.name.endswith("escaped") for p in tmp_path.rglob("*"))


# ------------------------------------------------------------------------- finding 4: --prefix


def test_finding4_prefix_with_a_planted_record_is_refused_and_nothing_is_deleted(
    lock: Path, store: Path, tmp_path: Path
) -> None:
    built = run_envlock(["install", "-l", str(lock), "--target", "small", "--store", str(store)])
    assert built.returncode == 0, built.stderr
    home = tmp_path / "project"
    (home / "src").mkdir(parents=True)
    (home / "src" / "train.py").write_text("print('my work')\n")
    # a genuine record, copied in: the file alone must not make a directory replaceable
    shutil.copyfile(Path(built.stdout.strip()) / "envlock-env.json", home / "envlock-env.json")
    done = run_envlock(
        ["install", "-l", str(lock), "--target", "cpu", "--store", str(store), "--prefix", str(home)]
    )
    assert done.returncode == 2, done.stderr
    assert "nothing was deleted" in done.stderr
    assert (home / "src" / "train.py").read_text() == "print('my work')\n"

    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    done = run_envlock(
        ["install", "-l", str(lock), "--target", "cpu", "--store", str(store), "--prefix", str(a_file)]
    )
    assert done.returncode == 2
    assert "is a file" in done.stderr
    assert a_file.read_text() == "keep"


def test_finding4_a_file_added_to_an_envlock_prefix_is_not_deleted(
    lock: Path, store: Path, tmp_path: Path
) -> None:
    prefix = tmp_path / "env"
    args = ["install", "-l", str(lock), "--store", str(store), "--prefix", str(prefix)]
    assert run_envlock([*args, "--target", "small"]).returncode == 0
    (prefix / "results.csv").write_text("epoch,loss\n")
    done = run_envlock([*args, "--target", "cpu"])
    assert done.returncode == 2
    assert "results.csv" in done.stderr
    assert (prefix / "results.csv").exists()
    (prefix / "results.csv").unlink()
    assert run_envlock([*args, "--target", "cpu"]).returncode == 0  # an untouched envlock env is replaced


# --------------------------------------------------------- finding 9: exit codes for user errors


def _first_artifact(change: dict[str, object]) -> object:
    def edit(x: Lock) -> Lock:
        t = x.targets[0]
        p = t.packages[0]
        art = replace(p.artifacts[0], **change)  # type: ignore[arg-type]  # test values of any type
        return replace(
            x, targets=(replace(t, packages=(replace(p, artifacts=(art,)), *t.packages[1:])), *x.targets[1:])
        )

    return edit


def test_finding9_bad_lock_values_are_exit_1_with_the_key_path(
    lock: Path, store: Path, tmp_path: Path
) -> None:
    sha = load_lock(lock).targets[0].packages[0].artifacts[0].sha256
    cases: list[tuple[dict[str, object], str]] = [
        ({"sha256": sha.upper()}, "64 lowercase hex"),
        ({"sha256": "abc"}, "64 lowercase hex"),
        ({"size": -5}, "size"),
        ({"size": 10**30}, "size"),
        ({"url": "javascript:alert(1)"}, "scheme 'javascript'"),
        ({"url": "ftp://mirror.example/alpha.whl"}, "scheme 'ftp'"),
        ({"url": "alpha-1.0-py3-none-any.whl"}, "relative URL"),
    ]
    for change, words in cases:
        attacked = tmp_path / "bad.lock"
        shutil.copyfile(lock, attacked)
        reseal(attacked, _first_artifact(change), recompute_env_hash=True)  # type: ignore[arg-type]
        done = run_envlock(["install", "-l", str(attacked), "--target", "cpu", "--store", str(store)])
        assert done.returncode == 1, (change, done.stderr)
        assert "targets[0].packages[0].artifacts[0]" in done.stderr, done.stderr
        assert words in done.stderr, done.stderr
        assert "tries" not in done.stderr  # never retried as a network error


def test_finding9_duplicate_packages_and_two_versions_are_refused(lock: Path, tmp_path: Path) -> None:
    for version, words in [("1.0", "locked twice"), ("1.1", "locked at 1.0 and at 1.1")]:
        attacked = tmp_path / "dup.lock"
        shutil.copyfile(lock, attacked)

        def dup(x: Lock, v: str = version) -> Lock:
            t = x.targets[0]
            alpha = t.packages[0]
            return replace(
                x,
                targets=(
                    replace(t, packages=(alpha, replace(alpha, version=v), *t.packages[1:])),
                    *x.targets[1:],
                ),
            )

        reseal(attacked, dup, recompute_env_hash=True)
        done = run_envlock(["show", "-l", str(attacked)])
        assert done.returncode == 1
        assert "targets[0].packages[1].name" in done.stderr
        assert words in done.stderr


def test_finding9_files_that_are_not_locks_or_specs(lock: Path, store: Path, tmp_path: Path) -> None:
    done = run_envlock(["show", "-l", str(tmp_path)])
    assert done.returncode == 2
    assert "is a directory" in done.stderr
    done = run_envlock(["show", "-l", "/dev/zero"])
    assert done.returncode == 2
    assert "not a regular file" in done.stderr
    big = tmp_path / "big.lock"
    with big.open("wb") as f:
        f.truncate(65 << 20)
    done = run_envlock(["show", "-l", str(big)])
    assert done.returncode == 2
    assert "more than a lock may be" in done.stderr
    nested = tmp_path / "nested.lock"
    nested.write_text("lock-version = 1\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    done = run_envlock(["show", "-l", str(nested)])
    assert done.returncode == 2
    assert "nested too deeply" in done.stderr
    spec = tmp_path / "envlock.toml"
    spec.write_text("[env]\nname = " + "[" * 5000 + "]" * 5000 + "\n")
    done = run_envlock(["check", "-s", str(spec), "-l", str(lock)])
    assert done.returncode == 2
    assert "nested too deeply" in done.stderr
    done = run_envlock(["check", "-s", "/dev/zero", "-l", str(lock)])
    assert done.returncode == 2
    assert "not a regular file" in done.stderr


def test_finding9_fetch_into_a_directory_that_cannot_be_made(lock: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = run_envlock(["fetch", "-l", str(lock), "-o", str(blocker / "bundle")])
    assert done.returncode == 2, done.stderr
    assert "cannot write" in done.stderr
    assert "internal error" not in done.stderr


def test_make_lock_fixture_still_installs(
    tmp_path: Path, wheels: Path, server: FileServer, store: Path
) -> None:
    """The checks above refuse forgeries, not the locks solve writes."""
    made = make_lock(
        tmp_path / "ok.lock", wheels, server.url, [TargetDef(name="one", packages=(("alpha", "1.0"),))]
    )
    done = run_envlock(["install", "-l", str(made), "--target", "one", "--store", str(store)])
    assert done.returncode == 0, done.stderr
