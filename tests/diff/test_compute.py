"""diff_locks: what a reviewer is told about versions, hashes, targets, inputs and the CUDA stack."""

from __future__ import annotations

from dataclasses import replace

import pytest

from envlock.diff.compute import compare_versions, diff_locks
from envlock.errors import LockFormatError

from .conftest import COMMON, SASS, make_lock, torch_target, wheel, with_packages
from .scenarios import downgrade, hash_only, target_added, torch_upgrade, unchanged


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("2.5.1+cu124", "2.7.0+cu128", ("upgraded", ("local version",))),
        ("2.7.0+cu128", "2.5.1+cu124", ("downgraded", ("local version",))),
        # PEP 440 would order +cu92 above +cu130; the diff must not call either an upgrade.
        ("2.0.0+cu92", "2.0.0+cu130", ("changed", ("local version",))),
        ("2.0.0+cu130", "2.0.0+cu92", ("changed", ("local version",))),
        ("2.5.1", "2.5.1+cu124", ("changed", ("local version",))),
        ("1.26.4", "2.1.3", ("upgraded", ())),
        ("2.1.3", "1.26.4", ("downgraded", ())),
        ("1.0", "1.0.0", ("changed", ("version",))),
        ("1.0", "1.0", None),
        ("not-a-version", "also-not", ("changed", ("version",))),
    ],
)
def test_compare_versions(old: str, new: str, expected: object) -> None:
    assert compare_versions(old, new) == expected


def test_torch_upgrade_reports_the_cuda_stack_and_lost_architectures() -> None:
    d = diff_locks(*torch_upgrade(), sass=SASS)
    h100 = d.target("h100")
    assert h100 is not None and h100.status == "changed"
    changed = {f.field: (f.old, f.new) for f in h100.stack.changed}
    assert changed["variant"] == ("cu124", "cu128")
    assert changed["cuda"] == ("12.4", "12.8")
    assert changed["cudnn"] == ("9.1.0.70", "9.7.1.26")
    assert changed["nccl"] == ("2.21.5", "2.26.2")
    assert changed["requires-driver"] == ("550.54.14", "570.26")
    assert changed["compat"] == ("native", "minor-version")
    assert h100.stack.sass_lost == ("sm_50", "sm_60", "sm_70")
    assert h100.stack.sass_gained == ("sm_100", "sm_120")
    torch = next(p for p in h100.packages if p.name == "torch")
    assert torch.kind == "upgraded"
    assert {p.name for p in h100.of_kind("added")} == {"nvidia-cufile-cu12", "nvidia-cusparselt-cu12"}
    assert h100.download_delta > 0
    assert [c.field for c in d.inputs] == ["dependencies[torch]"]
    assert not d.empty


def test_without_a_sass_lookup_there_are_no_architecture_claims() -> None:
    h100 = diff_locks(*torch_upgrade()).target("h100")
    assert h100 is not None
    assert not h100.stack.sass_known and h100.stack.sass_lost == ()


def test_target_gpu_that_loses_its_kernels_is_a_warning() -> None:
    old = make_lock(torch_target("v100", "2.5.1+cu124", gpus=["sm_70"]))
    new = make_lock(torch_target("v100", "2.7.0+cu128", gpus=["sm_70"]))
    d = diff_locks(old, new, sass=SASS)
    assert [w.kind for w in d.warnings] == ["kernels-lost"]
    assert "sm_70" in d.warnings[0].message
    t = d.target("v100")
    assert t is not None and t.stack.kernels_lost == ("sm_70",)


def test_hash_change_without_version_change_is_a_supply_chain_warning() -> None:
    d = diff_locks(*hash_only())
    (w,) = d.warnings
    assert w.kind == "hash-changed" and w.package == "numpy" and w.target == "h100"
    t = d.target("h100")
    assert t is not None
    (p,) = t.packages
    assert (p.kind, p.reasons) == ("changed", ("hash",))
    assert [f.change for f in p.files] == ["hash"]


def test_new_file_of_an_upgrade_is_not_a_supply_chain_warning() -> None:
    d = diff_locks(*torch_upgrade())
    assert [w for w in d.warnings if w.kind == "hash-changed"] == []


