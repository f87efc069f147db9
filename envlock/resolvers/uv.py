"""The uv backend: the one module that starts uv to resolve (architecture.md §5).

Each request becomes a throw-away project whose `[tool.uv.sources]` pin the torch family to its
variant index (an `explicit` index, so no other index can shadow it), resolved with
`uv pip compile` for the target's Python and platform.

Index credentials never reach uv's command line, which every local user can read in /proc while a
solve runs: every index is given a name (`default`, `extra-0`, `pinned-0`, ...), its URL is passed
without userinfo, and its user name and password travel in uv's per-index environment variables
(`UV_INDEX_<NAME>_USERNAME` / `_PASSWORD`), which only the user's own processes can read.

uv is asked for exact pins (`name==version`), not for its PEP 751 output: uv's pylock writer must
put a hash on every file and downloads each file its index gives no hash for (download.pytorch.org
leaves many torch wheels of ~1 GB without one), and it cannot do that with `--offline`; it also
writes upload times to the second and no yank state (architecture.md §5). envlock takes files,
sizes and hashes from the index pages itself (`envlock.solve.packages`), downloading only what has
no hash, once, and remembering the result.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from envlock import processes
from envlock.display import redact_text
from envlock.errors import InternalError, NetworkError, ResolutionError
from envlock.index.auth import Credentials, split_credentials
from envlock.platforms import Platform
from envlock.resolvers import Resolution, ResolutionRequest, ResolvedFile, ResolvedPackage
from envlock.userfiles import default_cache_root, write_atomic

# The uv releases envlock is tested with; the same range pins uv in pyproject.toml.
SUPPORTED = ((0, 13), (0, 14))

# Environment variables through which a user's uv setup could change a resolution behind
# envlock's back: the spec and envlock's own index discovery already decided these.
_UV_ENV_OVERRIDES = (
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_INDEX_STRATEGY",
    "UV_EXCLUDE_NEWER",
    "UV_NO_INDEX",
    "UV_PYTHON",
    "UV_CONSTRAINT",
    "UV_OVERRIDE",
    "UV_PRERELEASE",
    "UV_RESOLUTION",
)

_PROJECT_NAME = "envlock-resolution"
# A user's own credentials for indexes named like envlock's (`UV_INDEX_DEFAULT_PASSWORD`) must not
# be sent to the indexes of the spec.
_UV_INDEX_CREDENTIALS = re.compile(r"^UV_INDEX_.+_(USERNAME|PASSWORD)$")
_NETWORK_SIGNS = (
    "Failed to fetch",
    "error sending request",
    "HTTP status server error",
    "operation timed out",
    "Connection refused",
    "dns error",
    "Could not connect",
    "Request failed after",
    "not found in the cache",
    "Network connectivity is disabled",
)


@functools.lru_cache(maxsize=1)
def uv_binary() -> str:
    """The uv executable: the one installed with envlock, else the first on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if not found:
            raise InternalError(
                "uv is not installed",
                hint="install envlock with its dependencies (`pip install envlock` pulls uv in)",
            ) from None
        return found


@functools.lru_cache(maxsize=1)
def uv_version() -> str:
    """The version of uv in use, e.g. "0.13.9": asked once per uv binary (`uv --version`) and kept
    in the user cache under the binary's path, size, mtime and inode; a script in uv's place (a
    version manager's shim, which may start another uv each time) is asked every time."""
    binary = uv_binary()
    memo = _version_memo(binary)
    if memo is not None:
        with contextlib.suppress(OSError, ValueError):
            known = memo.read_text(encoding="utf-8").strip()
            if _VERSION.fullmatch(known):
                return known
    out = processes.run([binary, "--version"], capture_output=True, text=True, check=False)
    m = re.search(r"uv (\d+\.\d+\.\d+)", out.stdout)
    if not m:
        raise InternalError(f"could not read uv's version from {out.stdout.strip()!r}")
    if memo is not None:
        with contextlib.suppress(OSError):  # a memo that cannot be written only costs a run next time
            write_atomic(memo, (m.group(1) + "\n").encode())
    return m.group(1)


