"""Write a new spec, or edit the dependencies of one, keeping the user's comments and layout.

Pure text in, text out: `envlock.cli` reads and writes the files. Editing goes through tomlkit,
which keeps comments, blank lines, key order and quoting of everything it does not touch (the
lock writer stays hand-written; see README "Dependencies, and why").

Choices: `add` puts a requirement for a package that is already listed in place of the old one
(keeping its position and comment, as `uv add` does) and appends new ones; in pyproject.toml both
commands edit `[tool.envlock.env].dependencies`, the env's own list, and never `[project]`, which
describes the package rather than the environment.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Array, Table

from envlock.errors import SpecError, UsageError


@dataclass(frozen=True, slots=True, kw_only=True)
class InitTarget:
    """The target `init` writes: this node's kind, or a CPU-only one."""

    name: str
    platform: str
    gpus: tuple[str, ...]
    driver: str | None
    glibc: str | None  # this node's glibc, written as a commented suggestion


@dataclass(frozen=True, slots=True, kw_only=True)
class Edit:
    """The new text of a spec and what changed, for the message."""

    text: str
    added: tuple[str, ...] = ()
    replaced: tuple[tuple[str, str], ...] = ()  # (old, new)
    removed: tuple[str, ...] = ()


def _q(text: str) -> str:
    return json.dumps(text)  # a TOML basic string for this text


def render_init(*, name: str, python: str, target: InitTarget, from_node: bool) -> str:
    """The text of a new, commented envlock.toml."""
    lines = [
        "# envlock spec: what the environment needs. `envlock solve` turns it into envlock.lock;",
        "# `envlock add PKG` and `envlock remove PKG` edit the dependencies and keep these comments.",
        "",
        "[env]",
        f"name = {_q(name)}",
        "# X.Y, or X.Yt for a free-threaded build",
        f"python = {_q(python)}",
        '# PEP 508 requirements, e.g. "torch>=2.5,<2.8", "numpy<2"',
        "dependencies = []",
        "",
        "# Constraints on what the lock pins, all optional:",
        "# [cuda]",
        '# version = ">=12.1"               # the CUDA runtime X.Y',
        '# driver-compat = "prefer-native"  # or "native", "minor-version"',
        "# allow-mixed = []                 # packages allowed to carry another CUDA major",
        "",
    ]
    if from_node:
        lines.append("# The node `envlock init --from-node` ran on; add a [[target]] per other kind of node.")
    else:
        lines.append("# One [[target]] per kind of node the lock must serve.")
    lines += [
        "[[target]]",
        f"name = {_q(target.name)}",
        "# linux-x86_64 | linux-aarch64 | windows-amd64 | macos-arm64",
        f"platform = {_q(target.platform)}",
    ]
    if target.glibc:
        lines.append(f"# the oldest glibc on these nodes (default 2.28); this node has {target.glibc}")
        lines.append(f"# glibc = {_q(target.glibc)}")
    if target.gpus:
        lines.append("# GPU names or architectures (sm_XY)")
        lines.append("gpus = [" + ", ".join(_q(g) for g in target.gpus) + "]")
        lines.append("# the lowest NVIDIA driver on these nodes, as nvidia-smi prints it")
        lines.append(f"driver = {_q(target.driver or '')}")
    else:
        lines += [
            "# GPU names or architectures (sm_XY), and the lowest driver; none = a CPU-only target",
            '# gpus = ["H100"]',
            '# driver = "550.54.15"',
        ]
    lines += [
        "",
        "# Indexes: by default those of your uv/pip configuration, plus the PyTorch variant indexes.",
        "# [indexes]",
        '# extra = ["https://pypi.nvidia.com"]',
        "",
    ]
    return "\n".join(lines)


