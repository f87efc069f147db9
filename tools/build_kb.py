#!/usr/bin/env python3
"""Regenerate envlock's built-in knowledge base (`envlock/kb/data/*.toml`) from a research `compat.toml`.

Usage: python tools/build_kb.py PATH/TO/compat.toml [-o OUTPUT_DIR] [--redist DIR]...

With `--redist`, NVIDIA's redist manifests (cuda_redistrib_X.Y.Z.json, which name the driver each toolkit
bundles) give a native driver to CUDA minors compat.toml does not confirm (13.3-13.5 today); such rows
are "corroborated". The shipped data was built with the manifests of reference/redist (12.4.1, 12.8.2,
13.0.2), whose minors compat.toml already confirms, so they changed nothing; no manifest for 13.3-13.5
was at hand, and those rows stay "unconfirmed".

The output is deterministic (sorted, no timestamps beyond the snapshot date of the input) and made to be
reviewed in a diff: one row per line. Facts that `compat.toml` keeps only in prose (`compat.md`: more GPU
names, the PyPI default build of macOS, the Kepler driver limit) are written below as small tables, each
citing a source id of `compat.toml`'s `[sources]`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

FORMAT = 1
PLATFORM_X86 = "linux-x86_64"
PLATFORM_ARM = "linux-aarch64"
PLATFORM_WIN = "windows-amd64"
PLATFORM_MAC = "macos-arm64"

# Sources this tool adds to those of compat.toml; each states how envlock derived the rows that cite it.
EXTRA_SOURCES = {
    "compat-md": "envlock research notes (compat.md) snapshot 2026-11-27: prose facts not in compat.toml",
    "envlock-windows-from-linux": (
        "envlock assumption: a Windows CUDA wheel carries at least the SASS of the same release's Linux "
        "x86_64 build (a third-party report, corridorkey-141, shows a superset on Windows); not verified"
    ),
    "not-on-nvidia-table": (
        "GPU variants NVIDIA's CUDA GPUs page does not list (A10G, H800, A800); capability of the GPU "
        "they derive from (compat.md §6: unconfirmed)"
    ),
    "envlock-cpu-build": "envlock rule: a cpu build carries no GPU code and pins no CUDA, cuDNN or NCCL",
    "envlock-gpu-by-architecture": (
        "envlock: GPU names nvidia-smi prints (H20, L20, L2, more GeForce/Quadro/RTX parts) whose compute "
        "capability is that of their architecture generation; not transcribed from NVIDIA's table"
    ),
    "nv-relnotes-13.5": (
        "https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/ (CUDA 13.3, 13.4 and 13.5 release notes "
        "exist, cudart 13.3.29 / 13.4.x / 13.5.37; their driver table was not transcribed: native driver "
        "unconfirmed)"
    ),
    "envlock-variant-assumed": (
        "envlock assumption for a variant a release lists (PYTORCH_RELEASES_CODE_CC) but no primary source "
        "describes: the architectures of the nearest described build of the same CUDA major; the solver "
        "reads each wheel's own arch list and the wheel wins"
    ),
    "design-cpu-only": (
        "envlock DESIGN §3 and compat.md §1: the default index's Windows and macOS torch wheels are CPU-only "
        "(checked for Windows 2.0.1, 2.5.1, 2.9.1, 2.11.0, 2.15.0)"
    ),
}

# compat.md §6 (NVIDIA CUDA GPUs page) lists more GPU names than compat.toml's [gpus] table; the rows added
# here use the same sources. (name, cc, family, source, status, aliases)
EXTRA_GPUS: tuple[tuple[str, str, str, str, str, tuple[str, ...]], ...] = (
    ("GeForce GTX 750", "5.0", "Maxwell", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce GTX 970", "5.2", "Maxwell", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce GTX 980 Ti", "5.2", "Maxwell", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce GTX 1050", "6.1", "Pascal", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce GTX 1060", "6.1", "Pascal", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce GTX 1070", "6.1", "Pascal", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce GTX 1080", "6.1", "Pascal", "nv-cuda-gpus", "confirmed", ()),
    ("TITAN Xp", "6.1", "Pascal", "nv-cuda-gpus", "confirmed", ()),
    ("Quadro GV100", "7.0", "Volta", "nv-cuda-gpus", "confirmed", ()),
    ("Jetson Xavier NX", "7.2", "Volta (Tegra)", "nv-cuda-gpus", "confirmed", ()),
    ("Quadro RTX 6000", "7.5", "Turing", "nv-cuda-gpus-old", "corroborated", ()),
    ("Quadro RTX 5000", "7.5", "Turing", "nv-cuda-gpus-old", "corroborated", ()),
    ("Quadro RTX 4000", "7.5", "Turing", "nv-cuda-gpus-old", "corroborated", ()),
    ("GeForce RTX 2080", "7.5", "Turing", "nv-cuda-gpus-old", "corroborated", ()),
    ("GeForce RTX 2070", "7.5", "Turing", "nv-cuda-gpus-old", "corroborated", ()),
    ("GeForce RTX 2060", "7.5", "Turing", "nv-cuda-gpus-old", "corroborated", ()),
    ("GeForce GTX 1660 Ti", "7.5", "Turing", "nv-cuda-gpus-old", "corroborated", ()),
    ("GeForce GTX 1660", "7.5", "Turing", "nv-cuda-gpus-old", "corroborated", ()),
    ("GeForce GTX 1650", "7.5", "Turing", "nv-cuda-gpus-old", "corroborated", ()),
    ("A800", "8.0", "Ampere", "none (China-market A100 variant; not on NVIDIA table)", "unconfirmed", ()),
    ("RTX A5000", "8.6", "Ampere", "nv-cuda-gpus", "confirmed", ("A5000",)),
    ("RTX A4000", "8.6", "Ampere", "nv-cuda-gpus", "confirmed", ("A4000",)),
    ("RTX A2000", "8.6", "Ampere", "nv-cuda-gpus", "confirmed", ("A2000",)),
    ("GeForce RTX 3080 Ti", "8.6", "Ampere", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce RTX 3080", "8.6", "Ampere", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce RTX 3070", "8.6", "Ampere", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce RTX 3060", "8.6", "Ampere", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce RTX 3050", "8.6", "Ampere", "nv-cuda-gpus", "confirmed", ()),
    ("Jetson Orin NX", "8.7", "Ampere (Tegra)", "nv-cuda-gpus", "confirmed", ()),
    ("RTX 5000 Ada", "8.9", "Ada Lovelace", "nv-cuda-gpus", "confirmed", ()),
    ("RTX 4500 Ada", "8.9", "Ada Lovelace", "nv-cuda-gpus", "confirmed", ()),
    ("RTX 4000 Ada", "8.9", "Ada Lovelace", "nv-cuda-gpus", "confirmed", ()),
    ("RTX 2000 Ada", "8.9", "Ada Lovelace", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce RTX 4080", "8.9", "Ada Lovelace", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce RTX 4070 Ti", "8.9", "Ada Lovelace", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce RTX 4070", "8.9", "Ada Lovelace", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce RTX 4060 Ti", "8.9", "Ada Lovelace", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce RTX 4060", "8.9", "Ada Lovelace", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce RTX 4050", "8.9", "Ada Lovelace", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce RTX 5070", "12.0", "Blackwell (consumer)", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce RTX 5060 Ti", "12.0", "Blackwell (consumer)", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce RTX 5060", "12.0", "Blackwell (consumer)", "nv-cuda-gpus", "confirmed", ()),
    ("GeForce RTX 5050", "12.0", "Blackwell (consumer)", "nv-cuda-gpus", "confirmed", ()),
    ("RTX PRO 5000 Blackwell", "12.0", "Blackwell (workstation/server)", "nv-cuda-gpus", "confirmed", ()),
    ("RTX PRO 4500 Blackwell", "12.0", "Blackwell (workstation/server)", "nv-cuda-gpus", "confirmed", ()),
    ("RTX PRO 4000 Blackwell", "12.0", "Blackwell (workstation/server)", "nv-cuda-gpus", "confirmed", ()),
    ("RTX PRO 2000 Blackwell", "12.0", "Blackwell (workstation/server)", "nv-cuda-gpus", "confirmed", ()),
    ("TITAN RTX", "7.5", "Turing", "nv-cuda-gpus-old", "corroborated", ()),
    *(
        (name, cc, family, "envlock-gpu-by-architecture", "unconfirmed", ())
        for cc, family, names in (
            ("5.2", "Maxwell", ("GeForce GTX 950", "GeForce GTX 960", "GeForce GTX TITAN X", "Tesla M4",
                                "Tesla M6", "Quadro M2000", "Quadro M4000", "Quadro M5000", "Quadro M6000")),
            ("6.0", "Pascal", ("Quadro GP100",)),
            ("6.1", "Pascal", ("GeForce GTX 1050 Ti", "GeForce GTX 1070 Ti", "TITAN X (Pascal)", "Tesla P6",
                               "Quadro P2000", "Quadro P4000", "Quadro P5000", "Quadro P6000")),
            ("7.5", "Turing", ("GeForce GTX 1650 Ti", "Quadro RTX 3000", "Quadro T1000", "Quadro T2000",
                               "T400", "T600", "T1000")),
            ("8.6", "Ampere", ("GeForce RTX 3050 Ti", "GeForce RTX 3060 Ti", "GeForce RTX 3070 Ti",
                               "GeForce RTX 3090 Ti", "RTX A1000", "RTX A4500", "RTX A5500", "A10M")),
            ("8.9", "Ada Lovelace", ("L20", "L2", "RTX 3500 Ada", "RTX 4000 SFF Ada")),
            ("9.0", "Hopper", ("H20",)),
        )
        for name in names
    ),
)

# compat.toml spells a few names with a parenthesised nickname; the row keeps the plain name and the nickname
# becomes an alias. Other aliases: the names people commonly write.
RENAMES = {
    "Jetson T5000 (AGX Thor)": ("Jetson T5000", ("Jetson AGX Thor",)),
    "GB10 (DGX Spark)": ("GB10", ("DGX Spark",)),
}
ALIASES = {
    "RTX A6000": ("A6000",),
    "Quadro RTX 8000": ("RTX 8000",),
    # What nvidia-smi prints on Jetson modules ("Orin (nvgpu)", "NVIDIA Thor").
    "Jetson AGX Orin": ("Orin",),
    "Jetson T5000": ("Thor",),
}

# compat.md §2/§6: Tegra (Jetson) parts; 10.1 is Jetson Thor as numbered before CUDA 13 (sm_101 -> sm_110).
TEGRA = (
    ("5.3", "nv-cuda-guide-binary,pypi-torch-cuda-init", "Jetson Nano"),
    ("6.2", "nv-cuda-guide-binary,pypi-torch-cuda-init", "Jetson TX2"),
    ("7.2", "nv-cuda-guide-binary,pypi-torch-cuda-init", "Jetson AGX Xavier / Xavier NX"),
    ("8.7", "nv-cuda-guide-binary,pypi-torch-cuda-init", "Jetson Orin"),
    (
        "10.1",
        "cuda13-sm110,pypi-torch-cuda-init",
        "Jetson Thor under CUDA 12.8/12.9 (renumbered 11.0 in CUDA 13)",
    ),
    ("11.0", "cuda13-sm110,pypi-torch-cuda-init", "Jetson Thor"),
)

# CUDA minors compat.toml does not list yet (release notes seen, driver table not transcribed).
EXTRA_TOOLKITS = (("13.5", 13, "nv-relnotes-13.5"),)

# Variants a release lists in torch/cuda/__init__.py (PYTORCH_RELEASES_CODE_CC) that compat.toml keeps
# only as `unconfirmed_variants`: (release, variant, CUDA, release and variant whose rows they copy).
EXTRA_VARIANTS = (
    ("2.15.0", "cu126", "12.6", "2.14.1", "cu126"),
    ("2.15.0", "cu130", "13.0", "2.14.1", "cu130"),
    ("2.15.0", "cu134", "13.4", "2.15.0", "cu132"),
)

_VERSION_RE = re.compile(r"^\d+(\.\d+)+$")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("compat", type=Path, help="path to the research compat.toml")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "envlock" / "kb" / "data",
        help="directory to write the data files to (default: envlock/kb/data of this checkout)",
    )
    parser.add_argument(
        "--redist",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a directory of NVIDIA redist manifests (cuda_redistrib_X.Y.Z.json); the driver each toolkit "
        "bundles stands in for a native driver compat.toml does not confirm (repeatable)",
    )
    args = parser.parse_args(argv)
    with args.compat.open("rb") as f:
        compat = tomllib.load(f)
    files = build(compat, redist=bundled_drivers(args.redist))
    args.output.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.output / name).write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote {args.output / name}\n")
    return 0


def bundled_drivers(directories: Iterable[Path]) -> dict[str, tuple[str, str]]:
    """CUDA X.Y -> (release label, Linux driver bundled with it) from NVIDIA's redist manifests.

    The earliest release of each X.Y counts: its bundled driver is the lowest known to run it natively.
    """
    found: dict[str, tuple[str, str]] = {}
    for directory in directories:
        # NVIDIA names them redistrib_X.Y.Z.json; copies from other trees add a cuda_ prefix
        for path in sorted({*directory.glob("cuda_redistrib_*.json"), *directory.glob("redistrib_*.json")}):
            manifest = json.loads(path.read_text(encoding="utf-8"))
            label = str(manifest.get("release_label", ""))
            driver = manifest.get("nvidia_driver", {}).get("version")
            if not _VERSION_RE.match(label) or not isinstance(driver, str):
                continue
            xy = ".".join(label.split(".")[:2])
            if xy not in found or _version_key(label) < _version_key(found[xy][0]):
                found[xy] = (label, driver)
    return found


def build(compat: Mapping[str, Any], redist: Mapping[str, tuple[str, str]] | None = None) -> dict[str, str]:
    """Turn a parsed compat.toml into the text of each data file, keyed by file name.

    `redist` (from `bundled_drivers`) gives a native driver to toolkits compat.toml lists without one (or
    does not list): the driver NVIDIA bundles with the toolkit runs it natively, though the GA minimum may
    be lower, so such rows are "corroborated", not "confirmed".
    """
    redist = redist or {}
    compat = _with_bundled_drivers(compat, redist)
    snapshot = str(compat.get("meta", {}).get("generated", "unknown"))
    header = (
        f"# Generated by tools/build_kb.py from compat.toml (research snapshot {snapshot}).\n"
        "# Do not edit by hand: change the input or the tool and regenerate.\n"
        "# Format: see the envlock.kb module docstring. status: confirmed | corroborated | unconfirmed\n"
        f"format = {FORMAT}\n\n"
    )
    return {
        "sources.toml": header + _sources(compat),
        "gpus.toml": header + _gpus(compat),
        "cuda.toml": header + _cuda(compat),
        "torch.toml": header + _torch(compat),
    }


def _with_bundled_drivers(compat: Mapping[str, Any], redist: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    out = dict(compat)
    toolkits = {k: dict(v) for k, v in compat["cuda"].items()}
    sources = dict(compat["sources"])
    for xy, (label, driver) in redist.items():
        row = toolkits.get(xy)
        if row is not None and _driver_or_none(row.get("min_driver_linux")):
            continue  # a confirmed GA driver stays
        major = xy.split(".")[0]
        source = f"nv-redist-{label}"
        sources[source] = f"NVIDIA redist manifest cuda_redistrib_{label}.json: nvidia_driver {driver}"
        toolkits[xy] = {
            "mvc_family": (row or {}).get("mvc_family", major),
            "min_driver_linux": driver,
            "src": [source],
            "status": "corroborated",
            "note": f"the driver bundled with CUDA {label}; the GA minimum may be lower",
        }
    out["cuda"] = toolkits
    out["sources"] = sources
    return out


def _sources(compat: Mapping[str, Any]) -> str:
    sources = dict(compat["sources"])
    sources.update(EXTRA_SOURCES)
    lines = ["[sources]"]
    lines += [f"{_key(k)} = {_str(v)}" for k, v in sorted(sources.items())]
    return "\n".join(lines) + "\n"


def _gpus(compat: Mapping[str, Any]) -> str:
    rows: list[tuple[str, str, str, str, str, tuple[str, ...]]] = []
    for name, row in compat["gpus"].items():
        plain, aliases = RENAMES.get(name, (name, ()))
        aliases = aliases + ALIASES.get(plain, ())
        rows.append((plain, row["cc"], row["family"], row["src"], row["status"], aliases))
    known = {r[0] for r in rows}
    rows += [r for r in EXTRA_GPUS if r[0] not in known]
    rows.sort(key=lambda r: (_cc_key(r[1]), r[0]))
    lines = [
        "# GPU name -> compute capability. Lookup ignores case, spaces, dashes and a leading",
        "# NVIDIA / Tesla / GeForce / Quadro.",
        "[gpus]",
    ]
    for name, cc, family, src, status, aliases in rows:
        note = None
        if src.startswith("none"):
            src, note = "not-on-nvidia-table", src.removeprefix("none").strip(" ()")
        fields: dict[str, Any] = {"cc": cc, "family": family, "source": src, "status": status}
        if aliases:
            fields["aliases"] = list(aliases)
        if note:
            fields["note"] = note
        lines.append(f"{_key(name)} = {_inline(fields)}")
    lines += [
        "",
        "# Compute capabilities of Tegra (Jetson) parts: desktop cubins do not run on them before CUDA 13.2.",
        "[tegra]",
    ]
    for cc, src, note in TEGRA:
        lines.append(f"{_key(cc)} = {_inline({'source': src, 'status': 'confirmed', 'note': note})}")
    return "\n".join(lines) + "\n"


def _cuda(compat: Mapping[str, Any]) -> str:
    lines = ["# CUDA major family -> minor-version-compatibility (MVC) driver floor.", "[cuda_family]"]
    for major, row in sorted(compat["cuda_family"].items(), key=lambda kv: int(kv[0])):
        fields = {
            "mvc_min_driver_linux": row["mvc_min_driver_linux"],
            "mvc_min_driver_windows": row["mvc_min_driver_windows"],
            "source": ",".join(row["src"]),
            "status": "confirmed",
        }
        lines.append(f"{_key(major)} = {_inline(fields)}")
    lines += [
        "",
        "# CUDA X.Y toolkit -> driver its GA release needs natively (release notes Table 3).",
        "# A missing driver means unconfirmed: such a toolkit can only run under MVC.",
        "[cuda]",
    ]
    toolkits = dict(compat["cuda"])
    for version, family, source in EXTRA_TOOLKITS:
        toolkits.setdefault(version, {"mvc_family": str(family), "src": [source]})
    for version, row in sorted(toolkits.items(), key=lambda kv: _version_key(kv[0])):
        linux = _driver_or_none(row.get("min_driver_linux"))
        windows = _driver_or_none(row.get("min_driver_windows"))
        fields = {"family": int(row["mvc_family"])}
        if linux:
            fields["min_driver_linux"] = linux
        if windows:
            fields["min_driver_windows"] = windows
        fields["source"] = ",".join(row.get("src", ["nv-relnotes-13.2.2"]))
        fields["status"] = row.get("status", "confirmed" if linux else "unconfirmed")
        if row.get("note"):
            fields["note"] = row["note"]
        lines.append(f"{_key(version)} = {_inline(fields)}")
    lines += [
        "",
        "# Driver limits of GPU generations (compat.md §4.3). min_driver: the oldest driver that runs",
        "# them; max_branch: the last driver branch that supports them (Linux numbering; Windows driver",
        "# numbers run past the branch number, so max_branch is not applied there).",
        "[gpu_driver_limits]",
    ]
    floor = compat["gpu_driver_floor"]
    bw = floor["blackwell"]
    lines.append(
        "blackwell = "
        + _inline(
            {
                "label": "Blackwell",
                "cc_major": bw["cc_major"],
                "min_driver_linux": bw["min_driver_linux"],
                "min_driver_windows": "570.65",
                "source": ",".join(bw["src"]),
                "status": bw["status"],
                "note": "Windows floor = CUDA 12.8 Windows GA driver, by the same reasoning (unconfirmed)",
            }
        )
    )
    mpv = floor["maxwell_pascal_volta_max_branch"]
    lines.append(
        "maxwell-pascal-volta = "
        + _inline(
            {
                "label": "Maxwell, Pascal and Volta",
                "cc_major": mpv["cc_major"],
                "cc_exclude": mpv["cc_exclude"],
                "max_branch": int(str(mpv["max_driver_branch"]).lstrip("R")),
                "source": ",".join(mpv["src"]),
                "status": mpv["status"],
            }
        )
    )
    lines.append(
        "kepler = "
        + _inline(
            {
                "label": "Kepler",
                "cc_major": [3],
                "max_branch": 470,
                "source": "compat-md,nv-r580-last",
                "status": "corroborated",
            }
        )
    )
    return "\n".join(lines) + "\n"


def _torch(compat: Mapping[str, Any]) -> str:
    releases = sorted(compat["torch"].items(), key=lambda kv: _version_key(kv[0]))
    # `torch` is a top-level array, so it must come before the first [table] header of the file.
    lines = [
        "# torch release x variant x platform -> what the wheel carries. sass/ptx: compiled architectures.",
        "torch = [",
    ]
    for release, rel in releases:
        variants = [(v["cuda"], variant, v) for variant, v in rel["variants"].items()]
        variants += [(cuda, variant, None) for r, variant, cuda, _, _ in EXTRA_VARIANTS if r == release]
        for _, variant, v in sorted(variants, key=lambda item: _version_key(item[0])):
            if v:
                rows = list(_torch_rows(release, rel, variant, v))
            else:
                rows = list(_assumed_rows(compat, release, rel, variant))
            for row in rows:
                lines.append(f"  {_inline(row)},")
    lines += [
        "]",
        "",
        "# Which variant the plain wheel of the default index is, per release and platform.",
        "[pypi_default]",
    ]
    for release, rel in releases:
        fields = {
            PLATFORM_X86: rel["pypi_default_linux_x86_64"],
            PLATFORM_ARM: rel["pypi_default_linux_aarch64"],
            PLATFORM_WIN: rel["pypi_windows"],
            PLATFORM_MAC: "cpu",
            "source": "pypi-simple,pypi-metadata,design-cpu-only",
        }
        lines.append(f"{_key(release)} = {_inline(fields)}")
    return "\n".join(lines) + "\n"


def _torch_rows(
    release: str, rel: Mapping[str, Any], variant: str, v: Mapping[str, Any]
) -> Iterable[dict[str, Any]]:
    cudnn, cudnn_note = _version_or_note(v.get("cudnn"))
    nccl, nccl_note = _version_or_note(v.get("nccl"))
    common: dict[str, Any] = {"release": release, "variant": variant}
    pins = {"cuda": v["cuda"]}
    if cudnn:
        pins["cudnn"] = cudnn
    if nccl:
        pins["nccl"] = nccl
    notes = [n for n in (cudnn_note and f"cudnn: {cudnn_note}", nccl_note and f"nccl: {nccl_note}") if n]

    status, status_note = _status(v["archs_status"])
    x86 = {
        **common,
        "platform": PLATFORM_X86,
        **pins,
        "sass": list(v["archs"]),
        "ptx": list(v.get("ptx", [])),
        "python": list(v["python"]),
        "status": status,
        "source": ",".join(_unique([*v["archs_src"], *v.get("cudnn_src", []), *v.get("nccl_src", [])])),
    }
    x86_notes = notes + ([status_note] if status_note else []) + ([v["note"]] if v.get("note") else [])
    if v.get("ptx") and v.get("ptx_status"):
        x86_notes.append(f"ptx: {v['ptx_status']}")
    if x86_notes:
        x86["note"] = "; ".join(x86_notes)
    yield x86

    if "archs_aarch64" in v:
        status, status_note = _status(v["archs_aarch64_status"])
        arm = {
            **common,
            "platform": PLATFORM_ARM,
            **pins,
            "sass": list(v["archs_aarch64"]),
            "ptx": [],
            "python": list(rel["python_linux_aarch64"]),
            "status": status,
            "source": ",".join(_unique([*v["archs_aarch64_src"], *v.get("cudnn_src", [])])),
        }
        arm_notes = notes + ([status_note] if status_note else [])
        if arm_notes:
            arm["note"] = "; ".join(arm_notes)
        yield arm

    win = {
        **common,
        "platform": PLATFORM_WIN,
        **pins,
        "sass": list(v["archs"]),
        "ptx": [],
        "python": list(v["python"]),
        "status": "unconfirmed",
        "source": ",".join(_unique(["envlock-windows-from-linux", *v["archs_src"]])),
    }
    yield win


def _assumed_rows(
    compat: Mapping[str, Any], release: str, rel: Mapping[str, Any], variant: str
) -> Iterable[dict[str, Any]]:
    """Rows for an EXTRA_VARIANTS entry: copies of a described build, marked unconfirmed."""
    _, _, cuda, base_release, base_variant = next(e for e in EXTRA_VARIANTS if e[:2] == (release, variant))
    base_rel = compat["torch"].get(base_release)
    if base_rel is None or base_variant not in base_rel["variants"]:
        return []
    rows = []
    for row in _torch_rows(base_release, base_rel, base_variant, base_rel["variants"][base_variant]):
        assumed = {
            "release": release,
            "variant": variant,
            "platform": row["platform"],
            "cuda": cuda,
            "sass": row["sass"],
            "ptx": row["ptx"],
            "python": list(rel.get("python_linux_x86_64", row["python"])),
            "status": "unconfirmed",
            "source": "pypi-torch-cuda-init,envlock-variant-assumed",
            "note": f"architectures assumed from torch {base_release} {base_variant}; cuDNN/NCCL unknown",
        }
        rows.append(assumed)
    return rows


def _status(text: str) -> tuple[str, str | None]:
    word, _, rest = text.partition(" ")
    if word not in ("confirmed", "corroborated", "unconfirmed"):
        raise SystemExit(f"unknown status {text!r}")
    rest = rest.strip().strip("()")
    return word, (rest or None)


def _version_or_note(text: object) -> tuple[str | None, str | None]:
    if not isinstance(text, str) or not text:
        return None, None
    if _VERSION_RE.match(text):
        return text, None
    return None, text


def _driver_or_none(text: object) -> str | None:
    if isinstance(text, str) and re.match(r"^\d+(\.\d+)*$", text):
        return text
    return None


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _cc_key(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor)


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) and not name.replace(".", "").isdigit() else _str(name)


def _str(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{out}"'


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return _inline(value)
    raise TypeError(f"cannot write {value!r}")


def _inline(fields: Mapping[str, object]) -> str:
    return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in fields.items()) + " }"


if __name__ == "__main__":
    sys.exit(main())