def test_yanked_file_is_a_warning() -> None:
    old = make_lock(torch_target("h100"))
    numpy = old.targets[0].package("numpy")
    assert numpy is not None
    yanked = replace(numpy, artifacts=(replace(numpy.artifacts[0], yanked=True),))
    d = diff_locks(old, make_lock(with_packages(old.targets[0], yanked)))
    assert [w.kind for w in d.warnings] == ["yanked"]


def test_target_added_and_removed() -> None:
    old, new = target_added()
    d = diff_locks(old, new)
    b200 = d.target("b200")
    assert b200 is not None and b200.status == "added"
    assert all(p.kind == "added" for p in b200.packages)
    assert len(b200.packages) == len(new.targets[1].packages)
    h100 = d.target("h100")
    assert h100 is not None and h100.status == "unchanged"
    assert [c.field for c in d.inputs] == ["targets[b200]"]
    back = diff_locks(new, old).target("b200")
    assert back is not None and back.status == "removed"
    assert back.download_old == b200.download_new


def test_downgrade_and_local_label_change() -> None:
    d = diff_locks(*downgrade())
    t = d.target("h100")
    assert t is not None
    kinds = {p.name: (p.kind, p.reasons) for p in t.packages}
    assert kinds["numpy"] == ("downgraded", ())
    assert kinds["torch"] == ("changed", ("local version", "index"))
    assert kinds["nvidia-cudnn-cu12"][0] == "downgraded"
    assert [(c.field, c.old, c.new) for c in d.inputs] == [("dependencies[numpy]", "numpy", "numpy<2")]


def test_unchanged_lock_is_empty() -> None:
    d = diff_locks(*unchanged())
    assert d.empty and d.warnings == ()
    assert all(t.status == "unchanged" for t in d.targets)


def test_index_change_alone_is_reported() -> None:
    old = make_lock(torch_target("h100"))
    version, size = COMMON["numpy"]
    moved = wheel("numpy", version, index="https://mirror2.example/simple", size=size, tag="py3-none-any")
    d = diff_locks(old, make_lock(with_packages(old.targets[0], moved)))
    t = d.target("h100")
    assert t is not None
    (p,) = t.packages
    assert p.kind == "changed" and "index" in p.reasons and "artifact" in p.reasons
    assert d.warnings == ()  # same file name, same hash: a mirror move, not a supply-chain change


def test_hand_edited_lock_is_a_warning_not_an_error() -> None:
    old = make_lock(torch_target("h100"))
    edited = replace(old, targets=(replace(old.targets[0], nccl="2.99.9"),))  # content hash now stale
    d = diff_locks(old, edited, old_source="a", new_source="b")
    assert [w.kind for w in d.warnings] == ["hand-edited"]
    assert d.warnings[0].message.startswith("b was edited by hand")
    assert d.new.hand_edited and not d.old.hand_edited
    t = d.target("h100")
    assert t is not None and [f.field for f in t.stack.changed] == ["nccl"]


def test_different_lock_versions_are_refused() -> None:
    a = make_lock(torch_target("h100"))
    b = replace(a, lock_version=2)
    with pytest.raises(LockFormatError, match=r"lock-version 1 .* lock-version 2"):
        diff_locks(a, b)


def test_tool_versions_count_as_a_difference() -> None:
    a = make_lock(torch_target("h100"))
    b = make_lock(torch_target("h100"), uv_version="0.13.10")
    d = diff_locks(a, b)
    assert not d.empty and [c.field for c in d.lock] == ["uv-version"]


def test_duplicate_requirement_names_do_not_collide() -> None:
    a = make_lock(torch_target("h100"), dependencies=("numpy<2; python_version<'3.12'", "numpy"))
    b = make_lock(torch_target("h100"), dependencies=("numpy<3",))
    changes = [(c.field, c.old, c.new) for c in diff_locks(a, b).inputs]
    assert ("dependencies[numpy]", "numpy", None) in changes
    assert ("dependencies[numpy]", None, "numpy<3") in changes
