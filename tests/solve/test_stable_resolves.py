"""Re-solves keep the existing lock's pins (`--upgrade`, `--upgrade-package` lift them), and
`[resolution] uniform` gives one torch across targets; without it, solve and diff warn."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from envlock import _toml
from tests.solve.conftest import Run, target_block

Envlock = Callable[..., Run]
CI = target_block("ci")


def _pins(lock_file: Path) -> dict[tuple[str, str], str]:
    data = _toml.loads(lock_file.read_text())
    return {(t["name"], p["name"]): p["version"] for t in data["targets"] for p in t.get("packages", [])}


def _changed(before: dict[tuple[str, str], str], after: dict[tuple[str, str], str]) -> set[str]:
    """Names of the packages added, removed or moved between two locks (any target)."""
    keys = before.keys() | after.keys()
    return {name for key in keys if before.get(key) != after.get(key) for name in [key[1]]}


def _respec(spec: Path, old: str, new: str) -> None:
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new))


def test_a_one_line_spec_change_touches_only_the_package_it_must(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    spec = write_spec(deps=("numpy<2", "freshpkg<1.1"), targets=CI, pytorch=False)
    lock_file = spec.parent / "envlock.lock"
    assert envlock("solve", "-s", str(spec)).code == 0
    first = _pins(lock_file)
    assert first[("ci", "numpy")] == "1.26.4" and first[("ci", "freshpkg")] == "1.0.0"

    # Relaxing numpy's pin moves nothing: the locked numpy still satisfies the spec.
    _respec(spec, '"numpy<2"', '"numpy"')
    assert envlock("solve", "-s", str(spec)).code == 0
    assert _changed(first, _pins(lock_file)) == set()

    # Requiring a newer freshpkg moves freshpkg alone; numpy stays where the lock had it.
    _respec(spec, '"freshpkg<1.1"', '"freshpkg>=1.1"')
    assert envlock("solve", "-s", str(spec)).code == 0
    second = _pins(lock_file)
    assert _changed(first, second) == {"freshpkg"}
    assert second[("ci", "freshpkg")] == "1.1.0" and second[("ci", "numpy")] == "1.26.4"

    # --upgrade-package lifts one pin; --upgrade all of them.
    run = envlock("solve", "-s", str(spec), "--upgrade-package", "numpy")
    assert run.code == 0, run.err
    third = _pins(lock_file)
    assert _changed(second, third) == {"numpy"} and third[("ci", "numpy")] == "2.1.0"


def test_upgrade_package_lifts_one_pin_and_upgrade_lifts_all(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    spec = write_spec(deps=("numpy<2", "freshpkg<1.1"), targets=CI, pytorch=False)
    lock_file = spec.parent / "envlock.lock"
    assert envlock("solve", "-s", str(spec)).code == 0
    _respec(spec, '"numpy<2", "freshpkg<1.1"', '"numpy", "freshpkg"')
    assert envlock("solve", "-s", str(spec)).code == 0
    kept = _pins(lock_file)
    assert (kept[("ci", "numpy")], kept[("ci", "freshpkg")]) == ("1.26.4", "1.0.0")
    assert envlock("solve", "-s", str(spec), "--upgrade-package", "freshpkg").code == 0
    one = _pins(lock_file)
    assert (one[("ci", "numpy")], one[("ci", "freshpkg")]) == ("1.26.4", "1.1.0")
    typo = envlock("solve", "-s", str(spec), "--upgrade-package", "nunpy")
    assert typo.code == 0 and "--upgrade-package nunpy: no package of that name is in the lock" in typo.err
    assert _pins(lock_file) == one
    assert envlock("solve", "-s", str(spec), "--upgrade").code == 0
    every = _pins(lock_file)
    assert (every[("ci", "numpy")], every[("ci", "freshpkg")]) == ("2.1.0", "1.1.0")


def test_a_re_solve_keeps_the_locked_torch(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    targets = target_block("h100", gpus=("H100",), driver="550.54.15")
    spec = write_spec(deps=("torch>=2.5,<2.6",), targets=targets)
    lock_file = spec.parent / "envlock.lock"
    assert envlock("solve", "-s", str(spec)).code == 0
    before = _pins(lock_file)
    assert before[("h100", "torch")].startswith("2.5.")
    _respec(spec, '"torch>=2.5,<2.6"', '"torch>=2.5,<2.8", "filelock"')
    assert envlock("solve", "-s", str(spec)).code == 0
    assert _changed(before, _pins(lock_file)) == set()
    assert envlock("solve", "-s", str(spec), "--upgrade-package", "torch").code == 0
    assert _pins(lock_file)[("h100", "torch")].startswith("2.7.")


# -- one torch across targets --------------------------------------------------------------------

CUDA_12 = 'version = ">=12.4"'  # no native choice for driver 535 (CUDA 12.2)
CUDA_121 = 'version = ">=12.1"'
PAIR = target_block("a100", gpus=("A100",), driver="535.104.05") + target_block(
    "h100", gpus=("H100",), driver="550.54.15"
)


def test_targets_that_differ_in_torch_are_named_by_solve_and_diff(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    # Before: one torch everywhere (uniform). After: each target picks its own.
    uniform = "\n[resolution]\nuniform = true\n"
    spec = write_spec(deps=("torch>=2.5",), targets=PAIR, cuda=CUDA_12, extra=uniform)
    assert envlock("solve", "-s", str(spec)).code == 0
    old_lock = tmp_path / "old.lock"
    (spec.parent / "envlock.lock").rename(old_lock)
    spec = write_spec(deps=("torch>=2.5",), targets=PAIR, cuda=CUDA_12)
    run = envlock("solve", "-s", str(spec), "--json")
    assert run.code == 0, run.err
    targets = {t["name"]: t for t in run.json()["targets"]}
    # The H100 nodes run torch 2.6 natively; the A100 nodes get a newer torch through minor-version
    # compatibility (the report, on the fixture indexes).
    assert targets["h100"]["torch"] == "2.6.0+cu124" and targets["h100"]["compat"] == "native"
    assert targets["a100"]["compat"] == "minor-version"
    a100 = targets["a100"]["torch"].split("+")[0]
    assert "targets differ in torch: 2.6.0 (h100); " + a100 + " (a100)" in run.err
    assert "target a100 runs CUDA" in run.err and "minor-version compatibility" in run.err
    lock_file = spec.parent / "envlock.lock"
    diff = envlock("diff", str(old_lock), str(lock_file))
    assert "targets differ in torch" in diff.out and "target a100 runs CUDA" in diff.out
    markdown = envlock("diff", str(old_lock), str(lock_file), "--format", "markdown").out
    assert "targets differ in torch: 2.6.0 (h100)" in markdown
    warnings = envlock("diff", str(old_lock), str(lock_file), "--format", "json").json()["warnings"]
    assert {(w["kind"], w["target"]) for w in warnings} == {
        ("torch-differs", None),
        ("minor-version", "a100"),
    }


def test_uniform_gives_one_torch_to_an_a100_535_and_h100_550_pair(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    spec = write_spec(
        deps=("torch>=2.5",), targets=PAIR, cuda=CUDA_12, extra="\n[resolution]\nuniform = true\n"
    )
    run = envlock("solve", "-s", str(spec), "--json")
    assert run.code == 0, run.err
    targets = {t["name"]: t for t in run.json()["targets"]}
    torches = {name: t["torch"].split("+")[0] for name, t in targets.items()}
    # the best version both can take: the newest the H100 nodes' driver runs natively
    assert torches == {"a100": "2.6.0", "h100": "2.6.0"}
    assert "targets differ in torch" not in run.err
    shared = {}
    for t in targets.values():
        for p in t["packages"]:
            shared.setdefault(p["name"], set()).add(p["version"].split("+")[0])
    assert all(len(v) == 1 for v in shared.values()), shared


def test_a_re_solve_of_an_unchanged_spec_writes_the_bytes_of_a_fresh_solve(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    # The losing variants resolve without the old pins, so their reasons read as in a fresh solve
    # (an old cu124 pin of nvjitlink must not make cu121 look native).
    targets = target_block("h100", gpus=("A100", "H100"), driver="550.54.15") + CI
    spec = write_spec(deps=("torch>=2.5,<2.8", "torchvision", "numpy<2"), targets=targets, cuda=CUDA_121)
    lock_file = spec.parent / "envlock.lock"
    assert envlock("solve", "-s", str(spec)).code == 0
    fresh = lock_file.read_bytes()
    assert envlock("solve", "-s", str(spec)).code == 0
    assert lock_file.read_bytes() == fresh