_VERSION = re.compile(r"\d+\.\d+\.\d+")


def _version_memo(binary: str) -> Path | None:
    """Where the version of the uv binary at `binary` is remembered; None for a script or a path
    that cannot be read."""
    path = Path(binary).resolve()
    try:
        with path.open("rb") as handle:
            if handle.read(2) == b"#!":
                return None
            info = os.fstat(handle.fileno())
    except OSError:
        return None
    key = f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ino}"
    return default_cache_root() / "uv-version-v1" / hashlib.sha256(key.encode()).hexdigest()


def uv_environment() -> dict[str, str]:
    """The process environment for uv, without variables that would change its index choice."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _UV_ENV_OVERRIDES and not _UV_INDEX_CREDENTIALS.match(k)
    }
    env.setdefault("UV_NO_PROGRESS", "1")
    return env


@dataclass(frozen=True, slots=True, kw_only=True)
class NamedIndex:
    """One index as uv is told about it: a name, the URL without userinfo, the credentials apart."""

    name: str
    url: str
    credentials: Credentials | None

    def credential_variables(self) -> dict[str, str]:
        """uv's `UV_INDEX_<NAME>_USERNAME` / `_PASSWORD` for this index (none without credentials)."""
        if self.credentials is None:
            return {}
        # uv's rule for the variable name: upper case, every other character than A-Z/0-9 as `_`.
        key = re.sub(r"[^A-Z0-9]", "_", self.name.upper())
        out = {f"UV_INDEX_{key}_USERNAME": self.credentials.username}
        if self.credentials.password:
            out[f"UV_INDEX_{key}_PASSWORD"] = self.credentials.password
        return out


def _named(name: str, url: str) -> NamedIndex:
    bare, credentials = split_credentials(url)
    return NamedIndex(name=name, url=bare, credentials=credentials)


def named_indexes(request: ResolutionRequest) -> tuple[NamedIndex, ...]:
    """The default, extra and pinned indexes of `request`, named `default`, `extra-N`, `pinned-N`."""
    return (
        _named("default", request.default_index),
        *(_named(f"extra-{i}", url) for i, url in enumerate(request.extra_indexes)),
        *(_named(f"pinned-{i}", url) for i, (_, url) in enumerate(request.pinned)),
    )


def credential_environment(request: ResolutionRequest) -> dict[str, str]:
    """The environment variables that carry the credentials of `request`'s indexes to uv."""
    env: dict[str, str] = {}
    for index in named_indexes(request):
        env.update(index.credential_variables())
    return env


def _project_text(request: ResolutionRequest) -> str:
    lines = [
        "[project]",
        f'name = "{_PROJECT_NAME}"',
        'version = "0"',
        f'requires-python = ">={request.python}"',
        "dependencies = " + json.dumps(list(request.requirements)),
    ]
    for index in named_indexes(request):
        if not index.name.startswith("pinned-"):
            continue
        lines += [
            "",
            "[[tool.uv.index]]",
            f"name = {json.dumps(index.name)}",
            f"url = {json.dumps(index.url)}",
            "explicit = true",
        ]
    if request.pinned:
        lines += ["", "[tool.uv.sources]"]
        for i, (project, _) in enumerate(request.pinned):
            lines.append(f'{json.dumps(project)} = {{ index = "pinned-{i}" }}')
    return "\n".join(lines) + "\n"


