"""Guards on the shape of the code: no import loops, and a start-up budget for the quick commands.

Every module is imported first, in a fresh set of envlock modules, so a loop between two modules
shows whichever one is imported first. The quick commands (`--help`, `show`, `diff`, `check`) must
not load the network client (httpx, ssl), the conda library or uv's runner: they answer from files.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for p in (ROOT / "envlock").rglob("*.py")
    if p.name not in ("__main__.py",) and "smoke_worker" not in p.name
)

_EACH_FIRST = """
import importlib, json, sys
failed = {}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m == "envlock" or m.startswith("envlock.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:  # an import loop shows as ImportError / AttributeError
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(failed))
"""

_LOADED = """
import json, sys
from envlock.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("\\nLOADED " + json.dumps(sorted(sys.modules)))
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    # the isolated HOME and cache of tests/conftest.py: nothing is written into the checkout
    env = {k: v for k, v in os.environ.items() if k in ("HOME", "XDG_CACHE_HOME", "ENVLOCK_CACHE_DIR")}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **env},
        check=False,
        timeout=300,
    )


def test_every_module_imports_first_without_a_loop() -> None:
    assert len(MODULES) > 50
    done = _run(_EACH_FIRST, json.dumps(MODULES))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {}


def _loaded(*args: str) -> set[str]:
    done = _run(_LOADED, *args)
    marker = done.stdout.rsplit("LOADED ", 1)
    assert len(marker) == 2, done.stdout + done.stderr
    return set(json.loads(marker[1]))


HEAVY = {
    "httpx",
    "ssl",
    "rattler",
    "envlock.index.client",
    "envlock.resolvers.uv",
    "envlock.materialize.uvinstall",
}


def test_quick_commands_stay_within_their_import_budget() -> None:
    lock = "locks/cluster/envlock.lock"
    for args in (
        ["--help"],
        ["show", "-l", lock],
        ["diff", lock, "locks/ci-cpu/envlock.lock"],
        ["check", "-s", "locks/cluster/envlock.toml", "-l", lock],
    ):
        loaded = _loaded(*args)
        assert not (HEAVY & loaded), f"envlock {' '.join(args)} loads {sorted(HEAVY & loaded)}"
    # diff and show do not start processes either (check reads the spec with packaging, whose
    # tag module imports subprocess)
    for args in (["show", "-l", lock], ["diff", lock, "locks/ci-cpu/envlock.lock"]):
        assert "subprocess" not in _loaded(*args), f"envlock {' '.join(args)} imports subprocess"


def _import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """envlock module -> the envlock modules it imports, at load time or later inside a function
    (an import deferred for start-up time is still a dependency: two modules that reach for each
    other that way are one module in two files). Imports under TYPE_CHECKING only name types and
    are left out."""
    import ast

    paths = {}
    for path in (root / "envlock").rglob("*.py"):
        name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        paths[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        types_only = {
            id(n)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for stmt in block.body
            for n in ast.walk(stmt)
        }
        deps: set[str] = set()
        for n in ast.walk(tree):
            if id(n) in types_only:
                continue
            if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("envlock"):
                for alias in n.names:
                    full = f"{n.module}.{alias.name}"
                    deps.add(full if full in paths else n.module)
            elif isinstance(n, ast.Import):
                deps.update(a.name for a in n.names if a.name.startswith("envlock"))
        graph[name] = {d for d in deps if d in paths and d != name}
    return graph


def _loops(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    loops: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                loops.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return loops


def test_the_import_graph_has_no_loop() -> None:
    assert _loops(_import_graph()) == []


def test_a_loop_through_deferred_imports_is_seen(tmp_path: Path) -> None:
    # The shape the knowledge base once had: the type's module loads its loader inside a function,
    # and the loader reaches back for the type inside another one. Nothing fails at import time,
    # so only the graph can see it; a TYPE_CHECKING import alone is not a loop.
    package = tmp_path / "envlock" / "kb"
    package.mkdir(parents=True)
    (tmp_path / "envlock" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "knowledge.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from envlock.kb.rules import rule\n"
        "def load():\n    from envlock.kb import files\n    return files\n"
    )
    (package / "files.py").write_text(
        "def read():\n    from envlock.kb.knowledge import load\n    return load\n"
    )
    (package / "rules.py").write_text("from envlock.kb.knowledge import load\nrule = load\n")
    assert _loops(_import_graph(tmp_path)) == [
        ["envlock.kb.files", "envlock.kb.knowledge", "envlock.kb.files"]
    ]


def test_every_folder_of_modules_is_a_package_an_install_ships() -> None:
    # setuptools' package finder (pyproject.toml) skips a folder without __init__.py: its modules
    # would import from a checkout and be missing from an installed wheel.
    folders = {p.parent for p in (ROOT / "envlock").rglob("*.py") if "__pycache__" not in p.parts}
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").is_file())
    # envlock/lock/ gets its __init__.py with the lock model's restructuring (issue 12).
    assert [m for m in missing if m != "envlock/lock"] == []
