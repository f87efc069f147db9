"""Render a `LockDiff` as text (optionally coloured), Markdown for a PR comment, or JSON; and one
lock as the line-oriented "textconv" view that git's own line diff turns into a semantic summary.

Every renderer is a pure function of its input: the same diff gives the same bytes, in the order
of `LockDiff.targets` (the new lock's targets, then removed ones) and `KIND_ORDER`.

Every string that comes from a lock or a spec (versions, names, reasons, URLs, the sides' names)
is treated as hostile: URLs lose their credentials everywhere; text output shows control
characters escaped (`envlock.display.shown`); Markdown passes each string through the escaper of
the context it lands in (`_md_text` for table cells and list items, `_md_code` for code spans,
`_html_text` inside the `<summary>` HTML), so that no backtick, pipe, HTML tag, newline,
`</details>`, image or link syntax, @mention or #reference can leave its place in a PR comment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from envlock.diff.archs import SassLookup
from envlock.diff.model import (
    KIND_ORDER,
    STACK_FIELDS,
    DiffWarning,
    LockDiff,
    LockSide,
    PackageChange,
    StackChange,
    TargetDiff,
    ValueChange,
)
from envlock.display import redact_text, shown
from envlock.lock.digest import compute_content_hash
from envlock.lock.model import Lock, LockedTarget

JSON_SCHEMA = "envlock-diff/1"

STACK_LABELS: dict[str, str] = {
    "variant": "variant",
    "torch": "torch",
    "cuda": "CUDA runtime",
    "cudnn": "cuDNN",
    "nccl": "NCCL",
    "toolkit": "CUDA toolkit",
    "requires-driver": "requires driver",
    "compat": "compatibility",
    "gpus": "target GPUs",
    "driver": "target driver floor",
    "python": "Python",
    "platform": "platform",
    "glibc": "glibc",
}


def format_size(n: int, *, signed: bool = False) -> str:
    """Bytes in decimal units, one decimal: `1.1 GB`, `+340.2 MB`, `-12 B`."""
    sign = ("+" if n > 0 else "-" if n < 0 else "±") if signed else ("-" if n < 0 else "")
    v = abs(n)
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if v >= scale:
            return f"{sign}{v / scale:.1f} {unit}"
    return f"{sign}{v} B"


def _none(v: str | None) -> str:
    return v if v is not None else "none"


# ------------------------------------------------------------------------------------- headlines


def _stack_phrases(s: StackChange, arrow: str) -> list[str]:
    """The changed stack values as reviewer phrases, in STACK_FIELDS order."""
    out: list[str] = []
    for f in s.changed:
        if f.field == "variant":
            out.append(f"{_none(f.old)} {arrow} {_none(f.new)}")
        elif f.field == "requires-driver":
            if f.new is None:
                out.append(f"the locked stack no longer needs an NVIDIA driver (was {f.old})")
            else:
                was = f"was {f.old}" if f.old else "needed none before"
                out.append(f"the locked stack now needs driver >= {f.new} ({was})")
        else:
            out.append(f"{STACK_LABELS[f.field]} {_none(f.old)} {arrow} {_none(f.new)}")
    archs: list[str] = []
    if s.sass_lost:
        archs.append("dropped: " + ", ".join(s.sass_lost))
    if s.sass_gained:
        archs.append("gained: " + ", ".join(s.sass_gained))
    if archs:
        out.append("GPU architectures " + " and ".join(archs))
    return out


def _stack_values(s: StackChange, side: str) -> list[str]:
    """What a new (side="new") or removed (side="old") target holds, as phrases."""

    def value(name: str) -> str | None:
        f = s.get(name)
        return f.new if side == "new" else f.old

    out = [_none(value("variant"))]
    for name in ("torch", "cuda", "cudnn", "nccl", "toolkit"):
        v = value(name)
        if v is not None:
            out.append(f"{STACK_LABELS[name]} {v}")
    if value("requires-driver"):
        out.append(f"needs driver >= {value('requires-driver')}")
    if value("compat"):
        out.append(f"compatibility {value('compat')}")
    sass = s.sass_new if side == "new" else s.sass_old
    if sass:
        out.append("GPU architectures " + ", ".join(sass))
    out.append(f"Python {value('python')}")
    out.append(_none(value("platform")))
    return out


def _counts(t: TargetDiff) -> str:
    parts = [f"{len(t.of_kind(k))} {k}" for k in KIND_ORDER if t.of_kind(k)]
    return ", ".join(parts)


def headline(t: TargetDiff, *, arrow: str = "->") -> str:
    """One line per target: the CUDA stack first, then package counts and the download delta."""
    if t.status == "unchanged":
        return f"{t.name}: unchanged"
    if t.status == "added":
        vals = ", ".join(_stack_values(t.stack, "new"))
        size = format_size(t.download_new)
        return f"{t.name}: new target: {vals}; {len(t.packages)} packages, download {size}"
    if t.status == "removed":
        vals = ", ".join(_stack_values(t.stack, "old"))
        return (
            f"{t.name}: removed target (was {vals}; {len(t.packages)} packages, "
            f"download {format_size(t.download_old)})"
        )
    phrases = _stack_phrases(t.stack, arrow) or ["CUDA stack unchanged"]
    tail: list[str] = []
    if t.packages:
        tail.append("packages: " + _counts(t))
    if t.download_delta:
        tail.append(f"download {format_size(t.download_delta, signed=True)}")
    if not t.packages and t.other:
        tail.append(", ".join(f"{o.field} changed" for o in t.other))
    return f"{t.name}: " + ", ".join(phrases) + ("; " + "; ".join(tail) if tail else "")


# ------------------------------------------------------------------------------------------ text


def _painter(color: bool) -> Callable[[str, str], str]:
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    return paint


_KIND_COLOR = {"added": "32", "removed": "31", "upgraded": "36", "downgraded": "35", "changed": "33"}


def _package_line(p: PackageChange) -> str:
    if p.kind == "added":
        line = f"{p.name} {p.new_version}"
    elif p.kind == "removed":
        line = f"{p.name} {p.old_version}"
    elif p.old_version == p.new_version:
        line = f"{p.name} {p.new_version}"
    else:
        line = f"{p.name} {p.old_version} -> {p.new_version}"
    if p.reasons:
        line += " (" + ", ".join(p.reasons) + ")"
    if p.size_delta:
        line += f"  {format_size(p.size_delta, signed=True)}"
    return line


def _index_moves(t: TargetDiff) -> list[tuple[str, str, int]]:
    """(old index, new index, how many packages) for packages that kept their name but moved."""
    moves: dict[tuple[str, str], int] = {}
    for p in t.packages:
        if p.old_index is not None and p.new_index is not None and p.old_index != p.new_index:
            key = (p.old_index, p.new_index)
            moves[key] = moves.get(key, 0) + 1
    return [(o, n, c) for (o, n), c in sorted(moves.items())]


def _shown_files(p: PackageChange) -> list[str]:
    # A package that moved index has new URLs by construction; say so once (the index line),
    # not once per file.
    moved = p.old_index != p.new_index
    return [_file_line(f.file, f.change, f.old, f.new) for f in p.files if not (moved and f.change == "url")]


def _short_hash(v: str | None) -> str | None:
    if v is not None and v.startswith("sha256:") and len(v) > 19:
        return v[:19] + "…"
    return v


def _file_line(f_file: str, change: str, old: str | None, new: str | None) -> str:
    if change == "added":
        return f"+ {f_file}"
    if change == "removed":
        return f"- {f_file}"
    if change == "order":
        return f"file order: {old} -> {new}"
    return f"{f_file}: {change} {_none(old)} -> {_none(new)}"


def render_text(diff: LockDiff, *, color: bool = False) -> str:
    """The terminal review: warnings, one headline per target, then the details per target.

    Lock strings are shown with `shown` (credentials removed, control characters escaped) before
    any colour is added, so only envlock's own escape sequences reach the terminal.
    """
    paint = _painter(color)
    out = [paint(shown(f"envlock diff {diff.old.source} -> {diff.new.source}"), "1")]
    out += [paint("warning: ", "33;1") + shown(w.message) for w in diff.warnings]
    if diff.empty:
        out.append("no differences")
        return "\n".join(out) + "\n"
    out.append("")
    for t in diff.targets:
        line, name = shown(headline(t)), shown(t.name)
        out.append(paint(name, "1") + line[len(name) :])
    for t in diff.targets:
        if t.empty:
            continue
        out += ["", paint(shown(t.name), "1")]
        for kind in KIND_ORDER:
            items = t.of_kind(kind)
            if not items:
                continue
            out.append(f"  {kind} ({len(items)}):")
            for p in items:
                out.append("    " + paint(shown(_package_line(p)), _KIND_COLOR[kind]))
                out += [f"      {shown(line)}" for line in _shown_files(p)]
        for o_index, n_index, count in _index_moves(t):
            out.append(shown(f"  index: {o_index} -> {n_index} ({count} packages)"))
        if t.status in ("added", "removed") or t.download_delta:
            out.append(
                f"  download: {format_size(t.download_old)} -> {format_size(t.download_new)} "
                f"({format_size(t.download_delta, signed=True)})"
            )
        out += [
            shown(f"  {o.field}: {_none(_short_hash(o.old))} -> {_none(_short_hash(o.new))}") for o in t.other
        ]
        out += [shown(f"  rejected {r.field}: {_none(r.old)} -> {_none(r.new)}") for r in t.rejected]
    if diff.inputs:
        out += ["", paint("spec inputs", "1")]
        out += [shown(f"  {c.field}: {_none(c.old)} -> {_none(c.new)}") for c in diff.inputs]
    if diff.lock:
        out += ["", paint("lock", "1")]
        out += [
            shown(f"  {c.field}: {_none(_short_hash(c.old))} -> {_none(_short_hash(c.new))}")
            for c in diff.lock
        ]
    return "\n".join(out) + "\n"


# -------------------------------------------------------------------------------------- markdown


# Characters with a meaning inside a Markdown (GFM) line, and how each is shown as itself. '@' and
# '#' keep their backslash and get a zero-width space after them: GitHub finds @mentions and
# #references in the rendered text, where a backslash escape is already gone.
_MD_INLINE = {c: "\\" + c for c in "\\`*[]!~|$"} | {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "@": "\\@&#8203;",
    "#": "\\#&#8203;",
}
_MD_INLINE_RE = re.compile("[" + re.escape("".join(_MD_INLINE)) + "]")
# `_` emphasises only at a word's edge (`sm_90` stays as it is); `scheme://` and `www.` autolink.
_MD_CONTEXTUAL = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|:(?=//)|(?i:(?<=www)\.)")
_LIST_START = re.compile(r"^([-+=]|\d+[.)])")  # a list marker or setext line where a line starts


def _md_text(text: str, *, line_start: bool = False) -> str:
    """`text` as inert Markdown text: one line, no credentials, every special character escaped.

    Safe in a table cell and inside a paragraph; with `line_start`, also where a Markdown line
    begins (a list item), where `-`, `+`, `1.` would start a block.
    """
    text = _MD_INLINE_RE.sub(lambda m: _MD_INLINE[m.group()], shown(text))
    text = _MD_CONTEXTUAL.sub(lambda m: "\\" + m.group(), text)
    if line_start:
        text = _LIST_START.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], text.lstrip())
    return text


def _md_code(text: str | None, *, table: bool = True) -> str:
    """`text` as a code span (empty for none): a fence longer than any backtick run inside.

    In a table cell a `|` would end the cell even inside a code span; such a value is shown as
    escaped text instead.
    """
    if not text:
        return ""
    text = shown(text)
    if table and "|" in text:
        return _md_text(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_HTML_TEXT = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
_HTML_TEXT |= {"@": "@&#8203;", "#": "#&#8203;"}  # see _MD_INLINE
_HTML_TEXT_RE = re.compile("[" + re.escape("".join(_HTML_TEXT)) + "]")


_HTML_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?i:(?<=www)(?=\.))")


def _html_text(text: str) -> str:
    """`text` as inert text inside an HTML block (`<summary>`), where Markdown is not parsed.

    A zero-width space also splits `scheme://` and `www.`, which a linker of rendered text would
    otherwise turn into links.
    """
    text = _HTML_TEXT_RE.sub(lambda m: _HTML_TEXT[m.group()], shown(text))
    return _HTML_AUTOLINK.sub("&#8203;", text)


def _md_value(f: ValueChange) -> str:
    if not f.changed:
        return _md_text(_none(f.old)) if f.old is not None else ""
    return f"{_md_text(_none(f.old))} → **{_md_text(_none(f.new))}**"


def _md_archs(s: StackChange) -> str:
    if s.sass_old is None and s.sass_new is None:
        return ""
    if s.sass_old is None or s.sass_new is None:
        return _md_text(", ".join(s.sass_new or s.sass_old or ()))
    parts = [f"−{a}" for a in s.sass_lost] + [f"+{a}" for a in s.sass_gained]
    return _md_text(" ".join(parts)) if parts else "unchanged"


def _md_driver(f: ValueChange, compat: ValueChange) -> str:
    def ge(v: str | None) -> str:
        return f"≥ {_md_text(v)}" if v else "none"

    text = f"{ge(f.old)} → **{ge(f.new)}**" if f.changed else (ge(f.old) if f.old else "")
    if compat.changed:
        text += f" ({_md_text(_none(compat.old))} → **{_md_text(_none(compat.new))}**)"
    return text


def _md_summary_row(t: TargetDiff) -> str:
    s = t.stack
    name = f"**{_md_text(t.name)}**"
    if t.status in ("added", "removed"):
        name += f" ({'new' if t.status == 'added' else 'removed'})"

        def side(field: str) -> str:
            f = s.get(field)
            v = f.new if t.status == "added" else f.old
            return _md_text(v) if v is not None else ""

        sass = s.sass_new if t.status == "added" else s.sass_old
        driver = side("requires-driver")
        cells = [
            name,
            side("variant"),
            side("torch"),
            side("cuda"),
            side("cudnn"),
            side("nccl"),
            f"≥ {driver}" if driver else "",
            _md_text(", ".join(sass)) if sass else "",
            f"{len(t.packages)} {t.status}",
            format_size(t.download_new if t.status == "added" else t.download_old),
        ]
    else:
        delta = (
            f"{format_size(t.download_new)} ({format_size(t.download_delta, signed=True)})"
            if t.download_delta
            else format_size(t.download_new)
        )
        cells = [
            name,
            _md_value(s.get("variant")),
            _md_value(s.get("torch")),
            _md_value(s.get("cuda")),
            _md_value(s.get("cudnn")),
            _md_value(s.get("nccl")),
            _md_driver(s.get("requires-driver"), s.get("compat")),
            _md_archs(s),
            _counts(t) or "unchanged",
            delta,
        ]
    return "| " + " | ".join(cells) + " |"


def _md_target(t: TargetDiff) -> list[str]:
    summary = _html_text(headline(t, arrow="→").removeprefix(t.name + ": "))
    out = ["<details>", f"<summary><b>{_html_text(t.name)}</b>: {summary}</summary>", ""]
    s = t.stack
    out += ["| CUDA stack | old | new |", "|---|---|---|"]
    for name in STACK_FIELDS:
        f = s.get(name)
        if f.old is None and f.new is None:
            continue
        new = f"**{_md_text(_none(f.new))}**" if f.changed else _md_text(_none(f.new))
        old = _md_text(_none(f.old))
        out.append(f"| {STACK_LABELS[name]} | {old} | {new} |")
    if s.sass_old is not None or s.sass_new is not None:
        lost_gained = []
        if s.sass_lost:
            lost_gained.append("dropped " + ", ".join(s.sass_lost))
        if s.sass_gained:
            lost_gained.append("gained " + ", ".join(s.sass_gained))
        new = ", ".join(s.sass_new or ())
        if lost_gained:
            new += " (" + "; ".join(lost_gained) + ")"
        old = _md_text(", ".join(s.sass_old or ())) or "none"
        out.append(f"| GPU architectures | {old} | {_md_text(new) or 'none'} |")
    out.append(
        f"| download | {format_size(t.download_old)} | {format_size(t.download_new)}"
        + (f" ({format_size(t.download_delta, signed=True)})" if t.download_delta else "")
        + " |"
    )
    if t.packages:
        out += ["", "| change | package | old | new | size | what changed |", "|---|---|---|---|---|---|"]
        for p in t.packages:
            what = _md_text(", ".join(p.reasons))
            hashed = [f.file for f in p.files if f.change == "hash"]
            if hashed:
                what += " ⚠️ sha256 of " + ", ".join(_md_code(h) for h in hashed)
            size = format_size(p.size_delta, signed=True) if p.size_delta else ""
            out.append(
                f"| {p.kind} | {_md_code(p.name)} | {_md_code(p.old_version)} | "
                f"{_md_code(p.new_version)} | {size} | {what} |"
            )
    extra = [*t.other, *(ValueChange(field=f"rejected {r.field}", old=r.old, new=r.new) for r in t.rejected)]
    if extra:
        out += ["", "| other | old | new |", "|---|---|---|"]
        out += [
            f"| {_md_text(c.field)} | {_md_text(_none(_short_hash(c.old)))} | "
            f"{_md_text(_none(_short_hash(c.new)))} |"
            for c in extra
        ]
    out += ["", "</details>", ""]
    return out


def _md_warnings(warnings: Sequence[DiffWarning]) -> list[str]:
    if not warnings:
        return []
    out = ["> [!WARNING]"]
    out += [f"> - {_md_text(w.message, line_start=True)}" for w in warnings]
    return [*out, ""]


def render_markdown(diff: LockDiff) -> str:
    """A PR comment: warnings, a summary table, one collapsible section per changed target."""
    out = [
        "### envlock lock diff",
        "",
        f"{_md_code(diff.old.source, table=False)} → {_md_code(diff.new.source, table=False)}",
        "",
    ]
    out += _md_warnings(diff.warnings)
    if diff.empty:
        out.append("No differences: the locks pin the same environments.")
        return "\n".join(out) + "\n"
    columns = ["target", "variant", "torch", "CUDA", "cuDNN", "NCCL", "needs driver"]
    columns += ["GPU architectures", "packages", "download"]
    out += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += [_md_summary_row(t) for t in diff.targets]
    out.append("")
    for t in diff.targets:
        if not t.empty:
            out += _md_target(t)
    for title, changes in (("Spec inputs", diff.inputs), ("Lock", diff.lock)):
        if changes:
            out += [f"| {title} | old | new |", "|---|---|---|"]
            out += [
                f"| {_md_code(c.field)} | {_md_code(_short_hash(c.old))} | "
                f"{_md_code(_short_hash(c.new))} |"
                for c in changes
            ]
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


# ------------------------------------------------------------------------------------------ JSON


def _vc(c: ValueChange) -> dict[str, object]:
    return {"field": c.field, "old": c.old, "new": c.new}


def _package_json(p: PackageChange) -> dict[str, object]:
    return {
        "name": p.name,
        "kind": p.kind,
        "old-version": p.old_version,
        "new-version": p.new_version,
        "old-index": p.old_index,
        "new-index": p.new_index,
        "old-size": p.old_size,
        "new-size": p.new_size,
        "reasons": list(p.reasons),
        "files": [{"file": f.file, "change": f.change, "old": f.old, "new": f.new} for f in p.files],
    }


def _target_json(t: TargetDiff) -> dict[str, object]:
    s = t.stack
    return {
        "name": t.name,
        "status": t.status,
        "headline": headline(t),
        "stack": {f.field: {"old": f.old, "new": f.new} for f in s.fields},
        "stack-changed": [f.field for f in s.changed],
        "architectures": {
            "old": list(s.sass_old) if s.sass_old is not None else None,
            "new": list(s.sass_new) if s.sass_new is not None else None,
            "gained": list(s.sass_gained),
            "lost": list(s.sass_lost),
            "kernels-lost": list(s.kernels_lost),
        },
        "download": {"old": t.download_old, "new": t.download_new, "delta": t.download_delta},
        "counts": {k: len(t.of_kind(k)) for k in KIND_ORDER},
        "packages": [_package_json(p) for p in t.packages],
        "other": [_vc(c) for c in t.other],
        "rejected": [{"variant": r.field, "old": r.old, "new": r.new} for r in t.rejected],
    }


def _redacted(value: object) -> object:
    """`value` with the credentials of every URL in its strings removed (JSON escapes the rest)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def to_json(diff: LockDiff) -> dict[str, object]:
    """The documented, stable JSON form (docs/lock-review.md); keys are only ever added.

    URLs carry no credentials; control characters are left to the JSON encoder to escape.
    """
    document = _document(diff)
    return {k: _redacted(v) for k, v in document.items()}


