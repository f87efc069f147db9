"""Offline bundles: a lock, every artifact its targets install, and a `SHA256SUMS` file.

<bundle>/envlock.lock
<bundle>/artifacts/<sha256>/<filename>
<bundle>/SHA256SUMS        (`sha256sum -c SHA256SUMS` checks it by hand)
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from envlock.errors import IntegrityError, UsageError
from envlock.install.sources import ArtifactSource, BundleSource
from envlock.install.wheels import choose_artifacts
from envlock.lock.model import Artifact, Lock, LockedTarget
from envlock.progress import Progress
from envlock.store.artifacts import ArtifactState, check_file, copy_verified, hash_file
from envlock.store.layout import StoreLayout

BUNDLE_LOCK = "envlock.lock"
SUMS = "SHA256SUMS"


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleResult:
    path: Path
    files: int
    fetched: int
    bytes: int


def bundle_lock_path(bundle: Path) -> Path:
    """The lock inside `bundle`; raises UsageError when `bundle` is not one."""
    lock = bundle / BUNDLE_LOCK
    if not lock.is_file():
        raise UsageError(
            f"--bundle {bundle}: not an envlock bundle (no {BUNDLE_LOCK} in it)",
            hint="make one with `envlock fetch -o DIR` on a machine with network access",
        )
    return lock


def check_bundle_lock(bundle: Path) -> None:
    """The bundle's lock must be the one its SHA256SUMS names (a swapped lock is an IntegrityError)."""
    sums = bundle / SUMS
    try:
        lines = sums.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise IntegrityError(
            f"bundle {bundle} has no {SUMS}", hint="fetch the bundle again with `envlock fetch`"
        ) from None
    for line in lines:
        digest, _, name = line.partition("  ")
        if name == BUNDLE_LOCK:
            if hash_file(bundle / BUNDLE_LOCK)[0] != digest:
                raise IntegrityError(
                    f"bundle {bundle}: {BUNDLE_LOCK} does not match its entry in {SUMS}",
                    hint="the bundle was changed after `envlock fetch`; fetch it again",
                )
            return
    raise IntegrityError(f"bundle {bundle}: {SUMS} has no entry for {BUNDLE_LOCK}")


def write_bundle(
    *,
    lock_path: Path,
    lock: Lock,
    targets: Sequence[LockedTarget],
    out: Path,
    layout: StoreLayout | None,
    source: ArtifactSource,
    progress: Progress,
) -> BundleResult:
    """Fill `out` with the lock and the files `targets` install, reusing valid files already there
    (and the store's verified copies); each file is checked against the lock's sha256.

    A bundle directory that cannot be written (read-only, full, not a directory) is an error
    naming the path: UsageError (exit 2) when it is not writable, StoreError (exit 1) when full."""
    with _output_errors(out):
        out.mkdir(parents=True, exist_ok=True)
        bundle = BundleSource(out)
        wanted: dict[str, Artifact] = {}
        for target in targets:
            for _pkg, art in choose_artifacts(target):
                wanted.setdefault(art.sha256, art)
            if target.interpreter is not None:  # the locked interpreter travels with the bundle
                wanted.setdefault(target.interpreter.artifact.sha256, target.interpreter.artifact)
        fetched = 0
        total = 0
        for art in wanted.values():
            dest = bundle.path_of(art)
            total += art.size
            if check_file(dest, art) is ArtifactState.OK:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.part")
            try:
                copied = False
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()  # a part left by a killed fetch
                if layout is not None:
                    with contextlib.suppress(FileNotFoundError):
                        copied = copy_verified(layout.artifact_path(art.sha256, art.filename), tmp, art)
                if not copied:
                    with contextlib.suppress(FileNotFoundError):
                        tmp.unlink()
                    progress.step(f"fetching {art.filename}")
                    source.provide(art, tmp)
                    fetched += 1
                if check_file(tmp, art) is not ArtifactState.OK:
                    raise IntegrityError(
                        f"{art.filename}: {source.description} gave bytes that do not match "
                        "the lock's sha256",
                        hint="the file changed after the lock was made; re-solve the lock",
                        details={"file": art.filename},
                    )
                tmp.replace(dest)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        shutil.copyfile(lock_path, out / BUNDLE_LOCK)
        lines = [f"{hash_file(out / BUNDLE_LOCK)[0]}  {BUNDLE_LOCK}"]
        lines += [
            f"{a.sha256}  artifacts/{a.sha256}/{a.filename}"
            for a in sorted(wanted.values(), key=lambda a: a.filename)
        ]
        (out / SUMS).write_text("\n".join(lines) + "\n", encoding="utf-8")
        return BundleResult(path=out, files=len(wanted), fetched=fetched, bytes=total)


@contextlib.contextmanager
def _output_errors(out: Path) -> Iterator[None]:
    """An OSError while filling the bundle at `out` names the path: full, or not writable."""
    try:
        yield
    except OSError as exc:
        import errno

        where = exc.filename or out
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            from envlock.errors import StoreError

            raise StoreError(
                f"bundle {out}: cannot write {where}: no space left on the device",
                hint="free space there or pass another -o directory",
                details={"path": str(where)},
            ) from exc
        raise UsageError(
            f"bundle {out}: cannot write {where}: {exc.strerror or exc}",
            hint="pass -o a directory you can write (it is created when missing)",
            details={"path": str(where)},
        ) from exc
