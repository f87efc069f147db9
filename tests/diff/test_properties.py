"""Invariants of diff_locks over generated locks (hypothesis)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from envlock.diff.compute import diff_locks
from envlock.diff.model import LockDiff
from envlock.lock.digest import compute_content_hash, seal
from envlock.lock.model import Artifact, Lock, LockedPackage, LockedTarget

from .conftest import make_lock, torch_target, wheel

NAMES = [f"pkg-{i}" for i in range(12)]
VERSIONS = ["1.0", "1.1", "2.0", "2.0+cu124", "2.0+cu128", "10.0"]
STACKS = ["2.5.1+cu124", "2.7.0+cu126", "2.7.0+cu128", "2.5.1+cpu"]


@st.composite
def targets(draw: st.DrawFn, name: str) -> LockedTarget:
    stack = draw(st.sampled_from(STACKS))
    chosen = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=6))
    extra = [
        wheel(
            n,
            draw(st.sampled_from(VERSIONS)),
            index=draw(st.sampled_from(["https://a.example/simple", "https://b.example/simple"])),
            size=draw(st.integers(0, 10**9)),
            tag="py3-none-any",
            salt=draw(st.sampled_from(["", "x"])),
        )
        for n in sorted(chosen)
    ]
    return torch_target(
        name,
        stack,
        gpus=draw(st.sampled_from([["sm_90"], ["sm_80"], ["sm_70", "sm_90"]])),
        python=draw(st.sampled_from(["3.11", "3.12"])),
        extra=extra,
    )


@st.composite
def locks(draw: st.DrawFn) -> Lock:
    names = draw(st.lists(st.sampled_from(["h100", "a100", "login", "b200"]), unique=True, max_size=3))
    deps = draw(st.lists(st.sampled_from(["torch>=2.5", "torch<3", "numpy<2", "numpy"]), unique=True))
    return make_lock(*(draw(targets(n)) for n in names), dependencies=deps)


@settings(max_examples=60, deadline=None)
@given(locks())
def test_diff_of_a_lock_with_itself_is_empty(a: Lock) -> None:
    d = diff_locks(a, a)
    assert d.empty
    assert d.warnings == ()


def _entries(d: LockDiff, kind: str) -> set[tuple[str, str, str | None, str | None]]:
    return {
        (t.name, p.name, p.old_version, p.new_version)
        for t in d.targets
        for p in t.packages
        if p.kind == kind
    }


def _flipped(d: LockDiff, kind: str) -> set[tuple[str, str, str | None, str | None]]:
    return {(t, n, new, old) for t, n, old, new in _entries(d, kind)}


@settings(max_examples=60, deadline=None)
@given(locks(), locks())
def test_added_one_way_is_removed_the_other_way(a: Lock, b: Lock) -> None:
    ab, ba = diff_locks(a, b), diff_locks(b, a)
    assert _entries(ab, "added") == _flipped(ba, "removed")
    assert _entries(ab, "removed") == _flipped(ba, "added")
    assert _entries(ab, "upgraded") == _flipped(ba, "downgraded")
    assert _entries(ab, "changed") == _flipped(ba, "changed")
    assert {t.name for t in ab.targets if t.status == "added"} == {
        t.name for t in ba.targets if t.status == "removed"
    }
    assert ab.empty == ba.empty


@settings(max_examples=60, deadline=None)
@given(locks(), locks())
def test_empty_exactly_when_the_content_is_the_same(a: Lock, b: Lock) -> None:
    # Both generated locks list targets and artifacts in a canonical order, so "same content" is
    # "same content hash"; a diff that misses any field of the lock fails here.
    assert diff_locks(a, b).empty == (compute_content_hash(a) == compute_content_hash(b))


def _mutations(lock: Lock) -> list[Lock]:
    t = lock.targets[0]
    p = t.packages[0]
    a = p.artifacts[0]

    def art(**kw: object) -> Lock:
        new_art: Artifact = replace(a, **kw)  # type: ignore[arg-type]
        pkg: LockedPackage = replace(p, artifacts=(new_art,))
        return tgt(packages=(pkg, *t.packages[1:]))

    def tgt(**kw: object) -> Lock:
        return seal(replace(lock, targets=(replace(t, **kw), *lock.targets[1:])))  # type: ignore[arg-type]

    return [
        art(sha256="0" * 64),
        art(size=a.size + 1),
        art(url=a.url + "?moved"),
        art(yanked=True),
        art(hash_source="downloaded"),
        art(upload_time="2025-01-01T00:00:00Z"),
        art(filename="other.whl"),
        tgt(packages=(replace(p, index="https://c.example/simple"), *t.packages[1:])),
        tgt(packages=t.packages[1:]),
        tgt(kb_status="inferred"),
        tgt(env_hash="sha256:" + "1" * 64),
        tgt(glibc="2.34"),
        tgt(driver="999.1"),
        tgt(rejected=()),
        seal(replace(lock, spec_hash="sha256:" + "2" * 64)),
        seal(replace(lock, inputs=replace(lock.inputs, allow_ptx=True))),
        seal(replace(lock, inputs=replace(lock.inputs, exclude_newer="2026-01-01T00:00:00Z"))),
    ]


def test_every_single_field_change_is_reported() -> None:
    from envlock.lock.model import Rejection

    base = make_lock(
        torch_target("h100", rejected=[Rejection(variant="cu118", reason="old")]),
        torch_target("login", "2.5.1+cpu"),
    )
    for i, mutated in enumerate(_mutations(base)):
        d = diff_locks(base, mutated)
        assert not d.empty, f"mutation {i} went unreported"
