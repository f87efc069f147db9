"""Knowledge-base files: parse and validate one TOML file into typed rows (a `KbFragment`).

The same format serves the built-in data (`envlock/kb/data/*.toml`) and the user's own files; see the
`envlock.kb` module docstring for the format. Every problem raises `SpecError` naming the file and the key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from envlock import _toml
from envlock.errors import SpecError
from envlock.kb.model import (
    DRIVER_RE,
    VARIANT_RE,
    ComputeCapability,
    CudaFamily,
    CudaToolkit,
    GpuDriverLimit,
    GpuInfo,
    PypiDefault,
    TorchBuild,
    parse_driver,
    variant_cuda,
)
from envlock.platforms import PLATFORMS
from envlock.tables import TableReader, did_you_mean, quote_key

FORMAT_VERSION = 1
STATUSES = ("confirmed", "corroborated", "unconfirmed")
USER_STATUS = "user"

_CUDA_RE = re.compile(r"^\d+\.\d+$")
_PYTHON_RE = re.compile(r"^3\.\d+t?$")
_CCS: dict[ComputeCapability, ComputeCapability] = {}

_TOP_KEYS = (
    "format",
    "sources",
    "gpus",
    "tegra",
    "cuda_family",
    "cuda",
    "gpu_driver_limits",
    "pypi_default",
    "torch",
)
_GPU_KEYS = ("cc", "family", "source", "status", "aliases", "note")
_TEGRA_KEYS = ("source", "status", "note")
_FAMILY_KEYS = ("mvc_min_driver_linux", "mvc_min_driver_windows", "source", "status", "note")
_CUDA_KEYS = ("family", "min_driver_linux", "min_driver_windows", "source", "status", "note")
_LIMIT_KEYS = (
    "label",
    "cc_major",
    "cc_exclude",
    "min_driver_linux",
    "min_driver_windows",
    "max_branch",
    "source",
    "status",
    "note",
)
_DEFAULT_KEYS = (*PLATFORMS, "source", "note")
_TORCH_KEYS = (
    "release",
    "variant",
    "platform",
    "cuda",
    "sass",
    "ptx",
    "cudnn",
    "nccl",
    "python",
    "source",
    "status",
    "note",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class KbFragment:
    """The rows of one knowledge-base file, validated; later fragments override earlier ones."""

    path: Path
    data: bytes  # the exact bytes read, for the digest
    sources: Mapping[str, str]
    gpus: tuple[GpuInfo, ...]
    tegra: tuple[ComputeCapability, ...]
    families: tuple[CudaFamily, ...]
    toolkits: tuple[CudaToolkit, ...]
    driver_limits: tuple[GpuDriverLimit, ...]
    pypi_defaults: tuple[PypiDefault, ...]
    builds: tuple[TorchBuild, ...]


def read_kb_file(path: Path) -> bytes:
    """The bytes of a knowledge-base file; SpecError naming it when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SpecError(
            f"{path}: cannot read knowledge-base file: {exc.strerror or exc}",
            hint="check the path in [resolution] knowledge-base or ENVLOCK_KB",
        ) from exc


def read_fragment(path: Path, *, user: bool) -> KbFragment:
    """Read and validate one knowledge-base file (see `parse_fragment`)."""
    return parse_fragment(path, read_kb_file(path), user=user)


def parse_fragment(path: Path, data: bytes, *, user: bool) -> KbFragment:
    """Validate the bytes `data` of the knowledge-base file `path`.

    `user` files may leave out `source` and `status`; their rows get status "user" whatever they say.
    """
    try:
        raw = _toml.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: knowledge-base file is not UTF-8 text", hint="save it as UTF-8") from exc
    except _toml.TOMLDecodeError as exc:
        pos = _toml.error_position(exc)
        where = f"{path}:{pos[0]}:{pos[1]}" if pos else str(path)
        raise SpecError(
            f"{where}: not valid TOML: {_toml.error_text(exc)}",
            hint="fix the TOML syntax at that position",
            details={"file": str(path), "line": pos[0] if pos else None},
        ) from exc
    return _Reader(path, user).fragment(raw, data)


