"""The platform names envlock targets, shared by the spec and the knowledge base."""

PLATFORMS = ("linux-x86_64", "linux-aarch64", "windows-amd64", "macos-arm64")

# What users type for a platform, by OS word and machine word. envlock does not map these silently:
# the lock and its hash record one canonical name, and "amd64" or "arm64" alone do not say the OS.
# A spec with one of them gets an error that names the platform to write instead.
_OS_WORDS = {
    "linux": "linux",
    "manylinux": "linux",
    "win": "windows",
    "windows": "windows",
    "win32": "windows",
    "win64": "windows",
    "mac": "macos",
    "macos": "macos",
    "macosx": "macos",
    "osx": "macos",
    "darwin": "macos",
}
_MACHINE_WORDS = {
    "x86_64": "x86_64",
    "x86-64": "x86_64",
    "amd64": "x86_64",
    "x64": "x86_64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv8": "arm64",
}
_CANONICAL = {
    ("linux", "x86_64"): "linux-x86_64",
    ("linux", "arm64"): "linux-aarch64",
    ("windows", "x86_64"): "windows-amd64",
    ("macos", "arm64"): "macos-arm64",
}


def suggest_platforms(text: str) -> tuple[str, ...]:
    """The platform names a user most likely meant by `text` ("linux-amd64" -> linux-x86_64), best first."""
    norm = text.strip().lower().replace("x86_64", "x64").replace("x86-64", "x64")
    words = [w for w in norm.replace("_", "-").replace(" ", "-").split("-") if w]
    os_word = next((_OS_WORDS[w] for w in words if w in _OS_WORDS), None)
    machine = next((_MACHINE_WORDS[w] for w in words if w in _MACHINE_WORDS), None)
    if os_word is None and machine is None:
        return ()
    out = [
        name
        for (o, m), name in _CANONICAL.items()
        if (os_word is None or o == os_word) and (machine is None or m == machine)
    ]
    if os_word is None:  # "amd64", "arm64" alone: Linux first, the cluster case
        out.sort(key=lambda n: not n.startswith("linux"))
    return tuple(out)
