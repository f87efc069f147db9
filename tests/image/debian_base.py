"""A base image with Python, built from real Debian packages (debootstrap --variant=minbase) and
packed as an OCI layout by umoci. Built once and cached under the user's cache directory, keyed by
the machine's apt configuration (the mirror is read from it at run time, never written here)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

TOOLS = ("debootstrap", "umoci")


@dataclass(frozen=True)
class DebianBase:
    layout: Path
    tag: str
    python: str  # X.Y of Debian's python3

    @property
    def ref(self) -> str:
        return f"oci:{self.layout}:{self.tag}"


def _apt_sources() -> list[Path]:
    root = Path("/etc/apt")
    found = [root / "sources.list"] if (root / "sources.list").is_file() else []
    found += sorted(p for p in (root / "sources.list.d").glob("*") if p.suffix in (".list", ".sources"))
    return found


def mirror_and_suite() -> tuple[str, str] | None:
    """The first Debian mirror URL and suite of this machine's apt configuration, if any."""
    for path in _apt_sources():
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(
                    (m.group(1).lower(), m.group(2).strip())
                    for m in re.finditer(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M)
                )
                if "deb" in fields.get("types", "").split() and "security" not in fields.get("uris", ""):
                    return fields["uris"].split()[0], fields["suites"].split()[0]
        else:
            for line in text.splitlines():
                m = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
                if m and "security" not in m.group(1):
                    return m.group(1), m.group(2)
    return None


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "envlock-tests"


def build_base() -> DebianBase:
    """The cached base image (built now when missing). Raises RuntimeError when it cannot be built."""
    found = mirror_and_suite()
    if found is None:
        raise RuntimeError("no Debian mirror in /etc/apt/sources.list*")
    mirror, suite = found
    key = hashlib.sha256("\n".join([mirror, suite, "minbase+python3", "1"]).encode()).hexdigest()[:16]
    final = cache_root() / f"debian-base-{key}"
    meta = final / "envlock-test-base.json"
    if meta.is_file():
        doc = json.loads(meta.read_text())
        return DebianBase(layout=final, tag="base", python=doc["python"])
    final.parent.mkdir(parents=True, exist_ok=True)
    work = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    layout, bundle = work / "layout", work / "bundle"
    try:
        _run(["umoci", "init", "--layout", str(layout)])
        _run(["umoci", "new", "--image", f"{layout}:base"])
        _run(["umoci", "unpack", "--image", f"{layout}:base", str(bundle)])
        _run(
            ["debootstrap", "--variant=minbase", "--include=python3", suite, str(bundle / "rootfs"), mirror],
            timeout=1200,
        )
        pythons = sorted((bundle / "rootfs" / "usr" / "bin").glob("python3.*"))
        version = next((m.group(1) for p in pythons if (m := re.fullmatch(r"python(3\.\d+)", p.name))), None)
        if version is None:
            raise RuntimeError("debootstrap installed no python3.X")
        # debootstrap leaves apt's package cache behind; a smaller base is faster for every test.
        shutil.rmtree(bundle / "rootfs" / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        _run(["umoci", "repack", "--image", f"{layout}:base", str(bundle)], timeout=1200)
        _run(["umoci", "gc", "--layout", str(layout)])
        (layout / "envlock-test-base.json").write_text(json.dumps({"python": version}))
        try:
            layout.rename(final)
        except OSError:
            if not meta.is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return DebianBase(layout=final, tag="base", python=json.loads(meta.read_text())["python"])


def _run(args: list[str], timeout: float = 600) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