def _document(diff: LockDiff) -> dict[str, object]:

    def side(s: LockSide) -> dict[str, object]:
        return {
            "source": s.source,
            "lock-version": s.lock_version,
            "envlock-version": s.envlock_version,
            "content-hash": s.content_hash,
            "hand-edited": s.hand_edited,
        }

    return {
        "schema": JSON_SCHEMA,
        "old": side(diff.old),
        "new": side(diff.new),
        "empty": diff.empty,
        "warnings": [
            {"kind": w.kind, "target": w.target, "package": w.package, "message": w.message}
            for w in diff.warnings
        ],
        "targets": [_target_json(t) for t in diff.targets],
        "inputs": [_vc(c) for c in diff.inputs],
        "lock": [_vc(c) for c in diff.lock],
    }


# -------------------------------------------------------------------------------------- textconv


def _textconv_target(t: LockedTarget, sass: SassLookup | None) -> list[str]:
    n = t.name
    out = [
        f"target {n}: {t.platform}, glibc {t.glibc}, Python {t.python}",
        f"{n}: variant {t.variant}",
        f"{n}: torch {_none(t.torch)}",
        f"{n}: CUDA runtime {_none(t.cuda)}",
        f"{n}: cuDNN {_none(t.cudnn)}",
        f"{n}: NCCL {_none(t.nccl)}",
        f"{n}: requires driver {'>= ' + t.requires_driver if t.requires_driver else 'none'}",
        f"{n}: compatibility {_none(t.compat)}",
        f"{n}: target GPUs {', '.join(t.gpus) or 'none'}, driver floor {_none(t.driver)}",
    ]
    archs = sass.sass(t) if sass else None
    if archs is not None:
        out.append(f"{n}: GPU architectures {', '.join(archs)}")
    download = sum(a.size for p in t.packages for a in p.artifacts)
    out += [
        f"{n}: {len(t.packages)} packages, download {format_size(download)} ({download} bytes)",
        f"{n}: env hash {t.env_hash}",
        f"{n}: knowledge-base row {t.kb_status}",
    ]
    out += [
        f"{n}: rejected {r.variant}: {r.reason}" + (f" (fix: {r.fix})" if r.fix else "") for r in t.rejected
    ]
    for p in t.packages:
        out.append(f"{n}: package {p.name} {p.version} from {p.index}")
        for a in p.artifacts:
            flags = "".join(
                [
                    f" hash-source {a.hash_source}" if a.hash_source != "index" else "",
                    f" uploaded {a.upload_time}" if a.upload_time else "",
                    " YANKED" if a.yanked else "",
                ]
            )
            out.append(f"{n}:   {p.name} {p.version} {a.filename} {a.size} sha256:{a.sha256} {a.url}{flags}")
    return out