def _command(request: ResolutionRequest, workdir: Path, *, offline: bool) -> list[str]:
    cmd = [
        uv_binary(),
        "pip",
        "compile",
        "pyproject.toml",
        "--no-config",
        "--quiet",
        "--format",
        "requirements.txt",
        "--no-annotate",
        "-o",
        "resolution.txt",
        "--python-version",
        request.python,
        "--python-platform",
        Platform.of(request.platform, python=request.python, glibc=request.glibc).uv_python_platform(),
        "--no-header",
        "--no-build",  # a lock for another platform cannot run sdist builds: wheels only
    ]
    if sys.executable:
        # The result depends only on --python-version/--python-platform; naming an interpreter
        # spares uv a PATH search per run (a pyenv shim first on PATH costs ~0.1 s each time).
        cmd += ["--python", sys.executable]
    # uv gives every --index priority over --default-index; the spec wants the default index
    # first and the extra indexes after it, so all of them are passed in that order, by name and
    # without credentials (see the module docstring).
    searched = [index for index in named_indexes(request) if not index.name.startswith("pinned-")]
    for index in searched:
        cmd += ["--index", f"{index.name}={index.url}"]
    cmd += ["--default-index", f"{searched[0].name}={searched[0].url}"]
    if request.constraints:
        (workdir / "constraints.txt").write_text("\n".join(request.constraints) + "\n")
        cmd += ["--constraint", "constraints.txt"]
    if request.exclude_newer:
        cmd += ["--exclude-newer", request.exclude_newer]
        # Variant indexes (download.pytorch.org) publish no upload times, and uv drops files
        # without one under --exclude-newer; the projects pinned to them are exempt (the lock
        # pins their files by hash, and envlock filters what dates the index does give).
        for project, _ in request.pinned:
            cmd += ["--exclude-newer-package", f"{project}=false"]
    if offline:
        cmd.append("--offline")
    return cmd


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
_DIRECT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])? @ (\S+)")


def _parse_pins(text: str) -> tuple[ResolvedPackage, ...]:
    packages = []
    for line in text.splitlines():
        m = _PIN.match(line.strip())
        if m:
            packages.append(ResolvedPackage(name=m.group(1).lower(), version=m.group(2), files=()))
            continue
        m = _DIRECT.match(line.strip())
        if m:
            # A direct reference: envlock prepared it (a local wheel), so its version and file are
            # known to the solver; the URL says which one.
            from packaging.utils import InvalidWheelFilename, parse_wheel_filename

            url = m.group(2)
            filename = url.rsplit("/", 1)[-1]
            try:
                version = str(parse_wheel_filename(filename)[1])
            except InvalidWheelFilename:
                version = ""
            file = ResolvedFile(url=url, filename=filename, sha256=None, size=None, upload_time=None)
            packages.append(ResolvedPackage(name=m.group(1).lower(), version=version, files=(file,)))
    return tuple(sorted(packages, key=lambda p: p.name))


