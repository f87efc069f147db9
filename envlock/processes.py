"""Child processes: the one way envlock starts a program, so that every program it starts dies with it.

A build killed with SIGKILL (a cancelled batch job whose step is killed alone, an OOM kill, `kill -9`)
cannot stop its children, and a `uv venv` or `uv pip install` left running goes on writing into a
scratch directory that the next builder may already have cleaned. So on Linux every child is started
with the kernel's parent-death signal set to SIGKILL (`prctl(PR_SET_PDEATHSIG)`): it dies the moment
envlock does, however envlock ends.

The kernel sends that signal when the *thread* that forked the child ends, not the process; children
are therefore forked from the main thread or from one spawner thread that lives as long as the
process, never from a short-lived worker thread. A parent that died between the fork and the
`prctl` call is noticed by the child itself (its parent is then another process), which kills
itself. Programs that the children start in turn are theirs to stop; uv stops its own.
"""

from __future__ import annotations

import functools
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal, overload

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's `prctl`, looked up in the parent so that the forked child only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        fn: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return fn


def _die_with(parent: int, prctl: Callable[..., int]) -> Callable[[], None]:
    def arm() -> None:  # runs in the child between fork and exec
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


class _Spawner:
    """One daemon thread that forks children on behalf of threads that may end before them."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="envlock-spawner", daemon=True).start()

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job.proc = job.make()
            except BaseException as exc:  # handed to the thread that asked
                job.error = exc
            job.done.set()

    def spawn(self, make: Callable[[], subprocess.Popen[Any]]) -> subprocess.Popen[Any]:
        job = _Job(make)
        self._jobs.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.proc is not None
        return job.proc


class _Job:
    """One child to start on the spawner thread, and what became of it."""

    def __init__(self, make: Callable[[], subprocess.Popen[Any]]) -> None:
        self.make = make
        self.done = threading.Event()
        self.proc: subprocess.Popen[Any] | None = None
        self.error: BaseException | None = None


_spawner_lock = threading.Lock()
_spawner: _Spawner | None = None


def _spawn(make: Callable[[], subprocess.Popen[Any]]) -> subprocess.Popen[Any]:
    global _spawner
    if threading.current_thread() is threading.main_thread():
        return make()
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
    return _spawner.spawn(make)


@overload
def start(args: Sequence[str], *, text: Literal[True], **options: Any) -> subprocess.Popen[str]: ...
@overload
def start(args: Sequence[str], *, text: Literal[False] = ..., **options: Any) -> subprocess.Popen[bytes]: ...
@overload
def start(args: Sequence[str], *, text: bool, **options: Any) -> subprocess.Popen[Any]: ...
def start(args: Sequence[str], *, text: bool = False, **options: Any) -> subprocess.Popen[Any]:
    """`subprocess.Popen(args, **options)`, with a child that dies when this process does (Linux).

    `options` are Popen's; `preexec_fn` is reserved for this module.
    """
    if "preexec_fn" in options:
        raise TypeError("envlock.processes.start sets preexec_fn itself")
    prctl = _prctl()
    if prctl is not None:
        options["preexec_fn"] = _die_with(os.getpid(), prctl)
    argv = list(args)
    return _spawn(lambda: subprocess.Popen(argv, text=text, **options))


@overload
def run(
    args: Sequence[str],
    *,
    text: Literal[True],
    input: str | None = None,
    timeout: float | None = None,
    check: bool = False,
    capture_output: bool = False,
    **options: Any,
) -> subprocess.CompletedProcess[str]: ...
@overload
def run(
    args: Sequence[str],
    *,
    text: Literal[False] = ...,
    input: bytes | None = None,
    timeout: float | None = None,
    check: bool = False,
    capture_output: bool = False,
    **options: Any,
) -> subprocess.CompletedProcess[bytes]: ...
def run(
    args: Sequence[str],
    *,
    text: bool = False,
    input: str | bytes | None = None,  # the name subprocess.run gives it
    timeout: float | None = None,
    check: bool = False,
    capture_output: bool = False,
    **options: Any,
) -> subprocess.CompletedProcess[Any]:
    """`subprocess.run` through `start`: same arguments, same results, same TimeoutExpired."""
    if capture_output:
        options["stdout"] = options["stderr"] = subprocess.PIPE
    if input is not None:
        options["stdin"] = subprocess.PIPE
    with start(args, text=text, **options) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        except BaseException:
            proc.kill()
            raise
        code = proc.wait()
    if check and code:
        raise subprocess.CalledProcessError(code, proc.args, out, err)
    return subprocess.CompletedProcess(proc.args, code, out, err)
