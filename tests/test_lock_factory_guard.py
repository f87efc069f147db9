"""Tests, benchmarks and tools build locks with tests/lockfactory.py, never field by field.

A new lock field is then the model field, its row in the key table and (when the model gives it no
default) one default in the factory, instead of an edit to every hand-built `Lock(...)`.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = "envlock.lock.model"
CLASSES = frozenset({"Lock", "LockedTarget", "LockInputs"})
# Callables that build an instance of a class given to them (hypothesis, functools).
BUILDERS = frozenset({"builds", "partial"})
ALLOWED = {
    "tests/lockfactory.py": "the factory itself",
}


def _model_names(tree: ast.Module) -> tuple[dict[str, str], set[str]]:
    """The names the module binds to the model's classes (name -> class) and to the model module."""
    classes: dict[str, str] = {}
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == MODEL:
            classes |= {a.asname or a.name: a.name for a in node.names if a.name in CLASSES}
        elif isinstance(node, ast.ImportFrom) and node.module == "envlock.lock":
            modules |= {a.asname or a.name for a in node.names if a.name == "model"}
        elif isinstance(node, ast.Import):
            modules |= {a.asname for a in node.names if a.name == MODEL and a.asname}
            if any(a.name == MODEL and a.asname is None for a in node.names):
                modules.add(MODEL)
    return classes, modules


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def hand_built(source: str, filename: str = "<source>") -> list[str]:
    """`line: Class` for each place `source` builds a Lock, LockedTarget or LockInputs itself: a call of
    the class, or the class handed to `builds`/`partial`."""
    tree = ast.parse(source, filename)
    classes, modules = _model_names(tree)

    def model_class(node: ast.expr) -> str | None:
        name = _dotted(node)
        if name is None:
            return None
        if name in classes:
            return classes[name]
        module, _, attr = name.rpartition(".")
        return attr if module in modules and attr in CLASSES else None

    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        built = model_class(node.func)
        callee = (_dotted(node.func) or "").rpartition(".")[2]
        if built is None and callee in BUILDERS and node.args:
            built = model_class(node.args[0])
        if built is not None:
            found.append((node.lineno, built))
    return [f"{line}: {built}" for line, built in sorted(found)]


def test_no_test_bench_or_tool_builds_a_lock_by_hand() -> None:
    offenders = []
    for folder in ("tests", "bench", "tools"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in ALLOWED:
                continue
            hits = hand_built(path.read_text(encoding="utf-8"), relative)
            offenders += [f"{relative}:{hit}" for hit in hits]
    assert not offenders, (
        "built by hand: " + ", ".join(offenders) + "\nhint: use make_lock / make_target / make_cpu_target /"
        " make_inputs from tests/lockfactory.py, overriding only the fields that matter"
    )


def test_the_guard_sees_every_way_of_building_one() -> None:
    source = """
import threading
import envlock.lock.model
import envlock.lock.model as m
from envlock.lock import model
from envlock.lock.model import Lock, LockedTarget as T, LockInputs, LockedPackage
from hypothesis import strategies as st

threading.Lock()
LockedPackage(name="a")
isinstance(x, Lock)
Lock(lock_version=1)
T(name="t")
m.LockInputs(name="n")
model.LockedTarget(name="t")
envlock.lock.model.Lock()
st.builds(LockInputs, name=st.text())
"""
    assert hand_built(source) == [
        "12: Lock",
        "13: LockedTarget",
        "14: LockInputs",
        "15: LockedTarget",
        "16: Lock",
        "17: LockInputs",
    ]
