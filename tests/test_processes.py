"""The child-process starter: children die with envlock, but not with the thread that started them."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from envlock import processes


def test_a_child_started_by_a_thread_that_has_ended_keeps_running() -> None:
    # The kernel's parent-death signal follows the forking thread; a worker thread that ends must
    # not take the uv it started with it.
    started: list[subprocess.Popen[str]] = []
    code = "import sys; sys.stdin.read(); print('alive')"
    worker = threading.Thread(
        target=lambda: started.append(
            processes.start(
                [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
        )
    )
    worker.start()
    worker.join()
    out, _ = started[0].communicate("go")
    assert (started[0].returncode, out.strip()) == (0, "alive")


def test_run_gives_what_subprocess_run_gives() -> None:
    done = processes.run(
        [sys.executable, "-c", "import sys; print(sys.stdin.read().upper()); sys.exit(3)"],
        input="abc",
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout.strip(), done.stderr) == (3, "ABC", "")
    with pytest.raises(subprocess.CalledProcessError):
        processes.run([sys.executable, "-c", "raise SystemExit(1)"], check=True)


def test_run_past_its_timeout_kills_the_child() -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        processes.run([sys.executable, "-c", "import time; time.sleep(60)"], timeout=0.5)


def test_no_module_but_the_starter_starts_a_process() -> None:
    # A child started any other way would outlive a killed envlock (and write into cleaned scratch).
    import ast
    from pathlib import Path

    starters = {"run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput"}
    root = Path(processes.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "processes.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # a type annotation (`proc: subprocess.Popen[str]`) names the class and starts nothing
        annotations = [
            n.annotation if isinstance(n, (ast.arg, ast.AnnAssign)) else n.returns
            for n in ast.walk(tree)
            if isinstance(n, (ast.arg, ast.AnnAssign, ast.FunctionDef, ast.AsyncFunctionDef))
        ]
        typed = {id(n) for a in annotations if a is not None for n in ast.walk(a)}
        for node in ast.walk(tree):
            if id(node) in typed:
                continue
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and (
                    (node.value.id == "subprocess" and node.attr in starters)
                    or (node.value.id == "os" and (node.attr in ("system", "popen") or "spawn" in node.attr))
                )
            ):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert found == []