def render_textconv(lock: Lock, *, sass: SassLookup | None = None) -> str:
    """One lock as stable, line-per-fact text, made for git's `diff.<driver>.textconv`.

    Every line names its target and one fact, so git's line diff of two renderings reads as
    "-h100: variant cu124" / "+h100: variant cu128"; a file whose hash changed shows as one
    changed line with the same version. The order is the lock's own (already deterministic).
    """
    i = lock.inputs
    out = [
        "# envlock lock, textconv view (envlock diff --textconv); review with `envlock diff OLD NEW`",
        f"lock-version {lock.lock_version}, envlock {lock.envlock_version}, uv {lock.uv_version}",
        f"spec-hash {lock.spec_hash}",
    ]
    if compute_content_hash(lock) != lock.content_hash:
        out.append("WARNING: this lock was edited by hand (its content hash does not match)")
    out += [
        f"input name {i.name}",
        f"input python {i.python}",
        *(f"input dependency {d}" for d in i.dependencies),
        f"input cuda-version {_none(i.cuda_version)}",
        f"input cudnn {_none(i.cudnn)}",
        f"input nccl {_none(i.nccl)}",
        f"input driver-compat {i.driver_compat}",
        f"input allow-ptx {'true' if i.allow_ptx else 'false'}",
        f"input default-index {i.default_index}",
        f"input pytorch-index {_none(i.pytorch_index)}",
        *(f"input extra-index {x}" for x in i.extra_indexes),
        f"input exclude-newer {_none(i.exclude_newer)}",
        f"input knowledge-base {i.knowledge_base}",
        *(
            f"input target {t.name}: {t.platform}, glibc {t.glibc}, GPUs {', '.join(t.gpus) or 'none'}, "
            f"driver {_none(t.driver)}"
            for t in i.targets
        ),
    ]
    for t in lock.targets:
        out += ["", *_textconv_target(t, sass)]
    # git shows these lines on a terminal: each one without credentials or control characters.
    return "\n".join(shown(line) for line in out) + "\n"
