"""Turn a simple-API response body (PEP 691 JSON or PEP 503 HTML) into `IndexFile`s.

Both parsers produce the same values for the same page: absolute file URLs without fragment or
credentials, hashes as sorted `(algorithm, lowercase hex)` pairs, yanked flag plus reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from packaging.version import InvalidVersion, Version

from envlock.display import redact_url
from envlock.errors import IndexFormatError
from envlock.index.model import IndexFile

JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_CONTENT_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
SUPPORTED_MAJOR = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedPage:
    """The files of one page and the serial it declared, before it becomes a `ProjectPage`."""

    files: tuple[IndexFile, ...]
    serial: int | None


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header value (`text/html; charset=utf-8` -> `text/html`)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def parse_page(
    body: bytes, *, content_type: str | None, url: str, version: Version | None = None
) -> ParsedPage:
    """Parse a project page according to the Content-Type the server actually returned.

    With `version`, only the files of that release are read and returned (those whose
    `IndexFile.version` equals it); the page as a whole is still checked for its format.
    """
    kind = media_type(content_type)
    if kind == JSON_CONTENT_TYPE or kind == "application/json":
        return parse_json_page(body, url=url, version=version)
    if kind in HTML_CONTENT_TYPES:
        return parse_html_page(body, url=url, version=version)
    raise IndexFormatError(
        f"{redact_url(url)} answered with content type {kind or '(none)'!r}, not a simple-API page",
        hint="check that the URL points at a PEP 503/691 'simple' index (it usually ends in /simple/)",
        details={"url": redact_url(url), "content-type": kind},
    )


def _check_api_version(version: object, url: str) -> None:
    if version is None:
        return
    text = str(version)
    major, _, _ = text.partition(".")
    if not major.isdigit() or int(major) != SUPPORTED_MAJOR:
        raise IndexFormatError(
            f"{redact_url(url)} speaks simple-API version {text}; envlock understands 1.x",
            hint="upgrade envlock, or point it at an index that serves API version 1",
            details={"url": redact_url(url), "api-version": text},
        )


# The two shapes of file link real pages use, in the forms `urljoin` and `urlsplit` hand back
# unchanged: an absolute http(s) URL, and a path from the host's root (download.pytorch.org), of
# printable ASCII without userinfo, query, ';', blank or dot segment. Anything else goes through
# `urljoin`. Pages list tens of thousands of files, and `urljoin` per file was most of the time
# spent reading them.
_PLAIN_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9.:-]+/(?:[!$%&'()*+,\-./0-9:=A-Z_a-z~]*)(?:#[!-~]*)?")
_PLAIN_PATH = re.compile(r"/(?!/)(?:[!$%&'()*+,\-./0-9:=A-Z_a-z~]*)(?:#[!-~]*)?")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.:-]+(?=/)")
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|#|$)")


def _plain_join(href: str, base: str) -> str | None:
    """`urljoin(base, href)` for the two shapes real pages use, without parsing; None otherwise."""
    if _PLAIN_ABSOLUTE.fullmatch(href) and not _DOT_SEGMENT.search(href.partition("#")[0]):
        return href
    if _PLAIN_PATH.fullmatch(href) and not _DOT_SEGMENT.search(href.partition("#")[0]):
        origin = _ORIGIN.match(base)
        if origin is not None and "@" not in origin.group():
            return origin.group() + href
    return None


def clean_file_url(href: str, base: str) -> tuple[str, str | None]:
    """Resolve `href` against `base`; return `(absolute URL without fragment/userinfo, fragment)`."""
    plain = _plain_join(href, base)
    if plain is not None:
        bare, _, fragment = plain.partition("#")
        return bare, (fragment or None)
    absolute = urljoin(base, href)
    parts = urlsplit(absolute)
    bare = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    return redact_url(bare), (parts.fragment or None)


def filename_of(url: str) -> str:
    """The decoded last path segment of a file URL (`torch-2.5.1%2Bcu124-...` -> `torch-2.5.1+cu124-...`)."""
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def _version_text(filename: str) -> str | None:
    """The version part of a wheel or sdist name, split the way `packaging.utils` splits it."""
    if filename.endswith(".whl"):
        parts = filename.split("-")
        return parts[1] if len(parts) in (5, 6) else None
    for suffix in (".tar.gz", ".zip"):
        if filename.endswith(suffix):
            return filename[: -len(suffix)].rpartition("-")[2] or None
    return None


class _ReleaseFilter:
    """Tells whether a file name may belong to one release, parsing each distinct version once.

    A superset of the files whose `IndexFile.version` equals the release (the name part is not
    checked here); the parsers confirm with `IndexFile.version` on the few files kept.
    """

    def __init__(self, version: Version) -> None:
        self.version = version
        self._seen: dict[str, bool] = {}

    def __call__(self, filename: str) -> bool:
        if filename.endswith(".whl"):  # the common case, inline: `_version_text` for a wheel
            parts = filename.split("-", 6)
            text: str | None = parts[1] if len(parts) in (5, 6) else None
        else:
            text = _version_text(filename)
        if text is None:
            return False
        known = self._seen.get(text)
        if known is None:
            try:
                known = Version(text) == self.version
            except InvalidVersion:
                known = False
            self._seen[text] = known
        return known


def _of_release(files: list[IndexFile], version: Version | None) -> tuple[IndexFile, ...]:
    if version is None:
        return tuple(files)
    return tuple(f for f in files if f.version == version)


def _hashes_from_mapping(raw: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for algorithm, digest in raw.items():
        name = str(algorithm).lower()
        if name in hashlib.algorithms_guaranteed and isinstance(digest, str) and digest:
            pairs.append((name, digest.lower()))
    return tuple(sorted(pairs))


# ------------------------------------------------------------------------------------------- JSON


def parse_json_page(body: bytes, *, url: str, version: Version | None = None) -> ParsedPage:
    """Parse a PEP 691 project page (only the files of `version` when it is given).

    With `version`, a page in the usual shape has only that release's entries decoded
    (`_release_only`); any other page is decoded whole.
    """
    where = redact_url(url)
    if version is not None:
        found = _release_only(body, _ReleaseFilter(version), url=url, where=where)
        if found is not None:
            return found
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexFormatError(
            f"{where} returned invalid JSON ({exc})",
            hint="the index or a proxy in between is misbehaving; retry later or use another mirror",
            details={"url": where},
        ) from exc
    if not isinstance(document, dict):
        raise _shape_error(where, "the document is not a JSON object")
    meta = document.get("meta")
    if not isinstance(meta, dict):
        raise _shape_error(where, "the 'meta' object is missing")
    _check_api_version(meta.get("api-version"), url)
    raw_files = document.get("files")
    if not isinstance(raw_files, list):
        raise _shape_error(where, "the 'files' list is missing")
    chosen: Iterable[tuple[int, object]]
    if version is None:
        chosen = enumerate(raw_files)
    else:
        chosen = _release_entries(raw_files, _ReleaseFilter(version), url=url, where=where)
    files = []
    for position, raw in chosen:
        if not isinstance(raw, dict):
            raise _shape_error(where, f"files[{position}] is not an object")
        files.append(_json_file(raw, position=position, page_url=url, where=where))
    serial = meta.get("_last-serial")
    return ParsedPage(files=_of_release(files, version), serial=serial if isinstance(serial, int) else None)


# A file entry's `"filename": "..."` member whose name may be of one release (`_release_names`),
# and one whose value is not a plain string. A quote inside a JSON string is always escaped, so a
# match is a key of the document, never text inside a value.
_FILENAME_MEMBER = r'"filename": ?"([^"\\]*?-[vV]?(?:0*!)?{release}(?:\.0+)*(?!\.?[0-9])[^"\\]*)"'
_ODD_FILENAME = re.compile(r'"filename"\s*:\s*(?:[^\s"]|"[^"\\]*\\)')
_META_MEMBER = re.compile(r'"meta"\s*:\s*(?=\{)')
_ENTRY_START_TRIES = 4  # `{`s tried backwards from a file name: nested hash objects come first


def _release_only(body: bytes, keep: _ReleaseFilter, *, url: str, where: str) -> ParsedPage | None:
    """The files of one release, decoding only their entries; None when the page is not in the
    usual shape (then the caller decodes it whole, which also says what is wrong with it).

    Big pages (torch, numpy: megabytes, tens of thousands of files) were mostly `json.loads` of
    entries that are then thrown away. Here a pattern finds the file names that may be of the
    release (its release numbers after a `-`, spelled as PEP 440 allows: leading zeros, trailing
    `.0`s, an epoch `0!`), `keep` confirms each, and only those entries are decoded. The usual
    shape: a JSON object (first and last byte, blanks aside) whose last `"meta"` key holds an
    object, and every entry naming its file once as a string without escapes (`"filename": "..."`
    or `"filename":"..."`) and its URL once (as many `"filename"` keys as `"url"` keys). The HTTP
    layer has already checked that the body arrived whole; entries of other releases are not
    checked.
    """
    if keep.version.epoch != 0:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    stripped = text.strip()
    if not stripped.startswith("{") or not stripped.endswith("}"):
        return None
    # Every entry has a URL; one without a plain `"filename"` string (or with two) breaks the equality.
    if text.count('"filename": "') + text.count('"filename":"') != text.count('"url"'):
        return None
    if "\\" in text and _ODD_FILENAME.search(text) is not None:
        return None
    meta_at = _META_MEMBER.match(text, max(text.rfind('"meta"'), 0))
    if meta_at is None:
        return None
    decoder = json.JSONDecoder()
    try:
        meta, _ = decoder.raw_decode(text, meta_at.end())
    except ValueError:
        return None
    if not isinstance(meta, dict):
        return None
    _check_api_version(meta.get("api-version"), url)
    files = []
    position, counted_to = 0, 0  # the entry's index in `files`, for error messages
    for match in _release_names(keep.version).finditer(text):
        if not keep(match.group(1)):
            continue
        entry = _entry_around(text, match, decoder)
        if entry is None:
            return None
        position += text.count('"filename"', counted_to, match.start())
        counted_to = match.start()
        files.append(_json_file(entry, position=position, page_url=url, where=where))
    serial = meta.get("_last-serial")
    return ParsedPage(
        files=_of_release(files, keep.version), serial=serial if isinstance(serial, int) else None
    )


def _release_names(version: Version) -> re.Pattern[str]:
    """`_FILENAME_MEMBER` for the release numbers of `version` (trailing zeros dropped)."""
    release = list(version.release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    return re.compile(_FILENAME_MEMBER.format(release=r"\.".join(f"0*{n}" for n in release)))


def _entry_around(text: str, name: re.Match[str], decoder: json.JSONDecoder) -> dict[str, object] | None:
    """The JSON object whose `filename` member is `name`: decoded from one of the `{` before it."""
    start = name.start()
    for _ in range(_ENTRY_START_TRIES):
        start = text.rfind("{", 0, start)
        if start < 0:
            return None
        try:
            entry, end = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(entry, dict) and end > name.end() and entry.get("filename") == name.group(1):
            return entry
    return None


def _release_entries(
    raw_files: list[object], keep: _ReleaseFilter, *, url: str, where: str
) -> list[tuple[int, object]]:
    """(position, entry) of the entries whose file name `keep` lets through. A page lists up to
    tens of thousands of files and this loop sees each of them: it asks each entry only for its
    `filename` and meets each distinct version spelling once (`_ReleaseFilter`)."""
    out: list[tuple[int, object]] = []
    for position, raw in enumerate(raw_files):
        if type(raw) is not dict:
            raise _shape_error(where, f"files[{position}] is not an object")
        filename = raw.get("filename")
        if type(filename) is not str or not filename:
            filename = _json_filename(raw, url)
        if keep(filename):
            out.append((position, raw))
    return out


def _json_filename(raw: Mapping[str, object], page_url: str) -> str:
    """The file name `_json_file` will give this entry, or "" (for the release filter)."""
    filename = raw.get("filename")
    if isinstance(filename, str) and filename:
        return filename
    href = raw.get("url")
    return filename_of(clean_file_url(href, page_url)[0]) if isinstance(href, str) and href else ""


def _json_file(raw: Mapping[str, object], *, position: int, page_url: str, where: str) -> IndexFile:
    href = raw.get("url")
    filename = raw.get("filename")
    if not isinstance(href, str) or not href:
        raise _shape_error(where, f"files[{position}] has no 'url'")
    file_url, fragment = clean_file_url(href, page_url)
    if not isinstance(filename, str) or not filename:
        filename = filename_of(file_url)
    raw_hashes = raw.get("hashes")
    hashes = _hashes_from_mapping(raw_hashes) if isinstance(raw_hashes, dict) else ()
    if not hashes and fragment:
        hashes = _hashes_from_fragment(fragment)
    requires_python = raw.get("requires-python")
    yanked_raw = raw.get("yanked", False)
    yanked = bool(yanked_raw)
    reason = yanked_raw if isinstance(yanked_raw, str) and yanked_raw else None
    size = raw.get("size")
    upload_time = raw.get("upload-time")
    metadata = raw.get("core-metadata", raw.get("dist-info-metadata", False))
    return IndexFile(
        filename=filename,
        url=file_url,
        hashes=hashes,
        requires_python=requires_python if isinstance(requires_python, str) and requires_python else None,
        yanked=yanked,
        yanked_reason=reason,
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        upload_time=upload_time if isinstance(upload_time, str) else None,
        core_metadata=bool(metadata),
    )


def _shape_error(where: str, what: str) -> IndexFormatError:
    return IndexFormatError(
        f"{where} is not a valid simple-API JSON page: {what}",
        hint="the index or a proxy in between is misbehaving; retry later or use another mirror",
        details={"url": where},
    )


# ------------------------------------------------------------------------------------------- HTML

_HASH_FRAGMENT = re.compile(r"^([a-zA-Z0-9_]+)=([0-9a-fA-F]+)$")
_PAGE_MARKERS = re.compile(rb"<\s*(!doctype|html|body|head)\b", re.IGNORECASE)
_SERIAL_COMMENT = re.compile(r"^\s*SERIAL\s+(\d+)\s*$")


def _hashes_from_fragment(fragment: str) -> tuple[tuple[str, str], ...]:
    match = _HASH_FRAGMENT.match(fragment)
    if match is None:
        return ()
    return _hashes_from_mapping({match.group(1): match.group(2)})


class _AnchorCollector(HTMLParser):
    """Collects `<a>` attributes, `<base href>`, the repository-version meta and a SERIAL comment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, str | None]] = []
        self.base_href: str | None = None
        self.api_version: str | None = None
        self.serial: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a":
            self.anchors.append(values)
        elif tag == "base" and values.get("href"):
            self.base_href = values["href"]
        elif tag == "meta" and values.get("name") == "pypi:repository-version":
            self.api_version = values.get("content")

    def handle_comment(self, data: str) -> None:
        match = _SERIAL_COMMENT.match(data)
        if match is not None:
            self.serial = int(match.group(1))


