"""The install plan: which target, which environment path, and whether it is already there (pure reads)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from envlock.errors import IntegrityError, UsageError
from envlock.lock.digest import verified_env_hash
from envlock.lock.model import Lock, LockedTarget
from envlock.store.layout import ENV_RECORD, StoreLayout, env_dir_name
from envlock.store.record import EnvRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallPlan:
    """What `install` will do. `hit`: the environment exists and nothing needs building."""

    lock_path: Path
    lock: Lock
    target: LockedTarget
    store: StoreLayout
    env_name: str  # the store directory name `<hash32>-<env>-<target>`
    path: Path  # where the environment is or will be: the store path, or `--prefix`
    prefix: bool
    hit: bool
    # why `envs/<env_name>` is not used when `path` is this user's private copy instead (store/trust.py)
    refused: str | None = None


def record_problem(record: EnvRecord, target: LockedTarget, env_hash: str) -> str | None:
    """None when the environment `record` describes is `target`'s, else what differs.

    Cheap (no hashing, no imports): the env hash, and the files recorded against those the lock pins
    (each package, toolkit archive and conda package once, at its locked version, as one of its
    locked files, by sha256).
    """
    if record.env_hash != env_hash:
        return f"it was built for env-hash {record.env_hash}, the lock's packages give {env_hash}"
    pinned: dict[tuple[str, str], set[str]] = {}
    expected: Counter[tuple[str, str]] = Counter()
    for p in (*target.packages, *(t for t in target.toolkit if t.artifacts)):
        pinned.setdefault((p.name, p.version), set()).update(a.sha256 for a in p.artifacts)
        expected[(p.name, p.version)] += 1
    for c in target.conda:
        pinned.setdefault((c.name, c.version), set()).add(c.artifact.sha256)
        expected[(c.name, c.version)] += 1
    recorded = Counter((p.name, p.version) for p in record.packages)
    if recorded != expected:
        extra = sorted(f"{n} {v}" for n, v in (recorded - expected).elements())
        missing = sorted(f"{n} {v}" for n, v in (expected - recorded).elements())
        return (
            f"its packages differ from the lock's (not locked: {extra or 'none'}; "
            f"missing: {missing or 'none'})"
        )
    for r in record.packages:
        if r.sha256 not in pinned[(r.name, r.version)]:
            return f"its {r.name} {r.version} is {r.filename} (sha256 {r.sha256}), not a file the lock pins"
    return None


def _check_record(
    path: Path, record: EnvRecord, target: LockedTarget, env_hash: str, *, prefix: bool
) -> bool:
    """Whether the environment at `path` is the target's; in the store a foreign one is refused."""
    problem = record_problem(record, target, env_hash)
    if problem is None:
        return True
    if prefix:
        return False  # an older envlock environment at --prefix: rebuilt and replaced
    raise foreign_env(path, target, problem)


def foreign_env(path: Path, target: LockedTarget, problem: str) -> IntegrityError:
    """The error for a store environment at `path` that is not `target`'s (`problem` says how)."""
    return IntegrityError(
        f"store environment {path} is not what the lock pins for target {target.name}: {problem}",
        hint="someone changed the store or published a forged environment there; do not run it. "
        "`envlock verify` re-checks the store; remove that directory (or use another --store) to rebuild",
        details={"path": str(path), "target": target.name},
    )


def refuse_prefix(path: Path) -> None:
    """UsageError (exit 2) unless `--prefix path` may be (re)placed; see `envlock.store.prefix`."""
    from envlock.store.prefix import prefix_problem

    problem = prefix_problem(path)
    if problem is not None:
        raise UsageError(
            f"--prefix {path}: {problem}; envlock replaces only an environment it made there",
            hint="choose a new or empty directory; nothing was deleted",
            details={"prefix": str(path)},
        )


def plan_install(
    *,
    lock_path: Path,
    lock: Lock,
    target: LockedTarget,
    store: StoreLayout,
    prefix: Path | None,
    python_override: Path | None = None,
) -> InstallPlan:
    """Plan installing `target` of `lock` into `store` (or at `prefix`); reads, never writes.

    The store key is computed from the target's content (`verified_env_hash`), never read from the
    lock: a lock whose recorded env-hash differs is refused (IntegrityError). An environment found
    there is checked against the lock's packages before it counts as a hit.
    With `python_override` (`--python PATH`) the environment is another one than the locked: its
    store path is keyed by the interpreter's path too, and a prefix is always rebuilt.
    """
    computed = verified_env_hash(target, source=str(lock_path))
    key = computed
    if python_override is not None:
        from envlock.lock.digest import sha256_json

        key = sha256_json({"env-hash": computed, "python-override": str(python_override)})
    name = env_dir_name(env_hash=key, env_name=lock.inputs.name, target=target.name)
    refused: str | None = None
    if prefix is None:
        from envlock.store.local import usable_env_name

        usable, refused = usable_env_name(store, name)
        path = store.env_path(usable)
        record = EnvRecord.read(path)
        if record is None and (path / ENV_RECORD).exists():
            # published (the builders' test) but unreadable: never used, never silently rebuilt over
            raise IntegrityError(
                f"store environment {path} has a record ({ENV_RECORD}) envlock cannot read",
                hint="the store was changed by hand; remove that directory (or use another --store) "
                "to rebuild",
                details={"path": str(path), "target": target.name},
            )
        hit = record is not None and _check_record(path, record, target, computed, prefix=False)
    else:
        path = prefix.absolute()
        record = EnvRecord.read(path)
        hit = (
            record is not None
            and _check_record(path, record, target, computed, prefix=True)
            and python_override is None
            and record.interpreter_source != "override"
        )
        if not hit:
            refuse_prefix(path)
    return InstallPlan(
        lock_path=lock_path,
        lock=lock,
        target=target,
        store=store,
        env_name=name,
        path=path,
        prefix=prefix is not None,
        hit=hit,
        refused=refused,
    )
