"""Re-hash installed environments of a lock and report every file that changed since they were built.

For each target of the lock that is installed in the store (or the one named by --target; or the
environment at --prefix), every file is hashed again and compared with the tree hash and manifest
recorded when the environment was published (paths, modes, contents), with each package's RECORD,
with the RECORD inside the locked wheel itself and with a locked conda package's own paths.json
(the store's copies, checked against the lock's sha256 first; CUDA toolkit archives are checked by
sha256, their unpacked files by the tree hash); the environment's record must name the lock's env
hash and packages. An environment on the lock's pinned interpreter build also has that build, as
unpacked in the store, compared file by file with its archive (the store's copy, checked against
the lock's sha256).

exit codes: 0 every environment checked is as built; 1 a difference (each named by its file), or
no installed environment of the lock to check; 2 usage error (an unknown --target).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envlock.cli.output import Console
    from envlock.lock.model import Artifact, Lock, LockedTarget
    from envlock.store.layout import StoreLayout
    from envlock.store.verify import Verification


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-l", "--lock", type=Path, default=Path("envlock.lock"), help="lock file")
    parser.add_argument(
        "--target", metavar="NAME", help="verify this target only (default: every installed one)"
    )
    parser.add_argument(
        "--store", type=Path, default=None, help="store root (default: $ENVLOCK_STORE or XDG data dir)"
    )
    parser.add_argument(
        "--prefix", type=Path, default=None, metavar="ENV", help="verify the environment installed at ENV"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def verify_target(lock: Lock, target: LockedTarget, env: Path, layout: StoreLayout) -> Verification:
    """`verify_environment` of the environment at `env`, built from `target` of `lock`."""
    from envlock.install.wheels import choose_artifact
    from envlock.store.verify import LockedFile, verify_environment

    def stored(art: Artifact) -> Path:
        return layout.artifact_path(art.sha256, art.filename)

    installs = [
        LockedFile(name=p.name, version=p.version, artifact=a, stored_at=stored(a), kind="wheel")
        for p in target.packages
        for a in (choose_artifact(p, target),)
    ]
    installs += [
        LockedFile(name=c.name, version=c.version, artifact=c.artifacts[0], stored_at=stored(c.artifacts[0]),
                   kind="toolkit")
        for c in target.toolkit
        if c.artifacts
    ]  # fmt: skip
    installs += [
        LockedFile(name=c.name, version=c.version, artifact=c.artifact, stored_at=stored(c.artifact),
                   kind="conda", noarch=c.noarch)
        for c in target.conda
    ]  # fmt: skip
    result = verify_environment(env, env_hash=target.env_hash, installs=installs)
    record = result.record
    if target.interpreter is not None and record is not None and record.interpreter_source == "locked":
        from dataclasses import replace

        from envlock.store.interpreters import interpreter_problems

        problems, notes = interpreter_problems(layout, target.interpreter, record.interpreter)
        result = replace(
            result, problems=result.problems + tuple(problems), notes=result.notes + tuple(notes)
        )
    return result


def _installed(
    lock: Lock, layout: StoreLayout, only: str | None, source: str
) -> list[tuple[LockedTarget, Path]]:
    from envlock.store.layout import env_dir_name
    from envlock.store.local import usable_env_name

    if only is not None:
        lock.require_target(
            only,
            source=source,
            hint="pass one of those names to --target, or leave it out to verify every installed target",
        )
    found = []
    for t in lock.targets:
        if only is not None and t.name != only:
            continue
        name = env_dir_name(env_hash=t.env_hash, env_name=lock.inputs.name, target=t.name)
        path = layout.env_path(usable_env_name(layout, name)[0])  # the one this user's installs run
        if path.exists():
            found.append((t, path))
    return found


def run(args: argparse.Namespace, console: Console) -> int:
    from envlock.errors import ExitCode, IntegrityError, StoreError, UsageError
    from envlock.lock.read import load_lock
    from envlock.store.layout import StoreLayout, default_store_root
    from envlock.store.record import EnvRecord

    lock = load_lock(args.lock)
    layout = StoreLayout(root=(args.store or default_store_root()).absolute())
    if args.prefix is not None:
        record = EnvRecord.read(args.prefix)
        name = args.target or (record.target if record is not None else None)
        target = lock.target(name) if name else None
        if target is None:
            raise UsageError(
                f"{args.prefix}: cannot tell which target of {args.lock} this environment is",
                hint="pass --target NAME",
            )
        pairs = [(target, args.prefix.absolute())]
    else:
        pairs = _installed(lock, layout, args.target, str(args.lock))
    if not pairs:
        what = (
            f"target {args.target} of {args.lock} is not" if args.target else f"no target of {args.lock} is"
        )
        raise StoreError(
            f"{what} installed in the store {layout.root}",
            hint="install it first (`envlock install`), or pass the store it is in with --store",
            details={"store": str(layout.root)},
        )
    results = [(t, verify_target(lock, t, path, layout)) for t, path in pairs]
    ok = all(v.ok for _t, v in results)
    if args.json:
        from envlock.cli.output import print_json

        print_json(
            {
                "ok": ok,
                "environments": [
                    {
                        "target": t.name,
                        "path": str(v.path),
                        "ok": v.ok,
                        "files": v.files,
                        "tree-hash": v.tree_hash,
                        "recorded-tree-hash": v.record.tree_hash if v.record else None,
                        "lock-content-hash": v.record.lock_content_hash if v.record else None,
                        "problems": list(v.problems),
                        "notes": list(v.notes),
                    }
                    for t, v in results
                ],
            }
        )
    else:
        from envlock.display import escape_controls

        # File names come from the environment: shown with control characters escaped.
        for t, v in results:
            head = f"{'ok' if v.ok else 'FAIL'}  {t.name}  {v.path}  ({v.files} files, {v.tree_hash})"
            print(escape_controls(head))
            for problem in v.problems:
                print(f"      {escape_controls(problem)}")
            for note in v.notes:
                console.warn(f"{t.name}: {note}")
        if not ok:
            console.error(
                IntegrityError(
                    "installed files changed after their environment was built (listed above)",
                    hint="do not use it; remove the environment (as its owner) and install it again",
                )
            )
    return ExitCode.OK if ok else ExitCode.INPUTS
