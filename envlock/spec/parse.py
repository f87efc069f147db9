"""Read an env spec (`envlock.toml`, or `[tool.envlock]` in `pyproject.toml`) into a validated `Spec`.

The format is architecture.md §3, plus keys of envlock's own:

    [cuda]
    allow-ptx = false                    # count PTX as covering newer GPUs (only under a native driver)
    trust-inferred-archs = false         # trust a borrowed knowledge-base row for old GPUs (see README)
    [resolution]
    knowledge-base = ["private.toml"]    # extra knowledge-base files, relative to the spec file

and, of the second wave, `[resolution] build = "never" | "allowed" | ["names"]` (may sdists and source
trees of direct references be built; default "never") and `[resolution] uniform = false` (true: one
version of torch and of every package shared by several targets).

Choices where the design is open: at least one `[[target]]` is required and `platform` is required in each;
a `driver` on a target without GPUs is allowed and kept; `driver` is a quoted full version (two or more
parts, `envlock.spec.driver`), never a branch alone (`"550"`, `580`) nor a float (550.54 would lose
digits); a platform alias (`linux-amd64`, `arm64`, `win`) is an error that suggests the canonical name,
not mapped silently; `exclude-newer` accepts an RFC 3339 timestamp with a zone (TOML datetime or string)
or a bare date (midnight UTC), and is normalized to `YYYY-MM-DDTHH:MM:SSZ`; index URLs lose a trailing
slash.

In pyproject.toml, `[project].dependencies` are part of the env, `[tool.envlock.env] extras = [...]` and
`groups = [...]` add `[project.optional-dependencies]` sets and PEP 735 `[dependency-groups]`, and
`[tool.envlock.env].name` defaults to `[project].name`. `[cuda] allow-mixed` names packages that may
carry another CUDA major than the rest of the set.

Every error is a `SpecError` whose message reads `<file>:<line>: <key.path>: <what is wrong>, expected
<what>`, with a hint (a did-you-mean or what to do).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidName, canonicalize_name

from envlock import _toml
from envlock.display import redact_url
from envlock.errors import SpecError
from envlock.kb import KnowledgeBase, load_kb
from envlock.kb.toolkit import NVIDIA_INDEX, TOOLKIT_SOURCES
from envlock.platforms import suggest_platforms
from envlock.spec.driver import EXPECTED as DRIVER_EXPECTED
from envlock.spec.driver import driver_problem
from envlock.spec.model import (
    BUILD_POLICIES,
    DEFAULT_GLIBC,
    DRIVER_COMPAT_MODES,
    PLATFORMS,
    CondaSpec,
    CudaConstraints,
    GpuRequest,
    ImageSettings,
    IndexSettings,
    Spec,
    TargetSpec,
)
from envlock.spec.source_map import SourceMap
from envlock.tables import TableReader, did_you_mean, show

SPEC_FILE = "envlock.toml"
PYPROJECT_FILE = "pyproject.toml"
DEFAULT_PYTORCH_INDEX = "https://download.pytorch.org/whl"
SPEC_VERSION = 1

_ROOT_KEYS = ("env", "cuda", "target", "indexes", "resolution", "conda", "image")
_CONDA_KEYS = ("channels", "dependencies")
_ENV_KEYS = ("name", "python", "dependencies", "interpreter", "extras", "groups")
_CUDA_KEYS = (
    "version",
    "cudnn",
    "nccl",
    "driver-compat",
    "allow-ptx",
    "toolkit",
    "toolkit-source",
    "allow-mixed",
    "trust-inferred-archs",
)
_TARGET_KEYS = ("name", "platform", "glibc", "gpus", "driver")
_INDEX_KEYS = ("default", "pytorch", "extra", "nvidia", "nvidia-redist")
_RESOLUTION_KEYS = ("exclude-newer", "knowledge-base", "build", "uniform")
_IMAGE_KEYS = ("base", "user", "workdir", "env", "entrypoint", "labels")
_IMAGE_TRANSPORTS = ("docker://", "oci:", "oci-archive:")

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PYTHON_RE = re.compile(r"^(\d{1,2})\.(\d{1,2})(t?)$")  # two digits at most: tags are listed per minor
_GLIBC_RE = re.compile(r"^\d{1,2}\.\d{1,2}$")
_INDEX_RE = re.compile(r"\[\d+\]$")
_NAME_EXPECTED = 'lower-case letters, digits and dashes, starting with a letter or digit (like "vit-train")'
_TARGET_EXAMPLE = (
    '[[target]]\nname = "h100"\nplatform = "linux-x86_64"\ngpus = ["H100"]\ndriver = "550.54.15"'
)


def find_spec(start: Path) -> Path:
    """The spec to use from `start`: the file itself, or in the directory `envlock.toml`, else a
    `pyproject.toml` with a `[tool.envlock]` table. Raises SpecError with a hint when there is none."""
    if start.is_file():
        return start
    candidate = start / SPEC_FILE
    if candidate.is_file():
        return candidate
    pyproject = start / PYPROJECT_FILE
    if pyproject.is_file():
        try:
            data = _toml.load(pyproject)
        except (OSError, ValueError):
            data = {}
        tool = data.get("tool")
        if isinstance(tool, dict) and "envlock" in tool:
            return pyproject
    raise SpecError(
        f"no {SPEC_FILE} (or {PYPROJECT_FILE} with [tool.envlock]) in {_display(start)}",
        hint=f"create {SPEC_FILE} with [env] and [[target]] tables, or pass -s PATH to a spec",
    )


def load_spec(path: Path, kb: KnowledgeBase | None = None) -> Spec:
    """Parse and validate the spec at `path` (envlock.toml, or pyproject.toml's [tool.envlock]).

    GPU names resolve through `kb`; by default the built-in knowledge base plus the files named in
    `[resolution] knowledge-base`. Raises SpecError for anything malformed.
    """
    display = _display(path)
    from envlock.inputfile import MAX_SPEC_BYTES, InputFileError, read_input

    try:
        text = read_input(path, limit=MAX_SPEC_BYTES, what="spec")
    except InputFileError as exc:
        raise SpecError(
            str(exc), hint="pass the envlock.toml (or pyproject.toml) of the project with -s"
        ) from exc
    except OSError as exc:
        raise SpecError(
            f"{display}: cannot read the spec: {exc.strerror or exc}",
            hint="check the path, or run `envlock` in the directory holding envlock.toml",
        ) from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"{display}: the spec is not UTF-8 text", hint="save it as UTF-8") from exc
    try:
        raw = _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        pos = _toml.error_position(exc)
        line, col = pos if pos else (1, 1)
        raise SpecError(
            f"{display}:{line}: not valid TOML: {_toml.error_text(exc)} (line {line}, column {col})",
            hint="fix the TOML syntax at that position",
            details={"file": display, "line": line, "column": col},
        ) from exc
    prefix = ""
    if path.name == PYPROJECT_FILE:
        tool = raw.get("tool")
        if not isinstance(tool, dict) or not isinstance(tool.get("envlock"), dict):
            raise SpecError(
                f"{display}:1: tool.envlock: missing, expected a [tool.envlock] table",
                hint=f"add [tool.envlock.env] and [[tool.envlock.target]] tables, or use {SPEC_FILE}",
                details={"file": display, "line": 1, "key": "tool.envlock"},
            )
        document = raw
        raw = tool["envlock"]
        prefix = "tool.envlock"
        return _SpecReader(path, display, SourceMap(text), prefix, document).spec(raw, kb)
    return _SpecReader(path, display, SourceMap(text), prefix).spec(raw, kb)


def spec_hash(spec: Spec) -> str:
    """ "sha256:<hex>" over a canonical JSON form of the normalized spec.

    Formatting, comments, key order, GPU spelling ("H100" vs "sm_90") and dependency order do not change
    it; any value that can change the lock does.
    """
    base = spec.source.parent
    document: dict[str, object] = {
        "spec-version": SPEC_VERSION,
        "name": spec.name,
        "python": spec.python,
        "dependencies": sorted(str(Requirement(d)) for d in spec.dependencies),
        "cuda": {
            "version": spec.cuda.version,
            "cudnn": spec.cuda.cudnn,
            "nccl": spec.cuda.nccl,
            "driver-compat": spec.cuda.driver_compat,
            "allow-ptx": spec.cuda.allow_ptx,
        }
        # written only when set, so that specs without it keep the hash they always had
        | ({"allow-mixed": list(spec.cuda.allow_mixed)} if spec.cuda.allow_mixed else {})
        # toolkit keys only when used, so that specs without them keep their hash
        | (
            {"toolkit": list(spec.cuda.toolkit), "toolkit-source": spec.cuda.toolkit_source}
            if spec.cuda.toolkit
            else {}
        )
        # only when set, so that the hash of every spec without it stays what it was
        | ({"trust-inferred-archs": True} if spec.cuda.trust_inferred_archs else {}),
        "targets": [
            {
                "name": t.name,
                "platform": t.platform,
                "glibc": t.glibc,
                "gpus": [cc.sm for cc in t.archs],
                "driver": t.driver,
            }
            for t in spec.targets
        ],
        "indexes": {
            "default": spec.indexes.default,
            "pytorch": spec.indexes.pytorch,
            "extra": list(spec.indexes.extra),
        }
        | ({"nvidia-redist": spec.indexes.nvidia_redist} if spec.indexes.nvidia_redist else {}),
        "exclude-newer": spec.exclude_newer,
        "knowledge-base": [_relative(p, base) for p in spec.knowledge_base],
    }
    # Keys added later enter the hash only when set, so that older specs keep their hash.
    if spec.build != "never":
        document["build"] = spec.build if isinstance(spec.build, str) else list(spec.build)
    if spec.uniform:
        document["uniform"] = True
    if spec.conda is not None:  # only when present, so that specs without it keep their hash
        document["conda"] = {
            "channels": list(spec.conda.channels),
            "dependencies": list(spec.conda.dependencies),
        }
    if spec.interpreter != "system":  # absent by default, so that older specs keep their hash
        document["interpreter"] = spec.interpreter
    if spec.image is not None:  # only then: specs without [image] keep their hashes
        document["image"] = {
            "base": spec.image.base,
            "user": spec.image.user,
            "workdir": spec.image.workdir,
            "env": dict(spec.image.env),
            "entrypoint": list(spec.image.entrypoint) if spec.image.entrypoint is not None else None,
            "labels": dict(spec.image.labels),
        }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class _SpecReader(TableReader):
    """Validates one parsed spec; `fail` builds the located error for a key path."""

    def __init__(
        self,
        path: Path,
        display: str,
        source_map: SourceMap,
        prefix: str,
        document: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.display = display
        self.map = source_map
        self.prefix = prefix
        # the whole pyproject.toml, for [project] and [dependency-groups]; None for envlock.toml
        self.document = document

    def key(self, path: str) -> str:
        return f"{self.prefix}.{path}" if self.prefix else path

    def fail(
        self,
        path: str,
        what: str,
        expected: str,
        hint: str | None = None,
        line_of: str | None = None,
        *,
        absolute: bool = False,
    ) -> SpecError:
        """The located error for `path` (below the spec's table; `absolute`: a path of the whole file)."""
        full = path if absolute else self.key(path)
        line = self.map.line((line_of if absolute else self.key(line_of)) if line_of else full)
        return SpecError(
            f"{self.display}:{line}: {full}: {what}, expected {expected}",
            hint=hint,
            details={"file": self.display, "line": line, "key": full},
        )

    # -- the document ---------------------------------------------------------------------------

    def spec(self, raw: Mapping[str, Any], kb: KnowledgeBase | None) -> Spec:
        self.check_keys("", raw, _ROOT_KEYS)
        env = self.table("env", raw, required=True)
        self.check_keys("env", env, _ENV_KEYS)
        resolution = self.table("resolution", raw)
        self.check_keys("resolution", resolution, _RESOLUTION_KEYS)
        knowledge = self.knowledge_base(resolution)
        if kb is None:
            kb = load_kb(knowledge)
        return Spec(
            source=self.path,
            name=self.env_name(env),
            python=self.python(env),
            dependencies=(*self.project_dependencies(env), *self.dependencies(env)),
            cuda=self.cuda(self.table("cuda", raw)),
            targets=self.targets(raw, kb),
            indexes=self.indexes(self.table("indexes", raw)),
            exclude_newer=self.exclude_newer(resolution),
            knowledge_base=knowledge,
            build=self.build_policy(resolution),
            uniform=self.uniform(resolution),
            conda=self.conda(raw),
            interpreter=self.interpreter(env),
            image=self.image(raw),
        )

    # -- [conda] --------------------------------------------------------------------------------

    def conda(self, raw: Mapping[str, Any]) -> CondaSpec | None:
        if "conda" not in raw:
            return None
        table = self.table("conda", raw)
        self.check_keys("conda", table, _CONDA_KEYS)
        if "channels" not in table:
            raise self.fail("conda.channels", "is missing", 'a list of channels like ["conda-forge"]')
        expected = 'channel names or URLs like "conda-forge"'
        channels = self.strings("conda.channels", table["channels"], expected)
        if not channels:
            raise self.fail("conda.channels", "is empty", "at least one channel")
        for i, channel in enumerate(channels):
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9_.-]+)*", channel):
                self.url(f"conda.channels[{i}]", channel)
        specs = self.strings(
            "conda.dependencies", table.get("dependencies", []), 'conda match specs like "python 3.11.*"'
        )
        for i, text in enumerate(specs):
            if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*( ?[^\s].*)?", text):
                what = f"{show(text)} is not a conda match spec"
                raise self.fail(f"conda.dependencies[{i}]", what, 'like "openmpi 4.*"')
        return CondaSpec(channels=tuple(channels), dependencies=tuple(specs))

    # -- [image] --------------------------------------------------------------------------------

    def image(self, raw: Mapping[str, Any]) -> ImageSettings | None:
        if "image" not in raw:
            return None
        table = self.table("image", raw)
        self.check_keys("image", table, _IMAGE_KEYS)
        base = None
        if "base" in table:
            expected = (
                'an image reference like "docker://nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04@sha256:..."'
            )
            base = self.string("image.base", table["base"], expected)
            if not base.startswith(_IMAGE_TRANSPORTS):
                raise self.fail("image.base", f"{show(base)} has no known transport", expected)
        workdir = None
        if "workdir" in table:
            workdir = self.string("image.workdir", table["workdir"], "an absolute path inside the image")
            if not workdir.startswith("/"):
                raise self.fail("image.workdir", f"{show(workdir)} is not absolute", "an absolute path")
        return ImageSettings(
            base=base,
            user=self.string("image.user", table["user"], '"UID:GID" like "1000:1000"')
            if "user" in table
            else None,
            workdir=workdir,
            env=self.string_table("image.env", table.get("env", {})),
            entrypoint=tuple(self.strings("image.entrypoint", table["entrypoint"], "strings"))
            if "entrypoint" in table
            else None,
            labels=self.string_table("image.labels", table.get("labels", {})),
        )

    def string_table(self, path: str, value: object) -> tuple[tuple[str, str], ...]:
        if not isinstance(value, dict):
            raise self.fail(path, f"{show(value)} is not a table", "a table of strings")
        return tuple(sorted((str(k), self.string(f"{path}.{k}", v, "a string")) for k, v in value.items()))

    # -- generic checks -------------------------------------------------------------------------

    def table_name(self, path: str) -> str:
        return self.key(path)

    def keys_place(self, path: str) -> str:
        if not path:
            return "the top level"
        if path.endswith("]"):
            return f"[[{self.key(_INDEX_RE.sub('', path))}]]"
        return f"[{self.key(path)}]"

    def table(self, path: str, raw: Mapping[str, Any], *, required: bool = False) -> Mapping[str, Any]:
        if required and path not in raw:
            raise self.fail(path, "missing", f"a [{self.key(path)}] table", hint=self.env_hint())
        return super().table(path, raw)

    def string(self, path: str, value: object, expected: str) -> str:
        if not isinstance(value, str):
            hint = (
                f'quote it: {path.rpartition(".")[2]} = "{value}"'
                if isinstance(value, (int, float))
                else None
            )
            raise self.fail(path, f"{show(value)} is not a string", expected, hint=hint)
        if not value.strip():
            raise self.fail(path, "is empty", expected)
        return value.strip()

    def strings(self, path: str, value: object, expected: str) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(path, f"{show(value)} is not a list", f"a list of {expected}")
        return [self.string(f"{path}[{i}]", v, expected) for i, v in enumerate(value)]

    def choice(self, path: str, value: object, choices: Sequence[str]) -> str:
        expected = "one of " + ", ".join(f'"{c}"' for c in choices)
        text = self.string(path, value, expected)
        if text not in choices:
            raise self.fail(
                path, f"{show(text)} is not allowed", expected, hint=did_you_mean(text, choices, cutoff=0.4)
            )
        return text

    # -- [env] ----------------------------------------------------------------------------------

    def name(self, path: str, table: Mapping[str, Any]) -> str:
        leaf = path.rpartition(".")[2]
        if leaf not in table:
            raise self.fail(path, "missing", _NAME_EXPECTED, line_of=path.rpartition(".")[0])
        text = self.string(path, table[leaf], _NAME_EXPECTED)
        if not _NAME_RE.match(text):
            suggestion = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
            hint = f'try "{suggestion}"' if suggestion and _NAME_RE.match(suggestion) else None
            raise self.fail(path, f"{show(text)} is not a valid name", _NAME_EXPECTED, hint=hint)
        return text

    def env_hint(self) -> str:
        head = f"[{self.key('env')}]"
        if self.document is not None:
            return (
                f'add\n{head}\npython = "3.11"\n'
                "(name and dependencies come from [project] unless written here)"
            )
        return f'start the spec with\n{head}\nname = "my-env"\npython = "3.11"\ndependencies = ["torch"]'

    def env_name(self, env: Mapping[str, Any]) -> str:
        """`[env].name`; in pyproject.toml it defaults to `[project].name`, normalized."""
        if "name" not in env and self.document is not None:
            project = self.document.get("project")
            written: object = project.get("name") if isinstance(project, dict) else None
            if isinstance(written, str) and written.strip():
                text = re.sub(r"[^a-z0-9-]+", "-", written.strip().lower()).strip("-")
                if _NAME_RE.match(text):
                    return text
        return self.name("env.name", env)

    def project_dependencies(self, env: Mapping[str, Any]) -> list[str]:
        """What pyproject.toml's own tables contribute: `[project].dependencies` always, the
        optional-dependency sets named in `extras`, the PEP 735 groups named in `groups`."""
        if self.document is None:
            for key in ("extras", "groups"):
                if key in env:
                    raise self.fail(
                        f"env.{key}",
                        "is only read from pyproject.toml",
                        "dependencies listed in [env].dependencies",
                        hint="move the spec into pyproject.toml as [tool.envlock], or list the packages "
                        "in [env].dependencies",
                    )
            return []
        project = self.document.get("project", {})
        if not isinstance(project, dict):
            project = {}
        own = str(canonicalize_name(project["name"])) if isinstance(project.get("name"), str) else None
        out: list[str] = []
        if "dependencies" in project:
            out += self.requirement_list("project.dependencies", project["dependencies"])
        optional = project.get("optional-dependencies", {})
        optional = optional if isinstance(optional, dict) else {}
        by_name = {str(canonicalize_name(k)): k for k in optional}
        wanted_extras = (
            [
                (f"env.extras[{i}]", x)
                for i, x in enumerate(self.strings("env.extras", env["extras"], "extra names"))
            ]
            if "extras" in env
            else []
        )
        seen: set[str] = set()
        while wanted_extras:
            where, extra = wanted_extras.pop(0)
            found = by_name.get(str(canonicalize_name(extra)))
            if found is None:
                known = ", ".join(sorted(optional)) or "none"
                raise self.fail(
                    where,
                    f'"{extra}" is not in [project.optional-dependencies]',
                    f"one of its keys ({known})",
                    hint=did_you_mean(extra, list(optional)),
                )
            if found in seen:
                continue
            seen.add(found)
            for req in self.requirement_list(f"project.optional-dependencies.{found}", optional[found]):
                parsed = Requirement(req)
                if own is not None and canonicalize_name(parsed.name) == own:
                    # `mypkg[train]` inside mypkg's own extras: the extras it names, not the package
                    wanted_extras += [(where, x) for x in sorted(parsed.extras)]
                else:
                    out.append(req)
        if "groups" in env:
            names = self.strings("env.groups", env["groups"], "dependency group names")
            for i, group in enumerate(names):
                out += self.dependency_group(f"env.groups[{i}]", group, ())
        return out

    def dependency_group(self, where: str, group: str, chain: tuple[str, ...]) -> list[str]:
        groups = self.document.get("dependency-groups", {}) if self.document is not None else {}
        groups = groups if isinstance(groups, dict) else {}
        by_name = {str(canonicalize_name(k)): k for k in groups}
        key = by_name.get(str(canonicalize_name(group)))
        if key is None:
            known = ", ".join(sorted(groups)) or "none"
            raise self.fail(where, f'"{group}" is not in [dependency-groups]', f"one of its keys ({known})")
        if key in chain:
            raise self.fail(
                f"dependency-groups.{key}",
                "includes itself (" + " -> ".join((*chain, key)) + ")",
                "groups that do not include each other in a circle",
                absolute=True,
            )
        items = groups[key]
        if not isinstance(items, list):
            raise self.fail(f"dependency-groups.{key}", "is not a list", "a list", absolute=True)
        out: list[str] = []
        for i, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get("include-group"), str):
                out += self.dependency_group(where, item["include-group"], (*chain, key))
            else:
                out += self.requirement_list(f"dependency-groups.{key}", [item], start=i)
        return out

    def requirement_list(self, path: str, value: object, start: int = 0) -> list[str]:
        """PEP 508 strings of a table outside [tool.envlock] (`path` is a path of the whole file)."""
        if not isinstance(value, list):
            raise self.fail(path, f"{show(value)} is not a list", "a list of requirements", absolute=True)
        out = []
        for i, text in enumerate(value, start=start):
            try:
                if not isinstance(text, str):
                    raise InvalidRequirement("not a string")
                Requirement(text)
            except InvalidRequirement as exc:
                raise self.fail(
                    f"{path}[{i}]",
                    f"{show(text)} is not a PEP 508 requirement ({exc})",
                    'a requirement like "torch>=2.5,<2.8"',
                    absolute=True,
                ) from None
            out.append(text)
        return out

    def python(self, env: Mapping[str, Any]) -> str:
        expected = 'X.Y like "3.11" (or "3.13t" for a free-threaded build)'
        if "python" not in env:
            raise self.fail("env.python", "missing", expected, line_of="env")
        value = env["python"]
        if isinstance(value, float):
            raise self.fail(
                "env.python",
                f"{value!r} is a number",
                f"a quoted string, {expected}",
                hint='quote it: python = "3.11" (a number cannot tell 3.1 from 3.10)',
            )
        text = self.string("env.python", value, expected)
        m = _PYTHON_RE.match(text)
        if not m or m.group(1) != "3":
            hint = None
            m2 = re.match(r"^(?:py|python)?\s*(3)\.(\d+)", text)
            if m2 and f"{m2.group(1)}.{m2.group(2)}" != text:
                hint = f'did you mean "{m2.group(1)}.{m2.group(2)}"?'
            raise self.fail("env.python", f"{show(text)} is not a Python version", expected, hint=hint)
        return text

    def interpreter(self, env: Mapping[str, Any]) -> str:
        from envlock.lock.model import INTERPRETER_CHOICES, INTERPRETER_SYSTEM

        if "interpreter" not in env:
            return INTERPRETER_SYSTEM
        expected = " or ".join(f'"{c}"' for c in INTERPRETER_CHOICES)
        text = self.string("env.interpreter", env["interpreter"], expected)
        if text not in INTERPRETER_CHOICES:
            hint = did_you_mean(text, INTERPRETER_CHOICES, cutoff=0.5)
            what = f"{show(text)} is not an interpreter kind"
            raise self.fail("env.interpreter", what, expected, hint=hint)
        return text

    def dependencies(self, env: Mapping[str, Any]) -> tuple[str, ...]:
        if "dependencies" not in env:
            return ()
        expected = 'PEP 508 requirements like "torch>=2.5"'
        out = []
        for i, text in enumerate(self.strings("env.dependencies", env["dependencies"], expected)):
            try:
                Requirement(text)
            except InvalidRequirement as exc:
                raise self.fail(
                    f"env.dependencies[{i}]",
                    f"{show(text)} is not a PEP 508 requirement ({exc})",
                    'a requirement like "torch>=2.5,<2.8" or "numpy<2"',
                ) from None
            out.append(text)
        return tuple(out)

    # -- [cuda] ---------------------------------------------------------------------------------

    def cuda(self, table: Mapping[str, Any]) -> CudaConstraints:
        self.check_keys("cuda", table, _CUDA_KEYS)
        allow_ptx = table.get("allow-ptx", False)
        if not isinstance(allow_ptx, bool):
            raise self.fail("cuda.allow-ptx", f"{show(allow_ptx)} is not a boolean", "true or false")
        trust_inferred = table.get("trust-inferred-archs", False)
        if not isinstance(trust_inferred, bool):
            raise self.fail(
                "cuda.trust-inferred-archs", f"{show(trust_inferred)} is not a boolean", "true or false"
            )
        mode = table.get("driver-compat", DRIVER_COMPAT_MODES[0])
        return CudaConstraints(
            version=self.specifier("cuda.version", table),
            cudnn=self.specifier("cuda.cudnn", table),
            nccl=self.specifier("cuda.nccl", table),
            driver_compat=self.choice("cuda.driver-compat", mode, DRIVER_COMPAT_MODES),
            allow_ptx=allow_ptx,
            allow_mixed=self.allow_mixed(table),
            trust_inferred_archs=trust_inferred,
            toolkit=self.toolkit(table),
            toolkit_source=self.choice(
                "cuda.toolkit-source", table.get("toolkit-source", TOOLKIT_SOURCES[0]), TOOLKIT_SOURCES
            ),
        )

    def toolkit(self, table: Mapping[str, Any]) -> tuple[str, ...]:
        """Component names as NVIDIA's redist manifests spell them, with or without `cuda_`/`lib`;
        whether each exists is known only from the manifest, at solve time."""
        if "toolkit" not in table:
            return ()
        expected = 'CUDA toolkit component names like "nvcc", "cccl", "cudart"'
        names = self.strings("cuda.toolkit", table["toolkit"], expected)
        for i, name in enumerate(names):
            if not re.fullmatch(r"[a-z0-9][a-z0-9_]*", name):
                raise self.fail(f"cuda.toolkit[{i}]", f"{show(name)} is not a component name", expected)
        if len(set(names)) != len(names):
            raise self.fail("cuda.toolkit", "a component is listed twice", expected)
        return tuple(sorted(names))

    def allow_mixed(self, table: Mapping[str, Any]) -> tuple[str, ...]:
        if "allow-mixed" not in table:
            return ()
        path = "cuda.allow-mixed"
        out: set[str] = set()
        for i, text in enumerate(self.strings(path, table["allow-mixed"], "package names")):
            try:
                out.add(str(canonicalize_name(text, validate=True)))
            except InvalidName:
                raise self.fail(
                    f"{path}[{i}]",
                    f"{show(text)} is not a package name",
                    'a project name like "nvidia-cutlass-dsl-libs-cu13" (no version)',
                ) from None
        return tuple(sorted(out))

    def specifier(self, path: str, table: Mapping[str, Any]) -> str | None:
        leaf = path.rpartition(".")[2]
        if leaf not in table:
            return None
        expected = 'a PEP 440 version specifier like ">=12.1" or "==12.4.*"'
        text = self.string(path, table[leaf], expected)
        try:
            SpecifierSet(text)
        except InvalidSpecifier:
            hint = f'write "=={text}" or ">={text}"' if re.match(r"^\d+(\.\d+)*$", text) else None
            raise self.fail(path, f"{show(text)} is not a version specifier", expected, hint=hint) from None
        return text

    # -- [[target]] -----------------------------------------------------------------------------

    def targets(self, raw: Mapping[str, Any], kb: KnowledgeBase) -> tuple[TargetSpec, ...]:
        value = raw.get("target")
        if value is None or value == []:
            raise self.fail(
                "target",
                "no [[target]] is declared",
                "at least one [[target]] table",
                hint="declare the kinds of node the lock must serve, e.g.\n"
                + _TARGET_EXAMPLE.replace("[[target]]", f"[[{self.key('target')}]]"),
            )
        if not isinstance(value, list):
            raise self.fail(
                "target",
                f"{show(value)} is not an array of tables",
                "[[target]] (double brackets), one per kind of node",
                hint=f"write [[{self.key('target')}]] instead of [{self.key('target')}]",
            )
        out: list[TargetSpec] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(value):
            path = f"target[{i}]"
            if not isinstance(item, dict):
                raise self.fail(path, f"{show(item)} is not a table", "a [[target]] table")
            target = self.target(path, item, kb)
            if target.name in seen:
                raise self.fail(
                    f"{path}.name",
                    f'"{target.name}" is already the name of target[{seen[target.name]}]',
                    "a unique name per target",
                    hint="rename one of the two targets",
                )
            seen[target.name] = i
            out.append(target)
        return tuple(out)

    def target(self, path: str, item: Mapping[str, Any], kb: KnowledgeBase) -> TargetSpec:
        self.check_keys(path, item, _TARGET_KEYS)
        name = self.name(f"{path}.name", item)
        if "platform" not in item:
            raise self.fail(f"{path}.platform", "missing", " | ".join(PLATFORMS), line_of=path)
        platform = self.platform(f"{path}.platform", item["platform"])
        glibc = DEFAULT_GLIBC
        if "glibc" in item:
            glibc = self.string(f"{path}.glibc", item["glibc"], 'X.Y like "2.28"')
            if not _GLIBC_RE.match(glibc):
                raise self.fail(f"{path}.glibc", f"{show(glibc)} is not a glibc version", 'X.Y like "2.28"')
        gpus = self.gpus(path, item.get("gpus", []), kb)
        driver = self.driver(path, item)
        if gpus and driver is None:
            raise self.fail(
                f"{path}.driver",
                "missing while gpus is set",
                'the lowest NVIDIA driver on these nodes, like "550.54.15"',
                hint="run nvidia-smi on the oldest node and copy its Driver Version",
                line_of=f"{path}.gpus",
            )
        if gpus and platform.startswith("macos"):
            raise self.fail(
                f"{path}.gpus",
                "macOS has no NVIDIA GPUs",
                "no gpus on a macos-arm64 target",
                hint="remove gpus from this target, or change its platform",
            )
        return TargetSpec(name=name, platform=platform, glibc=glibc, gpus=gpus, driver=driver)

    def platform(self, path: str, value: object) -> str:
        expected = "one of " + ", ".join(f'"{p}"' for p in PLATFORMS)
        text = self.string(path, value, expected)
        if text in PLATFORMS:
            return text
        meant = suggest_platforms(text)
        hint: str | None
        if meant:
            hint = f"did you mean {meant[0]!r}?" + (f" (or {meant[1]!r})" if len(meant) > 1 else "")
        else:
            hint = did_you_mean(text, PLATFORMS, cutoff=0.4)
        raise self.fail(path, f"{show(text)} is not a platform envlock knows", expected, hint=hint)

    def gpus(self, path: str, value: object, kb: KnowledgeBase) -> tuple[GpuRequest, ...]:
        expected = 'a GPU name like "H100" or an architecture like "sm_90"'
        out = []
        for i, text in enumerate(self.strings(f"{path}.gpus", value, expected)):
            try:
                cc = kb.resolve_gpu(text)
            except KeyError:
                foreign = kb.foreign_gpu(text)
                if foreign is not None:
                    raise self.fail(
                        f"{path}.gpus[{i}]",
                        f"{show(text)}: {foreign}",
                        "an NVIDIA GPU",
                        hint="leave this kind of node out of the spec, or declare it CPU-only (no gpus)",
                    ) from None
                close = kb.suggest_gpus(text)
                hint = f"did you mean {', '.join(close)}?" if close else None
                extra = f"or add it to a knowledge-base file ([{self.key('resolution')}] knowledge-base)"
                hint = f"{hint} {extra}" if hint else f"write its architecture (sm_XY), {extra}"
                raise self.fail(
                    f"{path}.gpus[{i}]", f"{show(text)} is not a known GPU", expected, hint=hint
                ) from None
            out.append(GpuRequest(written=text, cc=cc))
        return tuple(out)

    def driver(self, path: str, item: Mapping[str, Any]) -> str | None:
        if "driver" not in item:
            return None
        value = item["driver"]
        expected = 'digits like "550.54.15"'
        if isinstance(value, int) and not isinstance(value, bool):
            raise self.fail(
                f"{path}.driver",
                f"{value} is a driver branch, not a full version",
                f"a quoted string, {DRIVER_EXPECTED}",
                hint="write the whole Driver Version that nvidia-smi prints on the oldest node, quoted "
                '(like driver = "550.54.15")',
            )
        if isinstance(value, float):
            raise self.fail(
                f"{path}.driver",
                f"{value!r} is a number",
                f"a quoted string, {expected}",
                hint=f'quote it: driver = "{value}" (a number loses trailing zeros)',
            )
        text = self.string(f"{path}.driver", value, expected)
        problem = driver_problem(text)
        if problem is not None:
            what, hint = problem
            raise self.fail(f"{path}.driver", what, expected, hint=hint)
        return text

    # -- [indexes] ------------------------------------------------------------------------------

    def indexes(self, table: Mapping[str, Any]) -> IndexSettings:
        self.check_keys("indexes", table, _INDEX_KEYS)
        default = self.url("indexes.default", table["default"]) if "default" in table else None
        pytorch: str | None = DEFAULT_PYTORCH_INDEX
        if "pytorch" in table:
            value = table["pytorch"]
            if value is False:
                pytorch = None
            elif isinstance(value, bool):
                raise self.fail(
                    "indexes.pytorch",
                    "true is not allowed",
                    "a URL, or false to switch the variant indexes off",
                    hint=f"leave it out to use {DEFAULT_PYTORCH_INDEX}",
                )
            else:
                pytorch = self.url("indexes.pytorch", value)
        extra: list[str] = []
        if "extra" in table:
            if not isinstance(table["extra"], list):
                raise self.fail(
                    "indexes.extra", f"{show(table['extra'])} is not a list", "a list of index URLs"
                )
            extra = [self.url(f"indexes.extra[{i}]", v) for i, v in enumerate(table["extra"])]
        if "nvidia" in table:
            value = table["nvidia"]
            if value is True:
                nvidia: str | None = NVIDIA_INDEX
            elif value is False:
                nvidia = None
            else:
                nvidia = self.url("indexes.nvidia", value)
            # NVIDIA's package index is one more extra index, with the same (lower) priority.
            if nvidia is not None and nvidia not in extra:
                extra.append(nvidia)
        redist = None
        if "nvidia-redist" in table:
            redist = self.url("indexes.nvidia-redist", table["nvidia-redist"])
        return IndexSettings(default=default, pytorch=pytorch, extra=tuple(extra), nvidia_redist=redist)

    def url(self, path: str, value: object) -> str:
        expected = 'an http(s):// or file:// URL like "https://download.pytorch.org/whl"'
        text = self.string(path, value, expected)
        parts = urlsplit(text)
        ok = (parts.scheme in ("http", "https") and bool(parts.netloc)) or (
            parts.scheme == "file" and bool(parts.path)
        )
        if not ok:
            raise self.fail(path, f"{show(redact_url(text))} is not a usable index URL", expected)
        return text if parts.scheme == "file" and parts.path == "/" else text.rstrip("/")

    # -- [resolution] ---------------------------------------------------------------------------

    def exclude_newer(self, table: Mapping[str, Any]) -> str | None:
        if "exclude-newer" not in table:
            return None
        path = "resolution.exclude-newer"
        expected = 'an RFC 3339 timestamp with a time zone, like "2026-11-01T00:00:00Z"'
        value = table["exclude-newer"]
        if isinstance(value, str):
            value = _parse_timestamp(value.strip())
            if value is None:
                raise self.fail(path, f"{show(table['exclude-newer'])} is not a timestamp", expected)
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                raise self.fail(
                    path,
                    "has no time zone",
                    expected,
                    hint="append Z for UTC, or an offset like +02:00",
                )
            value = value.astimezone(dt.timezone.utc)
        elif isinstance(value, dt.date):
            value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
        else:
            raise self.fail(path, f"{show(value)} is not a timestamp", expected)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")

    def build_policy(self, table: Mapping[str, Any]) -> str | tuple[str, ...]:
        if "build" not in table:
            return "never"
        path = "resolution.build"
        value = table["build"]
        expected = '"never", "allowed", or a list of project names like ["flash-attn"]'
        if isinstance(value, list):
            names = self.strings(path, value, "project names")
            return tuple(sorted({canonicalize_name(n) for n in names}))
        if not isinstance(value, str) or value not in BUILD_POLICIES:
            raise self.fail(
                path,
                f"{show(value)} is not a build policy",
                expected,
                hint=did_you_mean(str(value), BUILD_POLICIES, cutoff=0.4),
            )
        return value

    def uniform(self, table: Mapping[str, Any]) -> bool:
        value = table.get("uniform", False)
        if not isinstance(value, bool):
            raise self.fail("resolution.uniform", f"{show(value)} is not a boolean", "true or false")
        return value

    def knowledge_base(self, table: Mapping[str, Any]) -> tuple[Path, ...]:
        if "knowledge-base" not in table:
            return ()
        path = "resolution.knowledge-base"
        out = []
        for i, text in enumerate(
            self.strings(path, table["knowledge-base"], "paths of knowledge-base files")
        ):
            file = (self.path.parent / text).resolve()
            if not file.is_file():
                raise self.fail(
                    f"{path}[{i}]",
                    f'"{text}" does not exist ({_display(file)})',
                    "a knowledge-base TOML file, relative to the spec",
                    hint="fix the path; it is relative to the directory of the spec",
                )
            out.append(file)
        return tuple(out)


def _parse_timestamp(text: str) -> dt.datetime | dt.date | None:
    if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return None
    if not re.match(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}", text):
        return None
    iso = re.sub(r"[Zz]$", "+00:00", text)
    iso = re.sub(r"(\.\d{1,6})\d*", r"\1", iso)  # datetime takes at most microseconds
    m = re.match(r"^(.*\.)(\d{1,5})(\D.*)?$", iso)
    if m:  # Python 3.10 accepts only 3 or 6 fraction digits
        iso = m.group(1) + m.group(2).ljust(6, "0") + (m.group(3) or "")
    try:
        return dt.datetime.fromisoformat(iso[:10] + "T" + iso[11:])
    except ValueError:
        return None


def _display(path: Path) -> str:
    """A path as messages show it: relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()
