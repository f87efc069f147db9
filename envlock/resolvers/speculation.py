"""Starting the resolutions a solve will ask for before it knows it will (architecture.md §5).

A solve asks uv for its resolutions only after it has read the spec, the knowledge base and the
variant indexes, and imported what that takes: about 0.2 s in which uv could already run. The
requests a solve made are remembered (`<cache>/solve-requests-v1/`, a folder only its user can
read), keyed by everything the cli knows before that work: the spec's and the existing lock's
bytes, the options, the environment, and the uv and pip configuration files that can name the
default index (their path, size and mtime).
The next solve with the same key starts those requests at once, and `SpeculativeBackend` answers the
solver from them only for a request exactly equal to one started (the dataclass compares every
field): a request that differs is resolved afresh, so a stale guess never gives a different lock,
and its run, if still going when the solve is done (or has failed), is killed rather than waited
for (an index that no longer answers costs nothing then). A solve whose requests carry credentials
in a URL, or a direct reference (whose wheel the solve prepares first), is never written down, so
never started ahead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path

from envlock import __version__
from envlock.index.config import configuration_files
from envlock.resolvers import Resolution, ResolutionRequest
from envlock.resolvers.uv import Cancel, SelectionWatcher, UvBackend
from envlock.userfiles import write_atomic

_LAYOUT = "solve-requests-v1"
MAX_STARTED = 6  # at most this many resolutions started ahead (the solver's own parallelism)
_USERINFO = re.compile(r"://[^/\s@]*@")
# The environment that can change what a solve asks for (indexes, configuration, caches).
_ENV_PREFIXES = ("ENVLOCK_", "PIP_", "UV_", "XDG_", "HOME", "NETRC")


def speculation_key(parts: Iterable[bytes], environ: Mapping[str, str] | None = None) -> str:
    """A digest of `parts` (spec bytes, lock bytes, options), envlock's version, the environment
    and the configuration files that can change a solve's requests.

    The digest covers the values of secret variables too (`UV_INDEX_<NAME>_PASSWORD`), so that a
    changed one changes the key; it names a file in a folder only the user can read (`save`)."""
    env = os.environ if environ is None else environ
    digest = hashlib.sha256(__version__.encode())
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    for name in sorted(k for k in env if k.startswith(_ENV_PREFIXES)):
        digest.update(f"\0{name}={env[name]}".encode())
    for path in configuration_files(env):
        try:
            info = path.stat()
            seen = f"{info.st_size} {info.st_mtime_ns} {info.st_ino}"
        except OSError:
            seen = "-"
        digest.update(f"\0{path}\0{seen}".encode())
    return digest.hexdigest()


def _private_folder(folder: Path, *, make: bool) -> bool:
    """Whether `folder` is a directory of this user's that nobody else can read or write (made,
    or its mode narrowed, when `make`): its file names are digests of secret values."""
    if make:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    try:
        info = folder.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False
        if stat.S_IMODE(info.st_mode) & 0o077:
            if not make:
                return False
            folder.chmod(0o700)  # made by an older envlock with the umask
    except OSError:
        return False
    return True


def _to_json(request: ResolutionRequest) -> dict[str, object]:
    return {
        "requirements": list(request.requirements),
        "constraints": list(request.constraints),
        "python": request.python,
        "platform": request.platform,
        "glibc": request.glibc,
        "default-index": request.default_index,
        "extra-indexes": list(request.extra_indexes),
        "pinned": [list(p) for p in request.pinned],
        "exclude-newer": request.exclude_newer,
        "preferences": list(request.preferences),
    }


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("not a list of strings")
    return value


def _from_json(raw: Mapping[str, object]) -> ResolutionRequest:
    pinned = raw["pinned"]
    if not isinstance(pinned, list):
        raise ValueError("pinned")
    exclude_newer = raw["exclude-newer"]
    for key in ("python", "platform", "glibc", "default-index"):
        if not isinstance(raw[key], str):
            raise ValueError(key)
    return ResolutionRequest(
        requirements=tuple(_strings(raw["requirements"])),
        constraints=tuple(_strings(raw["constraints"])),
        python=str(raw["python"]),
        platform=str(raw["platform"]),
        glibc=str(raw["glibc"]),
        default_index=str(raw["default-index"]),
        extra_indexes=tuple(_strings(raw["extra-indexes"])),
        pinned=tuple((str(a), str(b)) for a, b in (_strings(p) for p in pinned)),
        exclude_newer=exclude_newer if isinstance(exclude_newer, str) else None,
        preferences=tuple(_strings(raw["preferences"])),
    )


def _not_to_remember(request: ResolutionRequest) -> bool:
    """A request with credentials in a URL, or with a direct reference (its file is prepared during
    the solve: a resolution started before that must not read it)."""
    if any(" @ " in r for r in request.requirements):
        return True
    texts = [
        request.default_index,
        *request.extra_indexes,
        *(url for _, url in request.pinned),
        *request.requirements,
        *request.constraints,
    ]
    return any(_USERINFO.search(t) for t in texts)


class SpeculativeBackend:
    """`inner`, answering from resolutions started ahead where a request matches one exactly, and
    remembering every request the solve makes (`save`)."""

    def __init__(self, inner: UvBackend, cache_root: Path, key: str) -> None:
        self._inner = inner
        self.name = inner.name
        self.offline = inner.offline
        self._folder = cache_root / _LAYOUT
        self._path = self._folder / key
        self._started: dict[ResolutionRequest, tuple[Future[Resolution], Cancel]] = {}
        self._asked: list[ResolutionRequest] = []
        # Reentrant: `finish` may run in a SIGTERM handler on a thread inside `resolve`.
        self._lock = threading.RLock()

    def version(self) -> str:
        return self._inner.version()

    def watch_selections(self, watcher: SelectionWatcher | None) -> None:
        """`UvBackend.watch_selections` (runs started ahead are not watched: they began before it)."""
        self._inner.watch_selections(watcher)

    def start(self) -> int:
        """Start the resolutions the last solve with this key asked for; how many were started."""
        if not _private_folder(self._folder, make=False):
            return 0
        try:
            document = json.loads(self._path.read_bytes())
            requests = [_from_json(raw) for raw in document["requests"]][:MAX_STARTED]
        except (OSError, ValueError, KeyError, TypeError):
            return 0
        for request in dict.fromkeys(requests):
            future: Future[Resolution] = Future()
            cancel = Cancel()
            self._started[request] = (future, cancel)
            # A daemon thread: its uv dies with envlock (`envlock.processes`), and `finish` kills it.
            threading.Thread(
                target=self._run, args=(request, future, cancel), name="envlock-ahead", daemon=True
            ).start()
        return len(self._started)

    def _run(self, request: ResolutionRequest, future: Future[Resolution], cancel: Cancel) -> None:
        try:
            future.set_result(self._inner.resolve(request, cancel=cancel))
        except BaseException as exc:
            future.set_exception(exc)

    def resolve(self, request: ResolutionRequest) -> Resolution:
        with self._lock:
            self._asked.append(request)
            started = self._started.pop(request, None)
        if started is not None:
            return started[0].result()
        return self._inner.resolve(request)

    def save(self) -> None:
        """Remember this solve's requests for the next one with the same key (see the module
        docstring for those never remembered; a cache that cannot be written is skipped)."""
        asked: Sequence[ResolutionRequest] = list(dict.fromkeys(self._asked))[:MAX_STARTED]
        if asked and not any(_not_to_remember(r) for r in asked):
            document = {"requests": [_to_json(r) for r in asked]}
            with contextlib.suppress(OSError):
                if _private_folder(self._folder, make=True):
                    data = json.dumps(document, sort_keys=True).encode()
                    write_atomic(self._path, data, private=True)

    def finish(self) -> None:
        """Stop every run started ahead that the solve did not use, whether the solve succeeded or
        failed: its uv is killed, not waited for (an index that no longer answers would hold the
        solve for uv's whole network timeout), and this returns once its scratch folder is gone."""
        with self._lock:
            unused = list(self._started.values())
            self._started.clear()
        for _, cancel in unused:
            cancel.cancel()
        for future, _ in unused:
            future.exception()  # its answer (or error) is of no use to this solve
