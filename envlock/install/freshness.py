"""Is a lock still what its spec asks for? The check `envlock check` makes, and `install`/`run` make
before they use a lock (offline and fast: it never queries an index).

A lock is judged against a spec when one is named (`-s`) or lies beside the lock (`envlock.toml`, or a
`pyproject.toml` with `[tool.envlock]`, in the lock's directory). Without a spec there is nothing to
judge against (a bundle, a lock copied alone): the lock is used as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envlock.errors import SpecError, StaleLockError

if TYPE_CHECKING:  # a lock used without a spec beside it imports neither (see `spec_beside`)
    from envlock.lock.model import Lock
    from envlock.spec.model import Spec


@dataclass(frozen=True, slots=True, kw_only=True)
class Freshness:
    """What judging a lock against a spec found; `reasons` is empty when the lock is fresh."""

    spec_path: Path
    spec_name: str
    reasons: tuple[str, ...]
    other_project: bool  # the lock's [inputs].name is not the spec's env name


def spec_beside(lock_path: Path) -> Path | None:
    """The spec in the lock's directory, or None when there is none."""
    directory = lock_path.absolute().parent
    # Most locks used alone (a bundle, a copy on a cluster) have no spec file beside them: answer
    # that from the directory, without importing the spec parser (packaging, the knowledge base).
    if not any((directory / name).is_file() for name in ("envlock.toml", "pyproject.toml")):
        return None
    from envlock.spec.parse import find_spec

    try:
        return find_spec(directory)
    except SpecError:
        return None


def stale_reasons(spec: Spec, lock: Lock) -> list[str]:
    """Why `lock` was not solved from `spec` (empty: it was); the reasons `envlock check` prints."""
    from envlock.index.config import default_index_url
    from envlock.kb import load_kb
    from envlock.solve.inputs import lock_inputs, staleness

    # Without [indexes].default the default index is machine configuration (uv/pip config), not
    # spec input: a CI runner with another mirror must not call the lock stale.
    default = (
        lock.inputs.default_index if spec.indexes.default is None else default_index_url(spec.indexes.default)
    )
    from envlock.solve.direct import local_wheel_changes

    fresh = lock_inputs(spec, default_index=default, kb_digest=load_kb(spec.knowledge_base).digest)
    return staleness(lock, fresh) + local_wheel_changes(lock, spec.source.parent)


def judge_freshness(spec_path: Path, lock: Lock) -> Freshness:
    """Judge `lock` against the spec at `spec_path` (raises SpecError when the spec is malformed)."""
    from envlock.spec.parse import load_spec

    spec = load_spec(spec_path)
    if spec.name != lock.inputs.name:
        return Freshness(
            spec_path=spec_path,
            spec_name=spec.name,
            reasons=(f"the lock was solved for env {lock.inputs.name!r}; the spec is env {spec.name!r}",),
            other_project=True,
        )
    return Freshness(
        spec_path=spec_path,
        spec_name=spec.name,
        reasons=tuple(stale_reasons(spec, lock)),
        other_project=False,
    )


def require_fresh(lock_path: Path, lock: Lock, spec_path: Path | None) -> Path | None:
    """Raise StaleLockError (exit 1) when `lock` is stale against `spec_path` (else the spec beside
    the lock); returns the spec judged against, or None when there was none."""
    spec_path = spec_path or spec_beside(lock_path)
    if spec_path is None:
        return None
    try:
        found = judge_freshness(spec_path, lock)
    except SpecError as err:
        note = f"the lock is checked against {spec_path} before it is used; --frozen skips that check"
        raise SpecError(
            err.message, hint=f"{err.hint}\n{note}" if err.hint else note, details=err.details
        ) from None
    if not found.reasons:
        return spec_path
    details: dict[str, object] = {
        "lock": str(lock_path),
        "spec": str(spec_path),
        "reasons": list(found.reasons),
    }
    if found.other_project:
        raise StaleLockError(
            f"{lock_path} is another project's lock: it was solved for env {lock.inputs.name!r}, "
            f"but {spec_path} is the spec of env {found.spec_name!r}",
            hint="pass the project's own lock with -l (or its spec with -s); `envlock solve` writes one "
            "for this spec; --frozen uses the lock as it is",
            details={**details, "other-project": True},
        )
    listed = "\n".join(f"  - {r}" for r in found.reasons)
    raise StaleLockError(
        f"{lock_path} is stale against {spec_path}:\n{listed}",
        hint="run `envlock solve` to update the lock; --frozen installs the lock as it is "
        "(CI with a committed lock)",
        details=details,
    )
