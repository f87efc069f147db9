"""The local path of a `file://` URL's path part, as `urllib.request.url2pathname` gives it.

Written out because importing `urllib.request` loads `http.client`, `ssl` and `socket`: a solve
whose index pages are all fresh in the cache makes no request and should not pay for them.
"""

from __future__ import annotations

import os
from urllib.parse import unquote


def url2pathname(path: str) -> str:
    """The file system path of the percent-encoded path of a `file://` URL."""
    if os.name == "nt":
        from nturl2path import url2pathname as windows_path

        return windows_path(path)
    return unquote(path)