def _parse(text: str, display: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise SpecError(
            f"{display}: not valid TOML ({exc})", hint="fix the spec first (`envlock solve` locates errors)"
        ) from exc


def _env_table(doc: tomlkit.TOMLDocument, pyproject: bool, display: str) -> Table:
    container: object = doc
    label = "[env]"
    if pyproject:
        tool = doc.get("tool")
        container = tool.get("envlock") if isinstance(tool, Table) else None
        label = "[tool.envlock.env]"
        if not isinstance(container, Table):
            raise SpecError(
                f"{display}: no [tool.envlock] table",
                hint="add [tool.envlock.env] and [[tool.envlock.target]], or run `envlock init`",
            )
    env = container.get("env") if isinstance(container, (Table, tomlkit.TOMLDocument)) else None
    if not isinstance(env, Table):
        raise SpecError(f"{display}: no {label} table", hint=f"add {label} (or run `envlock init`)")
    return env


def _requirements(texts: Sequence[str]) -> list[Requirement]:
    out = []
    for text in texts:
        try:
            out.append(Requirement(text))
        except InvalidRequirement as exc:
            raise UsageError(
                f"{text!r} is not a PEP 508 requirement ({exc})",
                hint='write it like "torch>=2.5,<2.8" or "numpy<2" (quote it for the shell)',
            ) from None
    return out


def _dependency_array(env: Table) -> Array:
    deps = env.get("dependencies")
    if deps is None:
        deps = tomlkit.array()
        deps.multiline(True)
        env["dependencies"] = deps
        deps = env["dependencies"]
    if not isinstance(deps, Array):
        raise SpecError("dependencies is not a list", hint="make it a list of requirement strings")
    if deps.as_string().replace(" ", "") == "[]":
        deps.multiline(True)  # one requirement a line, so that later diffs are one line each
    return deps


def add_dependencies(text: str, requirements: Sequence[str], *, pyproject: bool, display: str) -> Edit:
    """`text` with `requirements` added to the env's dependencies (a listed package is replaced)."""
    wanted = _requirements(requirements)
    doc = _parse(text, display)
    deps = _dependency_array(_env_table(doc, pyproject, display))
    added: list[str] = []
    replaced: list[tuple[str, str]] = []
    for req, written in zip(wanted, requirements, strict=True):
        name = canonicalize_name(req.name)
        at = next(
            (i for i, d in enumerate(deps) if isinstance(d, str) and _name_of(d) == name),
            None,
        )
        if at is None:
            deps.append(written)
            added.append(written)
        elif str(deps[at]) != written:
            replaced.append((str(deps[at]), written))
            deps[at] = written
    return Edit(text=tomlkit.dumps(doc), added=tuple(added), replaced=tuple(replaced))


def remove_dependencies(text: str, names: Sequence[str], *, pyproject: bool, display: str) -> Edit:
    """`text` without the env's dependencies on `names`. UsageError names what is not listed."""
    doc = _parse(text, display)
    env = _env_table(doc, pyproject, display)
    deps = env.get("dependencies")
    listed = [d for d in deps if isinstance(d, str)] if isinstance(deps, Array) else []
    wanted = {canonicalize_name(n) for n in names}
    missing = sorted(str(n) for n in wanted if not any(_name_of(d) == n for d in listed))
    if missing:
        where = "[tool.envlock.env].dependencies" if pyproject else "[env].dependencies"
        hint = "listed: " + (", ".join(listed) if listed else "nothing")
        if pyproject:
            hint += "; requirements from [project] are edited in [project] itself"
        raise UsageError(f"{', '.join(missing)}: not in {where} of {display}", hint=hint)
    assert isinstance(deps, Array)
    removed: list[str] = []
    for i in reversed(range(len(deps))):
        item = deps[i]
        if isinstance(item, str) and _name_of(item) in wanted:
            removed.append(str(item))
            del deps[i]
    return Edit(text=tomlkit.dumps(doc), removed=tuple(reversed(removed)))


def _name_of(requirement: str) -> str | None:
    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return None