class _Reader(TableReader):
    """Walks one parsed file; `fail` builds the error for a key path."""

    list_items = True  # a list is quoted with its items: `cc_major = ["10"]` shows what is wrong

    def __init__(self, path: Path, user: bool) -> None:
        self.path = path
        self.user = user

    def fail(self, key: str, what: str, expected: str, hint: str | None = None) -> SpecError:
        return SpecError(
            f"{self.path}: {key}: {what}, expected {expected}",
            hint=hint,
            details={"file": str(self.path), "key": key},
        )

    def fragment(self, raw: Mapping[str, Any], data: bytes) -> KbFragment:
        self.check_keys("", raw, _TOP_KEYS)
        fmt = raw.get("format", FORMAT_VERSION)
        if fmt != FORMAT_VERSION:
            raise self.fail(
                "format",
                f"{fmt!r} is not a supported format",
                f"{FORMAT_VERSION}",
                hint="this file was written for another envlock version",
            )
        sources = self.table("sources", raw)
        for key, text in sources.items():
            self.string(f"sources.{quote_key(key)}", text)
        return KbFragment(
            path=self.path,
            data=data,
            sources=dict(sources),
            gpus=tuple(self.gpu(name, row) for name, row in self.table("gpus", raw).items()),
            tegra=tuple(self.tegra(cc, row) for cc, row in self.table("tegra", raw).items()),
            families=tuple(self.family(m, row) for m, row in self.table("cuda_family", raw).items()),
            toolkits=tuple(self.toolkit(v, row) for v, row in self.table("cuda", raw).items()),
            driver_limits=tuple(
                self.limit(k, row) for k, row in self.table("gpu_driver_limits", raw).items()
            ),
            pypi_defaults=tuple(
                self.pypi_default(r, row) for r, row in self.table("pypi_default", raw).items()
            ),
            builds=self.builds(raw.get("torch", [])),
        )

    # -- generic checks -------------------------------------------------------------------------

    def row(self, key: str, value: object, allowed: Sequence[str]) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"{self.quote(value)} is not a table", "an inline table { ... }")
        self.check_keys(key, value, allowed)
        return value

    def string(self, key: str, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"{self.quote(value)} is not a non-empty string", "a quoted string")
        return value

    def optional(self, key: str, row: Mapping[str, Any], check: Callable[[str, object], str]) -> str | None:
        return None if key not in row else check(key, row[key])

    def strings(self, key: str, value: object) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(key, f"{self.quote(value)} is not a list", "a list of strings")
        return tuple(self.string(f"{key}[{i}]", v) for i, v in enumerate(value))

    def driver(self, key: str, value: object) -> str:
        text = self.string(key, value)
        try:
            parse_driver(text)
        except ValueError:
            raise self.fail(
                key, f"{self.quote(value)} is not a driver version", 'digits like "550.54.15"'
            ) from None
        return text

    def cc(self, key: str, value: object) -> ComputeCapability:
        text = self.string(key, value)
        try:
            cc = ComputeCapability.parse(text)
        except ValueError:
            raise self.fail(
                key, f"{self.quote(value)} is not a compute capability", '"sm_90" or "9.0"'
            ) from None
        # One object per capability: the rows name a few dozen over a thousand times, and the
        # cached knowledge base (envlock.kb.cache) then stores and loads each once.
        return _CCS.setdefault(cc, cc)

    def version(self, key: str, value: object) -> str:
        text = self.string(key, value)
        try:
            Version(text)
        except InvalidVersion:
            raise self.fail(key, f"{self.quote(value)} is not a version", 'a release like "2.5.1"') from None
        return text

    def source(self, key: str, row: Mapping[str, Any]) -> str:
        if "source" in row:
            return self.string(f"{key}.source", row["source"])
        if self.user:
            return f"user file {self.path.name}"
        raise self.fail(f"{key}.source", "missing", "the source id(s) of this row")

    def status(self, key: str, row: Mapping[str, Any]) -> str:
        if "status" not in row:
            if self.user:
                return USER_STATUS
            raise self.fail(f"{key}.status", "missing", " | ".join(STATUSES))
        status = self.string(f"{key}.status", row["status"])
        if status not in STATUSES:
            raise self.fail(f"{key}.status", f"{self.quote(status)} is not a status", " | ".join(STATUSES))
        return USER_STATUS if self.user else status

    # -- tables ---------------------------------------------------------------------------------

    def gpu(self, name: str, value: object) -> GpuInfo:
        key = f"gpus.{quote_key(name)}"
        row = self.row(key, value, _GPU_KEYS)
        if "cc" not in row:
            raise self.fail(f"{key}.cc", "missing", 'the compute capability, like "9.0"')
        aliases = self.strings(f"{key}.aliases", row["aliases"]) if "aliases" in row else ()
        family = self.string(f"{key}.family", row["family"]) if "family" in row else "unknown"
        return GpuInfo(
            name=name,
            cc=self.cc(f"{key}.cc", row["cc"]),
            family=family,
            source=self.source(key, row),
            status=self.status(key, row),
            aliases=aliases,
        )

    def tegra(self, cc: str, value: object) -> ComputeCapability:
        key = f"tegra.{quote_key(cc)}"
        row = self.row(key, value, _TEGRA_KEYS)
        self.source(key, row)
        self.status(key, row)
        return self.cc(key, cc)

    def family(self, major: str, value: object) -> CudaFamily:
        key = f"cuda_family.{quote_key(major)}"
        row = self.row(key, value, _FAMILY_KEYS)
        if not major.isdigit():
            raise self.fail(key, f"{major!r} is not a CUDA major version", 'a number like "12"')
        if "mvc_min_driver_linux" not in row:
            raise self.fail(
                f"{key}.mvc_min_driver_linux", "missing", 'the MVC driver floor, like "525.60.13"'
            )
        linux = self.driver(f"{key}.mvc_min_driver_linux", row["mvc_min_driver_linux"])
        windows = self.optional("mvc_min_driver_windows", row, lambda k, v: self.driver(f"{key}.{k}", v))
        self.status(key, row)
        return CudaFamily(
            major=int(major),
            mvc_min_driver_linux=linux,
            mvc_min_driver_windows=windows or linux,
            source=self.source(key, row),
        )

    def toolkit(self, version: str, value: object) -> CudaToolkit:
        key = f"cuda.{quote_key(version)}"
        row = self.row(key, value, _CUDA_KEYS)
        if not _CUDA_RE.match(version):
            raise self.fail(key, f"{version!r} is not a CUDA version", 'X.Y like "12.4"')
        family = row.get("family", int(version.split(".")[0]))
        if not isinstance(family, int) or isinstance(family, bool):
            raise self.fail(
                f"{key}.family", f"{self.quote(family)} is not a number", "the CUDA major, like 12"
            )
        self.status(key, row)
        return CudaToolkit(
            version=version,
            min_driver_linux=self.optional(
                "min_driver_linux", row, lambda k, v: self.driver(f"{key}.{k}", v)
            ),
            min_driver_windows=self.optional(
                "min_driver_windows", row, lambda k, v: self.driver(f"{key}.{k}", v)
            ),
            family=family,
            source=self.source(key, row),
        )

    def limit(self, name: str, value: object) -> GpuDriverLimit:
        key = f"gpu_driver_limits.{quote_key(name)}"
        row = self.row(key, value, _LIMIT_KEYS)
        majors = row.get("cc_major")
        if (
            not isinstance(majors, list)
            or not majors
            or not all(isinstance(m, int) and not isinstance(m, bool) for m in majors)
        ):
            raise self.fail(
                f"{key}.cc_major", f"{self.quote(majors)} is not a list of numbers", "e.g. [10, 12]"
            )
        exclude = self.strings(f"{key}.cc_exclude", row["cc_exclude"]) if "cc_exclude" in row else ()
        max_branch = row.get("max_branch")
        if max_branch is not None and (not isinstance(max_branch, int) or isinstance(max_branch, bool)):
            raise self.fail(
                f"{key}.max_branch", f"{self.quote(max_branch)} is not a number", "a branch like 580"
            )
        limit = GpuDriverLimit(
            key=name,
            label=self.string(f"{key}.label", row.get("label", name)),
            cc_major=tuple(majors),
            cc_exclude=tuple(self.cc(f"{key}.cc_exclude[{i}]", c) for i, c in enumerate(exclude)),
            min_driver_linux=self.optional(
                "min_driver_linux", row, lambda k, v: self.driver(f"{key}.{k}", v)
            ),
            min_driver_windows=self.optional(
                "min_driver_windows", row, lambda k, v: self.driver(f"{key}.{k}", v)
            ),
            max_branch=max_branch,
            source=self.source(key, row),
            status=self.status(key, row),
        )
        if limit.min_driver_linux is None and limit.max_branch is None:
            raise self.fail(key, "neither min_driver_linux nor max_branch is set", "at least one of them")
        return limit

    def pypi_default(self, release: str, value: object) -> PypiDefault:
        key = f"pypi_default.{quote_key(release)}"
        row = self.row(key, value, _DEFAULT_KEYS)
        self.version(key, release)
        variants: dict[str, str] = {}
        for platform in PLATFORMS:
            if platform in row:
                variants[platform] = self.variant(f"{key}.{platform}", row[platform])
        return PypiDefault(release=release, variants=variants, source=self.source(key, row))

    def variant(self, key: str, value: object) -> str:
        text = self.string(key, value)
        if not VARIANT_RE.match(text):
            raise self.fail(
                key,
                f"{self.quote(value)} is not a torch variant",
                '"cpu" or "cu" + CUDA digits, like "cu124"',
            )
        return text

    def builds(self, value: object) -> tuple[TorchBuild, ...]:
        if not isinstance(value, list):
            raise self.fail("torch", f"{self.quote(value)} is not a list of rows", "[[torch]] tables")
        seen: dict[tuple[Version, str, str], int] = {}
        out = []
        for i, item in enumerate(value):
            build = self.build(f"torch[{i}]", item)
            ident = (Version(build.release), build.variant, build.platform)
            if ident in seen:
                raise self.fail(
                    f"torch[{i}]",
                    f"duplicates torch[{seen[ident]}] ({build.release} {build.variant} {build.platform})",
                    "one row per release, variant and platform",
                )
            seen[ident] = i
            out.append(build)
        return tuple(out)

    def build(self, key: str, value: object) -> TorchBuild:
        row = self.row(key, value, _TORCH_KEYS)
        for required in ("release", "variant", "platform"):
            if required not in row:
                raise self.fail(f"{key}.{required}", "missing", _REQUIRED_TORCH[required])
        release = self.version(f"{key}.release", row["release"])
        variant = self.variant(f"{key}.variant", row["variant"])
        platform = self.string(f"{key}.platform", row["platform"])
        if platform not in PLATFORMS:
            raise self.fail(
                f"{key}.platform",
                f"{self.quote(platform)} is not a platform",
                " | ".join(PLATFORMS),
                hint=did_you_mean(platform, PLATFORMS),
            )
        implied = variant_cuda(variant)
        cuda = self.optional("cuda", row, lambda k, v: self.string(f"{key}.{k}", v))
        if cuda is not None and cuda != implied:
            expected = f'"{implied}" (what {variant} stands for)' if implied else "no cuda for a cpu build"
            raise self.fail(f"{key}.cuda", f"{self.quote(cuda)} does not match variant {variant}", expected)
        archs: dict[str, tuple[ComputeCapability, ...]] = {}
        for field in ("sass", "ptx"):
            items = self.strings(f"{key}.{field}", row.get(field, []))
            archs[field] = tuple(self.cc(f"{key}.{field}[{j}]", a) for j, a in enumerate(items))
        python = self.strings(f"{key}.python", row.get("python", []))
        for j, tag in enumerate(python):
            if not _PYTHON_RE.match(tag):
                raise self.fail(
                    f"{key}.python[{j}]", f"{self.quote(tag)} is not a Python version", 'X.Y like "3.11"'
                )
        return TorchBuild(
            release=release,
            variant=variant,
            platform=platform,
            cuda=implied,
            sass=tuple(sorted(set(archs["sass"]))),
            ptx=tuple(sorted(set(archs["ptx"]))),
            cudnn=self.optional("cudnn", row, self.dotted_version_in(key)),
            nccl=self.optional("nccl", row, self.dotted_version_in(key)),
            source=self.source(key, row),
            status=self.status(key, row),
            python=python,
        )

    def dotted_version_in(self, prefix: str) -> Callable[[str, object], str]:
        def check(key: str, value: object) -> str:
            text = self.string(f"{prefix}.{key}", value)
            if not DRIVER_RE.match(text):
                raise self.fail(
                    f"{prefix}.{key}", f"{self.quote(value)} is not a version", 'digits like "9.1.0.70"'
                )
            return text

        return check


_REQUIRED_TORCH = {
    "release": 'the torch release, like "2.5.1"',
    "variant": 'the variant, like "cu124" or "cpu"',
    "platform": " | ".join(PLATFORMS),
}
