"""Strings from locks, specs and indexes made safe to show: URLs without credentials, controls escaped.

Every URL envlock prints, writes into a lock or a message, or keys a cache by goes through
`redact_url` (one URL) or `redact_text` (URLs inside free text such as uv's error output): the
userinfo is dropped entirely, because a token used as a user name is as secret as a password.
`escape_controls` makes a string from a lock or spec inert on a terminal: escape sequences
(screen clearing, OSC 8 hyperlinks), carriage returns and bidirectional overrides are shown as
`\\x1b`-style escapes instead of being acted on.
"""

from __future__ import annotations

import re

# scheme://userinfo@: everything up to the last '@' before the path, query or fragment (where
# the authority ends). Plain string matching: urlsplit refuses some userinfo (a '[' reads as an
# IPv6 host) and would turn a broken URL into a crash instead of a redacted message.
_USERINFO_IN_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
# The same anywhere in a text, where a blank also ends the URL.
_USERINFO_IN_TEXT = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@")

# C0 controls and DEL, C1 controls (0x9b is a CSI on some terminals), and the Unicode
# bidirectional formatting characters that reorder what a terminal shows.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def redact_url(url: str) -> str:
    """`url` without its userinfo (`https://user:token@host/x` -> `https://host/x`)."""
    return _USERINFO_IN_URL.sub(r"\g<scheme>", url, count=1)


def redact_text(text: str) -> str:
    """`text` with the userinfo of every `scheme://user:secret@host` in it removed."""
    return _USERINFO_IN_TEXT.sub(r"\g<scheme>", text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with control characters shown as escapes (`\\x1b`, `\\r`, `\\u202e`).

    `keep_newlines` leaves line feeds alone, for messages that are meant to span lines; a value
    from a lock (a version, a target name) is shown on one line.
    """
    if keep_newlines:
        return "\n".join(_CONTROLS.sub(_escape, line) for line in text.split("\n"))
    return _CONTROLS.sub(_escape, text)


def shown(text: str) -> str:
    """A string from a lock, spec or index as a terminal shows it: one line, credentials removed."""
    return escape_controls(redact_text(text))
