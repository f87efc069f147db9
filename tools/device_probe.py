"""Probe what envlock's verification flagged on the device: entry kinds and per-arch counts of the
fatbin sections of the named libraries, and whether cuFFT really runs (torch.fft on the GPU).

usage: python tools/device_probe.py LIB...
"""

from __future__ import annotations

import collections
import struct
import sys
from pathlib import Path

from envlock.inspect.elf import read_sections


def probe(path: Path) -> None:
    with path.open("rb") as f:
        sections = read_sections(f, str(path), path.stat().st_size)
        names = [s.name for s in sections if "nv" in s.name.lower() or "fatbin" in s.name.lower()]
        sys.stdout.write(f"{path.name}: sections {names}\n")
        for s in sections:
            if s.name not in (".nv_fatbin", "__nv_relfatbin"):
                continue
            f.seek(s.offset)
            data = f.read(s.size)
            kinds: collections.Counter[tuple[int, int, int]] = collections.Counter()
            pos = 0
            while pos + 16 <= len(data):
                magic, _, hs, fs = struct.unpack_from("<IHHQ", data, pos)
                if magic != 0xBA55ED50:
                    pos += 8
                    continue
                e, end = pos + hs, pos + hs + fs
                while e + 64 <= end:
                    kind, ehs, payload = struct.unpack_from("<HxxIQ", data, e)
                    arch = struct.unpack_from("<I", data, e + 0x1C)[0]
                    flags = struct.unpack_from("<Q", data, e + 0x28)[0]
                    kinds[(kind, arch, flags & 0x300000)] += 1
                    e += ehs + payload
                pos = end
            sys.stdout.write(f"  {s.name} {s.size} bytes: (kind, arch, a/f flags) -> count\n")
            for key, count in sorted(kinds.items()):
                sys.stdout.write(f"    {key}: {count}\n")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        probe(Path(arg))
    try:
        import torch

        x = torch.randn(4096, device="cuda")
        y = torch.fft.ifft(torch.fft.fft(x)).real
        error = (x - y).abs().max().item()
        sys.stdout.write(f"cuFFT round trip on {torch.cuda.get_device_name()}: max error {error:.2e}\n")
    except Exception as exc:
        sys.stdout.write(f"cuFFT round trip failed: {type(exc).__name__}: {exc}\n")
