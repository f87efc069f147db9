"""How the CLI talks: data to stdout, messages to stderr, errors with hints, JSON on request."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TextIO

from envlock.errors import EnvlockError


def _color_enabled(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()


class Console:
    """Messages for people on stderr; progress only when stderr is a terminal, phases always."""

    def __init__(self, *, verbose: bool = False, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self.color = _color_enabled(self.stream)
        self._started = time.monotonic()

    def _paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def step(self, message: str) -> None:
        if self.tty and not self.quiet:
            elapsed = time.monotonic() - self._started
            self.stream.write(self._paint(f"[{elapsed:5.1f}s] ", "2") + message + "\n")
            self.stream.flush()

    def phase(self, message: str) -> None:
        """One line per phase of long work, with the seconds since the command started. Written on
        a terminal and off it (a batch job's log has nothing else to show); --quiet drops it."""
        if self.quiet:
            return
        elapsed = time.monotonic() - self._started
        if self.tty:
            self.stream.write(self._paint(f"[{elapsed:5.1f}s] ", "2") + message + "\n")
        else:
            self.stream.write(f"envlock: [{elapsed:.1f}s] {message}\n")
        self.stream.flush()

    def info(self, message: str) -> None:
        if not self.quiet:
            self.stream.write(message + "\n")

    def warn(self, message: str) -> None:
        self.stream.write(self._paint("warning: ", "33;1") + message + "\n")

    def error(self, err: EnvlockError) -> None:
        self.stream.write(self._paint("error: ", "31;1") + err.message + "\n")
        if err.hint:
            for line in err.hint.splitlines():
                self.stream.write(self._paint("hint: ", "36;1") + line + "\n")


def print_json(document: object) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


def error_document(err: EnvlockError) -> dict[str, object]:
    """The `--json` error form of DESIGN §7."""
    body: dict[str, object] = {"kind": err.kind, "message": err.message}
    if err.hint:
        body["hint"] = err.hint
    body.update(err.details)
    return {"error": body}
