"""How the CLI talks: data to stdout, messages to stderr, errors with hints, JSON on request.

Messages often quote strings from a lock, a spec or an index (a target name, a version, a URL, a
resolver's output): every message is shown without URL credentials and with control characters
escaped (`envlock.display`), so that no such string can drive the terminal or leak a password.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TextIO

from envlock.display import escape_controls, redact_text
from envlock.errors import EnvlockError


def _message(text: str) -> str:
    return escape_controls(redact_text(text), keep_newlines=True)


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
            self.stream.write(self._paint(f"[{elapsed:5.1f}s] ", "2") + _message(message) + "\n")
            self.stream.flush()

    def phase(self, message: str) -> None:
        """One line per phase of long work, with the seconds since the command started. Written on
        a terminal and off it (a batch job's log has nothing else to show); --quiet drops it."""
        if self.quiet:
            return
        elapsed = time.monotonic() - self._started
        if self.tty:
            self.stream.write(self._paint(f"[{elapsed:5.1f}s] ", "2") + _message(message) + "\n")
        else:
            self.stream.write(f"envlock: [{elapsed:.1f}s] {_message(message)}\n")
        self.stream.flush()

    def info(self, message: str) -> None:
        if not self.quiet:
            self.stream.write(_message(message) + "\n")

    def warn(self, message: str) -> None:
        self.stream.write(self._paint("warning: ", "33;1") + _message(message) + "\n")

    def error(self, err: EnvlockError) -> None:
        self.stream.write(self._paint("error: ", "31;1") + _message(err.message) + "\n")
        if err.hint:
            for line in _message(err.hint).splitlines():
                self.stream.write(self._paint("hint: ", "36;1") + line + "\n")


def print_json(document: object) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


def error_document(err: EnvlockError) -> dict[str, object]:
    """The `--json` error form of architecture.md §7 (URLs without credentials; JSON escapes controls)."""
    body: dict[str, object] = {"kind": err.kind, "message": redact_text(err.message)}
    if err.hint:
        body["hint"] = redact_text(err.hint)
    body.update({k: redact_text(v) if isinstance(v, str) else v for k, v in err.details.items()})
    return {"error": body}