def parse_html_page(body: bytes, *, url: str, version: Version | None = None) -> ParsedPage:
    """Parse a PEP 503 project page (attribute values are HTML-unescaped by the parser).

    With `version`, only the files of that release are returned.
    """
    where = redact_url(url)
    text = body.decode("utf-8", errors="replace")
    collector = _AnchorCollector()
    collector.feed(text)
    collector.close()
    _check_api_version(collector.api_version, url)
    if not collector.anchors and _PAGE_MARKERS.search(body) is None:
        raise IndexFormatError(
            f"{where} is not a valid simple-API HTML page (no links and no HTML document)",
            hint="the index or a proxy in between is misbehaving; retry later or use another mirror",
            details={"url": where},
        )
    base = urljoin(url, collector.base_href) if collector.base_href else url
    keep: Callable[[str], bool] | None = _ReleaseFilter(version) if version is not None else None
    files = []
    for anchor in collector.anchors:
        href = anchor.get("href")
        if not href:
            continue
        if keep is not None and not keep(unquote(urlsplit(href).path.rsplit("/", 1)[-1])):
            continue
        file_url, fragment = clean_file_url(href, base)
        filename = filename_of(file_url)
        if not filename:
            continue
        yanked_attr = "data-yanked" in anchor
        reason = anchor.get("data-yanked") or None
        metadata_attr = anchor.get("data-core-metadata", anchor.get("data-dist-info-metadata"))
        has_metadata = ("data-core-metadata" in anchor or "data-dist-info-metadata" in anchor) and (
            metadata_attr or "true"
        ).lower() != "false"
        files.append(
            IndexFile(
                filename=filename,
                url=file_url,
                hashes=_hashes_from_fragment(fragment) if fragment else (),
                requires_python=anchor.get("data-requires-python") or None,
                yanked=yanked_attr,
                yanked_reason=reason,
                size=None,
                upload_time=None,
                core_metadata=has_metadata,
            )
        )
    return ParsedPage(files=_of_release(files, version), serial=collector.serial)