def build_wheel(
    source: Path,
    out_dir: Path,
    *,
    default_index: str | None,
    offline: bool,
    source_date_epoch: str,
) -> Path:
    """Build `source` (a project directory or an sdist) into one wheel in `out_dir` with `uv build`.

    The build runs in uv's isolated build environment (the build backend comes from the default
    index) on the interpreter running envlock: a pure-Python wheel fits every target, and the
    solver refuses a built wheel whose tags do not fit a target. Raises
    ResolutionError with uv's output when the build fails.
    """
    cmd = [uv_binary(), "build", "--wheel", "--no-config", "--out-dir", str(out_dir)]
    if sys.executable:
        cmd += ["--python", sys.executable]
    env = uv_environment()
    if default_index:
        # as in resolutions: the URL on the command line without userinfo, credentials in uv's
        # UV_INDEX_<NAME>_* variables
        index = _named("default", default_index)
        cmd += ["--default-index", f"{index.name}={index.url}"]
        env.update(index.credential_variables())
    if offline:
        cmd.append("--offline")
    cmd.append(str(source))
    env["SOURCE_DATE_EPOCH"] = source_date_epoch
    env["UV_PYTHON_DOWNLOADS"] = "never"
    proc = processes.run(cmd, env=env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    wheels = sorted(out_dir.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        raise ResolutionError(redact_text((proc.stderr or proc.stdout).strip()) or "uv build made no wheel")
    return wheels[0]


# The throw-away project is named in uv's explanations; the user wrote requirements, not a project.
_PROJECT_PHRASES = (
    (f"{_PROJECT_NAME} depends on", "you require"),
    (f"{_PROJECT_NAME}'s requirements", "your requirements"),
    (f"{_PROJECT_NAME}==0", "your requirements"),
    (_PROJECT_NAME, "your requirements"),
)


def _in_users_terms(text: str) -> str:
    for phrase, plain in _PROJECT_PHRASES:
        text = text.replace(phrase, plain)
    return text


def _explanation(text: str) -> str:
    """uv's whole explanation of a failed resolution, without its headline and `cause:` prefix."""
    lines = text.splitlines()
    while lines and (
        lines[0].startswith("error: No solution found") or "No solution found when resolving" in lines[0]
    ):
        lines.pop(0)
    body = [line.rstrip() for line in lines if line.strip()]
    if not body:
        return text.strip()
    first = body[0].strip().removeprefix("cause:").removeprefix("╰─▶").strip()
    indent = len(body[0]) - len(body[0].lstrip()) + (len(body[0].strip()) - len(first))
    rest = [line[indent:] if line[:indent].isspace() else line.strip() for line in body[1:]]
    return "\n".join([first, *rest])


class Cancel:
    """A way for another thread to stop one resolution: `cancel()` kills its uv, now or as soon as
    it starts; the resolution then fails, having removed its scratch folder."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._proc: subprocess.Popen[str] | None = None

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._proc is not None:
                self._proc.kill()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def watch(self, proc: subprocess.Popen[str] | None) -> None:
        """Kill `proc` on `cancel()` (None: it has ended, leave it alone)."""
        with self._lock:
            self._proc = proc
            if proc is not None and self._cancelled:
                proc.kill()


# uv's resolver logs each version it picks, while it resolves, as `DEBUG Selecting: name==version ...`
# (`RUST_LOG=uv_resolver::resolver=debug`; its other output keeps its form). Only a hint: a line that
# does not parse, or a uv that logs nothing, changes no result, only when envlock's page reads start.
_SELECTING = re.compile(r"^DEBUG Selecting: ([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
_DEBUG = "DEBUG "
_RESOLVER_LOG = "uv_resolver::resolver=debug"

# Told of each (request, project, version) uv selects while it resolves.
SelectionWatcher = Callable[[ResolutionRequest, str, str], None]


class UvBackend:
    """Resolves through `uv pip compile`."""

    name = "uv"

    def __init__(self, *, offline: bool = False) -> None:
        self.offline = offline
        # Found once, up front: `uv.find_uv_bin` reads sysconfig, whose first use is not
        # thread-safe, and resolutions run in threads.
        self._binary = uv_binary()
        self._watcher: SelectionWatcher | None = None

    def watch_selections(self, watcher: SelectionWatcher | None) -> None:
        """Have `watcher` told of each version uv selects while a resolution runs (the solver starts
        reading those releases' index pages then, instead of after uv; `_SELECTING`)."""
        self._watcher = watcher

    def version(self) -> str:
        return uv_version()

    def resolve(self, request: ResolutionRequest, *, cancel: Cancel | None = None) -> Resolution:
        """`ResolverBackend.resolve`; `cancel` lets another thread stop it (InternalError then)."""
        if request.python.endswith("t"):
            raise ResolutionError(
                f"uv {uv_version()} cannot resolve for a free-threaded Python ({request.python})",
                hint=f'use python = "{request.python.rstrip("t")}" in [env] until uv supports it',
            )
        with tempfile.TemporaryDirectory(prefix="envlock-uv-") as tmp:
            workdir = Path(tmp)
            (workdir / "pyproject.toml").write_text(_project_text(request), encoding="utf-8")
            if request.preferences:
                # uv pip compile takes the pins of an existing output file as preferences: each is
                # kept unless the requirements exclude it (or it is not available for the target).
                # Constraints would instead turn every old pin into a requirement, and a relaxed
                # spec could never move anything.
                (workdir / "resolution.txt").write_text(
                    "\n".join(request.preferences) + "\n", encoding="utf-8"
                )
            command = _command(request, workdir, offline=self.offline)
            env = uv_environment() | credential_environment(request)
            watcher = self._watcher
            if watcher is not None:
                env["RUST_LOG"] = _RESOLVER_LOG
            returncode, output = _run(
                command,
                workdir,
                env,
                cancel or Cancel(),
                None if watcher is None else functools.partial(watcher, request),
            )
            if returncode != 0:
                raise self._failure(output)
            return Resolution(
                packages=_parse_pins((workdir / "resolution.txt").read_text(encoding="utf-8")),
                backend=f"uv {uv_version()}",
            )

    @staticmethod
    def _failure(output: str) -> Exception:
        text = redact_text(output.strip())
        if any(sign in text for sign in _NETWORK_SIGNS):
            return NetworkError(
                f"uv could not reach an index:\n{text}",
                hint="check the index URLs and your network, then retry (results are cached)",
            )
        text = _in_users_terms(text)
        return ResolutionError(
            f"uv found no solution:\n{text}",
            hint="relax the conflicting requirements in [env].dependencies",
            details={"explanation": _explanation(text)},
        )


def _run(
    command: list[str],
    workdir: Path,
    env: dict[str, str],
    cancel: Cancel,
    selected: Callable[[str, str], None] | None,
) -> tuple[int, str]:
    """Run uv, killed when `cancel` is (InternalError then): its exit status and its output (stdout
    and stderr, without the resolver's log lines, each of which `selected` hears of as it comes)."""
    if cancel.cancelled:
        raise InternalError("resolution cancelled before uv started")
    kept: list[str] = []
    with processes.start(
        command, text=True, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as proc:
        cancel.watch(proc)
        try:
            for line in proc.stdout or ():
                if not line.startswith(_DEBUG):
                    kept.append(line)
                elif selected is not None and (match := _SELECTING.match(line)) is not None:
                    with contextlib.suppress(Exception):  # a hint only: never fails the resolution
                        selected(match.group(1), match.group(2))
            returncode = proc.wait()
        except BaseException:
            proc.kill()
            raise
        finally:
            cancel.watch(None)
    if cancel.cancelled:
        raise InternalError("resolution cancelled: its uv was killed")
    return returncode, "".join(kept)


@dataclass(frozen=True, slots=True, kw_only=True)
class PythonDownload:
    """One interpreter build uv knows how to download (`uv python list --only-downloads`)."""

    key: str  # "cpython-3.11.14-linux-x86_64-gnu"
    implementation: str  # "cpython"
    version: str  # "3.11.14"
    os: str  # "linux" | "macos" | "windows"
    arch: str  # "x86_64", "aarch64", ...
    libc: str  # "gnu" | "musl" | "none"
    variant: str  # "default" | "freethreaded" | ...
    url: str  # after uv applied UV_PYTHON_INSTALL_MIRROR / python-install-mirror


def python_downloads(request: str) -> tuple[PythonDownload, ...]:
    """The interpreter builds uv would download for `request` ("3.11"), for every platform: the
    newest patch release of each, with the URL uv would fetch (its mirror settings applied).

    Reads uv's own download metadata; needs no network. Raises InternalError when uv fails.
    """
    done = processes.run(
        [
            uv_binary(),
            "python",
            "list",
            request,
            "--only-downloads",
            "--all-platforms",
            "--all-arches",
            "--output-format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=uv_environment(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        raise InternalError(f"`uv python list {request}` failed: {redact_text(done.stderr.strip())}")
    try:
        rows = json.loads(done.stdout)
        return tuple(
            PythonDownload(
                key=str(r["key"]),
                implementation=str(r["implementation"]),
                version=str(r["version"]),
                os=str(r["os"]),
                arch=str(r["arch"]),
                libc=str(r["libc"]),
                variant=str(r["variant"]),
                url=str(r["url"]),
            )
            for r in rows
            if r.get("url")
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InternalError(f"`uv python list` printed what envlock cannot read: {exc}") from None
