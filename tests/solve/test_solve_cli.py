"""`envlock solve / check / show / export` end to end on the fixture indexes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from envlock import _toml
from fixtures.server import FixtureIndexServer, pytorch_lists_hash
from tests.solve.conftest import Run, target_block

Envlock = Callable[..., Run]

CLUSTER = (
    target_block("h100", gpus=("A100", "H100"), driver="550.54.15")
    + target_block("gh200", "linux-aarch64", ("GH200",), "570.86.10")
    + target_block("ci")
)


@pytest.fixture
def cluster(write_spec: Callable[..., Path]) -> Path:
    return write_spec(deps=("torch>=2.5,<2.8", "torchvision", "numpy<2"), targets=CLUSTER)


def test_solve_twice_gives_the_same_bytes(envlock: Envlock, cluster: Path) -> None:
    lock = cluster.parent / "envlock.lock"
    assert envlock("solve", "-s", str(cluster)).code == 0
    first = lock.read_bytes()
    lock.unlink()
    assert envlock("solve", "-s", str(cluster)).code == 0
    assert lock.read_bytes() == first
    assert "unchanged" in envlock("solve", "-s", str(cluster)).err


def test_solve_json_has_the_design_fields(envlock: Envlock, cluster: Path) -> None:
    run = envlock("solve", "-s", str(cluster), "--json")
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["lock-version"] == 1 and doc["spec-hash"].startswith("sha256:")
    fields = {
        "name",
        "platform",
        "python",
        "gpus",
        "driver",
        "variant",
        "cuda",
        "compat",
        "requires-driver",
        "cudnn",
        "nccl",
        "env-hash",
        "packages",
        "rejected",
    }
    h100 = doc["targets"][0]
    assert fields <= set(h100)
    assert h100["gpus"] == ["sm_80", "sm_90"]
    pkg = h100["packages"][0]
    assert {"name", "version", "index", "url", "sha256", "size"} <= set(pkg)
    assert len(pkg["sha256"]) == 64 and pkg["size"] > 0


def test_cuda_stack_comes_from_the_resolved_pins(envlock: Envlock, cluster: Path) -> None:
    doc = envlock("solve", "-s", str(cluster), "--json").json()
    for t in doc["targets"]:
        names = {p["name"]: p["version"] for p in t["packages"]}
        if t["variant"] == "cpu":
            assert t["cuda"] is None and not any(n.startswith("nvidia-") for n in names)
            continue
        runtime = next(v for n, v in names.items() if n.startswith("nvidia-cuda-runtime"))
        assert runtime.startswith(t["cuda"] + ".")
        assert names[next(n for n in names if n.startswith("nvidia-cudnn"))] == t["cudnn"]
        assert names[next(n for n in names if n.startswith("nvidia-nccl"))] == t["nccl"]


def test_torch_family_comes_from_the_variant_index(
    envlock: Envlock, cluster: Path, index_server: FixtureIndexServer
) -> None:
    doc = envlock("solve", "-s", str(cluster), "--json").json()
    h100 = doc["targets"][0]
    by_name = {p["name"]: p for p in h100["packages"]}
    variant_index = index_server.variant(h100["variant"])
    assert by_name["torch"]["index"] == variant_index
    assert by_name["torchvision"]["index"] == variant_index
    assert by_name["numpy"]["index"] == index_server.default


def test_files_without_index_hash_are_hashed_by_envlock(
    envlock: Envlock, cluster: Path, index_server: FixtureIndexServer
) -> None:
    envlock("solve", "-s", str(cluster))
    lock = _toml.loads((cluster.parent / "envlock.lock").read_text())
    seen_downloaded = 0
    for t in lock["targets"]:
        for p in t["packages"]:
            for a in p["artifacts"]:
                real = index_server.wheel(a["file"]).sha256
                assert a["sha256"] == real
                if a.get("hash-source") == "downloaded":
                    seen_downloaded += 1
                    assert not pytorch_lists_hash(a["file"])
    assert seen_downloaded > 0


def test_check_fresh_then_stale_with_reasons(envlock: Envlock, cluster: Path) -> None:
    assert envlock("solve", "-s", str(cluster)).code == 0
    run = envlock("check", "-s", str(cluster))
    assert run.code == 0, run.err
    text = cluster.read_text().replace('"numpy<2"', '"numpy<2", "filelock"').replace("550.54.15", "560.35.03")
    cluster.write_text(text)
    run = envlock("check", "-s", str(cluster))
    assert run.code == 1
    assert "+ filelock" in run.err
    assert "target h100: driver changed: 550.54.15 -> 560.35.03" in run.err


def test_check_catches_a_hand_edit(envlock: Envlock, cluster: Path) -> None:
    envlock("solve", "-s", str(cluster))
    lock = cluster.parent / "envlock.lock"
    lock.write_text(lock.read_text().replace('nccl = "2.21.5"', 'nccl = "2.21.6"', 1))
    run = envlock("check", "-s", str(cluster))
    assert run.code == 1
    assert "edited by hand" in run.err


def test_comments_in_the_spec_do_not_make_the_lock_stale(envlock: Envlock, cluster: Path) -> None:
    envlock("solve", "-s", str(cluster))
    cluster.write_text("# our cluster\n" + cluster.read_text())
    assert envlock("check", "-s", str(cluster)).code == 0


def test_solve_one_target_keeps_the_others(envlock: Envlock, cluster: Path) -> None:
    envlock("solve", "-s", str(cluster))
    before = envlock("show", "-l", str(cluster.parent / "envlock.lock"), "--json").json()
    run = envlock("solve", "-s", str(cluster), "--target", "ci")
    assert run.code == 0, run.err
    after = envlock("show", "-l", str(cluster.parent / "envlock.lock"), "--json").json()
    assert after == before
    assert envlock("solve", "-s", str(cluster), "--target", "nope").code == 2


def test_show_text_and_unknown_target(envlock: Envlock, cluster: Path) -> None:
    envlock("solve", "-s", str(cluster))
    lock = str(cluster.parent / "envlock.lock")
    run = envlock("show", "-l", lock)
    assert "h100" in run.out and "CUDA runtime" in run.out and "torch" in run.out
    bad = envlock("show", "-l", lock, "--target", "nope")
    assert bad.code == 2 and "targets in the lock: h100, gh200, ci" in bad.err


def test_exported_pylock_validates_and_installs(envlock: Envlock, cluster: Path, tmp_path: Path) -> None:
    from packaging.pylock import Pylock

    envlock("solve", "-s", str(cluster))
    out = tmp_path / "pylock.ci.toml"
    run = envlock(
        "export",
        "-l",
        str(cluster.parent / "envlock.lock"),
        "--target",
        "ci",
        "--format",
        "pylock",
        "-o",
        str(out),
    )
    assert run.code == 0, run.err
    with out.open("rb") as f:
        Pylock.from_dict(_toml.load(f)).validate()
    from envlock.resolvers.uv import uv_binary

    venv = tmp_path / "venv"
    subprocess.run([uv_binary(), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    proc = subprocess.run(
        [uv_binary(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "-r", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    got = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert got.endswith("+cpu")


def test_export_rejects_a_bad_pylock_name(envlock: Envlock, cluster: Path, tmp_path: Path) -> None:
    envlock("solve", "-s", str(cluster))
    run = envlock(
        "export",
        "-l",
        str(cluster.parent / "envlock.lock"),
        "--target",
        "ci",
        "--format",
        "pylock",
        "-o",
        str(tmp_path / "ci.toml"),
    )
    assert run.code == 2 and "pylock.ci.toml" in run.err


def test_export_requirements_has_every_hash(envlock: Envlock, cluster: Path) -> None:
    envlock("solve", "-s", str(cluster))
    run = envlock(
        "export", "-l", str(cluster.parent / "envlock.lock"), "--target", "h100", "--format", "requirements"
    )
    assert run.code == 0
    lines = [line for line in run.out.splitlines() if " @ " in line]
    hashes = [line for line in run.out.splitlines() if "--hash=sha256:" in line]
    assert len(lines) == len(hashes) > 5


def test_default_index_only_mode(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    # [indexes] pytorch = false: torch comes from the default index, whose plain x86_64 wheels
    # are CUDA builds (2.5.1 = cu124); the variant is read from the knowledge base.
    spec = write_spec(
        deps=("torch==2.5.1",),
        pytorch=False,
        targets=target_block("h100", gpus=("H100",), driver="550.54.15") + target_block("mac", "macos-arm64"),
    )
    run = envlock("solve", "-s", str(spec), "--json")
    assert run.code == 0, run.err
    h100, mac = run.json()["targets"]
    assert (h100["variant"], h100["torch"], h100["cuda"], h100["cudnn"]) == (
        "cu124",
        "2.5.1",
        "12.4",
        "9.1.0.70",
    )
    assert mac["variant"] == "cpu" and not mac["cuda"]


def test_default_index_only_cpu_linux_is_refused_with_a_hint(
    envlock: Envlock, write_spec: Callable[..., Path]
) -> None:
    spec = write_spec(deps=("torch==2.5.1",), pytorch=False, targets=target_block("ci"))
    run = envlock("solve", "-s", str(spec))
    assert run.code == 1
    assert "target is CPU-only" in run.err and "enable [indexes].pytorch" in run.err


def test_offline_answers_from_the_cache_and_fails_cold(envlock: Envlock, cluster: Path) -> None:
    assert envlock("solve", "-s", str(cluster)).code == 0
    lock = cluster.parent / "envlock.lock"
    first = lock.read_bytes()
    lock.unlink()
    run = envlock("solve", "-s", str(cluster), "--offline")
    assert run.code == 0, run.err
    assert lock.read_bytes() == first


def test_offline_cold_cache_exits_3(envlock: Envlock, cluster: Path) -> None:
    run = envlock("solve", "-s", str(cluster), "--offline")
    assert run.code == 3
    assert "offline" in run.err


def test_index_failure_exits_3(
    envlock: Envlock, write_spec: Callable[..., Path], index_server: FixtureIndexServer, tmp_path: Path
) -> None:
    spec = write_spec(targets=target_block("ci"))
    spec.write_text(
        spec.read_text().replace(index_server.pytorch, index_server.fault("500", "whl").rstrip("/"))
    )
    run = envlock("solve", "-s", str(spec))
    assert run.code == 3, run.err
    assert "500" in run.err


def test_garbage_index_exits_3_with_the_url(
    envlock: Envlock, write_spec: Callable[..., Path], index_server: FixtureIndexServer
) -> None:
    spec = write_spec(targets=target_block("ci"))
    spec.write_text(
        spec.read_text().replace(index_server.pytorch, index_server.fault("garbage-html", "whl").rstrip("/"))
    )
    run = envlock("solve", "-s", str(spec))
    assert run.code == 3, run.err
    assert "/fault/garbage-html/" in run.err


def test_yanked_only_versions_are_not_locked(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(deps=("yankedpkg==1.0.0",), targets=target_block("ci"))
    run = envlock("solve", "-s", str(spec))
    assert run.code == 1
    assert "yanked" in run.err


def test_exclude_newer_is_honoured(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        deps=("torch==2.7.1", "freshpkg"),
        targets=target_block("ci"),
        extra='\n[resolution]\nexclude-newer = "2026-11-01T00:00:00Z"\n',
    )
    run = envlock("solve", "-s", str(spec), "--json")
    assert run.code == 0, run.err
    fresh = next(p for p in run.json()["targets"][0]["packages"] if p["name"] == "freshpkg")
    assert fresh["version"] == "1.0.0"


def test_spec_errors_exit_2_with_file_and_line(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(targets=target_block("h100", gpus=("H1000",), driver="550.54.15"))
    run = envlock("solve", "-s", str(spec))
    assert run.code == 2
    assert "envlock.toml:" in run.err and "gpus" in run.err and "H100" in run.err


def test_no_spec_here_exits_2(envlock: Envlock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = envlock("solve")
    assert run.code == 2 and "hint:" in run.err


def test_pip_tools_backend_agrees_with_uv(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    # pip resolves only for the host: a CPU target on this machine's platform and Python.
    from envlock.resolvers.piptools import host_target

    platform, python = host_target()
    spec = write_spec(deps=("torch==2.7.1", "numpy<2"), python=python, targets=target_block("host", platform))
    uv = envlock("solve", "-s", str(spec), "-o", str(tmp_path / "uv.lock"), "--json")
    pt = envlock(
        "solve", "-s", str(spec), "-o", str(tmp_path / "pt.lock"), "--json", "--resolver", "pip-tools"
    )
    assert uv.code == 0, uv.err
    assert pt.code == 0, pt.err
    strip = [
        {k: v for k, v in t.items() if k != "packages"}
        | {"packages": [(p["name"], p["version"], p["sha256"]) for p in t["packages"]]}
        for t in uv.json()["targets"]
    ]
    strip_pt = [
        {k: v for k, v in t.items() if k != "packages"}
        | {"packages": [(p["name"], p["version"], p["sha256"]) for p in t["packages"]]}
        for t in pt.json()["targets"]
    ]
    assert strip == strip_pt


def test_pip_tools_refuses_foreign_targets(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(targets=target_block("mac", "macos-arm64"))
    run = envlock("solve", "-s", str(spec), "--resolver", "pip-tools")
    assert run.code == 2 and "--resolver uv" in run.err


def test_json_error_form(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(targets=target_block("b200", gpus=("B200",), driver="560.35.03"))
    doc = json.loads(envlock("solve", "-s", str(spec), "--json").out)
    assert set(doc["error"]) >= {"kind", "message", "targets"}


def test_credentials_never_reach_the_lock(
    envlock: Envlock, write_spec: Callable[..., Path], index_server: FixtureIndexServer
) -> None:
    from fixtures.catalog import PRIVATE_PASSWORD

    spec = write_spec(deps=("privpkg",), targets=target_block("ci"))
    text = spec.read_text().replace(
        f'default = "{index_server.default}"', f'default = "{index_server.private_with_credentials}"'
    )
    spec.write_text(text)
    run = envlock("solve", "-s", str(spec))
    assert run.code == 0, run.err
    lock = (spec.parent / "envlock.lock").read_text()
    assert PRIVATE_PASSWORD not in lock and PRIVATE_PASSWORD not in run.err
    assert index_server.private in lock
    assert envlock("check", "-s", str(spec)).code == 0


def test_partial_solve_refuses_when_the_spec_changed_elsewhere(envlock: Envlock, cluster: Path) -> None:
    assert envlock("solve", "-s", str(cluster), "--target", "ci").code == 2  # no lock yet
    assert envlock("solve", "-s", str(cluster)).code == 0
    cluster.write_text(cluster.read_text().replace('"numpy<2"', '"numpy<2", "filelock"'))
    run = envlock("solve", "-s", str(cluster), "--target", "ci")
    assert run.code == 2
    assert "+ filelock" in run.err and "without --target" in run.err
    assert envlock("check", "-s", str(cluster)).code == 1


def test_partial_solve_refuses_a_hand_edited_lock(envlock: Envlock, cluster: Path) -> None:
    envlock("solve", "-s", str(cluster))
    lock = cluster.parent / "envlock.lock"
    lock.write_text(lock.read_text().replace("http://127.0.0.1", "https://evil.example", 1))
    run = envlock("solve", "-s", str(cluster), "--target", "ci")
    assert run.code == 1 and "edited by hand" in run.err
    assert "evil.example" in lock.read_text()  # left for the user to look at, not sealed over


def test_pip_tools_refuses_exclude_newer(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    from envlock.resolvers.piptools import host_target

    platform, python = host_target()
    spec = write_spec(
        deps=("freshpkg",),
        python=python,
        targets=target_block("host", platform),
        extra='\n[resolution]\nexclude-newer = "2026-11-01T00:00:00Z"\n',
    )
    run = envlock("solve", "-s", str(spec), "--resolver", "pip-tools")
    assert run.code == 2 and "exclude-newer" in run.err


def test_torch_fix_points_towards_what_exists(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(deps=("torch<2.3",), targets=target_block("h100", gpus=("H100",), driver="580.95.05"))
    run = envlock("solve", "-s", str(spec))
    assert run.code == 1
    assert "torch >= 2.5" in run.err and "torch <= " not in run.err


def test_progress_on_a_terminal_and_silence_in_a_pipe(cluster: Path) -> None:
    import os
    import pty

    cmd = [sys.executable, "-m", "envlock", "solve", "-s", str(cluster)]
    piped = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert piped.returncode == 0, piped.stderr
    assert "looking up torch variants" not in piped.stderr
    leader, follower = pty.openpty()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=follower, check=False)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.returncode == 0
    shown = b"".join(chunks).decode()
    assert "h100: looking up torch variants" in shown
    assert "h100: locking cu124" in shown or "h100: locking" in shown
