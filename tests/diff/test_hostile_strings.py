"""The attack: a pull request proposes a lock whose strings are written to break out of the review.

Versions, target names, rejection reasons, stack values, package names and the sides' names carry
backticks, pipes, HTML, `</details>`, image and link syntax, @mentions, #references, newlines and
terminal escape sequences; URLs carry credentials. The Markdown is parsed with a real CommonMark
parser (markdown-it-py, with GFM tables): its block structure must equal that of the same review
with harmless strings, and no HTML, link, image or mention may appear outside a code span.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from envlock.cli.main import main
from envlock.diff.compute import diff_locks
from envlock.diff.model import LockDiff
from envlock.diff.render import render_markdown, render_text, render_textconv, to_json
from envlock.lock.model import Lock, Rejection

from .conftest import DEFAULT_INDEX, SASS, make_lock, torch_target, wheel, with_packages

HOSTILE = (
    "9`<img src=x onerror=alert(1)>@octocat</details>| x ![i](https://evil.example/t.png)"
    "\n\n# Owned [click](https://evil.example) www.evil.example #1 _em_ *b* ~~s~~ $x$"
)
TERMINAL = "\x1b[2J\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\r\u202e"
SECRET = "s3cret-t0ken"


def _pair(evil: str) -> tuple[Lock, Lock]:
    """Two locks of one target whose new side carries `evil` in every free-form string."""
    old_target = torch_target("h100", "2.5.1+cu124", rejected=[Rejection(variant="cu118", reason="old")])
    old = make_lock(replace(old_target, name=f"h100{evil}"))
    new_target = with_packages(
        torch_target("h100", "2.5.1+cu124"),
        wheel("numpy", f"2.0{evil}", index=DEFAULT_INDEX, size=10, tag="py3-none-any"),
        wheel(f"pkg{evil}", "1.0", index=DEFAULT_INDEX, size=10, tag="py3-none-any"),
    )
    new_target = replace(
        new_target,
        name=f"h100{evil}",
        torch=f"2.5.1{evil}",
        cudnn=f"9.1{evil}",
        rejected=(Rejection(variant=f"cu118{evil}", reason=f"because{evil}"),),
    )
    return old, make_lock(new_target)


def _diff(evil: str) -> LockDiff:
    old, new = _pair(evil)
    return diff_locks(old, new, old_source=f"main{evil}:envlock.lock", new_source="envlock.lock", sass=SASS)


def _parse(markdown: str) -> list[Token]:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).parse(markdown)


def _walk(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for token in tokens:
        out.append(token)
        out += _walk(token.children or [])
    return out


def _shape(tokens: list[Token]) -> list[tuple[str, str]]:
    """The block structure: every block token's type and tag, without the inline content."""
    return [(t.type, t.tag) for t in tokens if t.type != "inline"]


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.tags.append("/" + tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


MENTION_OR_REFERENCE = re.compile(r"[@#][A-Za-z0-9]")


def test_markdown_keeps_hostile_strings_inert() -> None:
    benign = render_markdown(_diff("x"))
    hostile = render_markdown(_diff(HOSTILE))
    tokens = _parse(hostile)

    # Nothing added a table, row, cell, heading, list, code block or <details> section.
    assert _shape(tokens) == _shape(_parse(benign))
    everything = _walk(tokens)
    assert not [t for t in everything if t.type in ("html_inline", "link_open", "image", "s_open", "em_open")]
    # The only raw HTML is envlock's own <details>/<summary>/<b>, and the summary's text is inert.
    for block in (t for t in everything if t.type == "html_block"):
        parsed = _HtmlText()
        parsed.feed(block.content)
        assert set(parsed.tags) <= {"details", "/details", "summary", "/summary", "b", "/b"}
        assert not MENTION_OR_REFERENCE.search("".join(parsed.text))
    # Text outside code spans mentions nobody and references no issue (GitHub links those).
    texts = "".join(t.content for t in everything if t.type == "text")
    assert not MENTION_OR_REFERENCE.search(texts)
    # The hostile strings are still there for the reviewer to see, as text.
    shown = texts + "".join(t.content for t in everything if t.type == "code_inline")
    assert "<img src=x onerror=alert(1)>" in shown and "</details>" in shown
    assert "![i](https" in shown and "\\n\\n# Owned" in shown  # the newlines shown as \n
    # GitHub autolinks scheme:// and www. in Markdown text; outside code spans they are escaped.
    # In the <summary> HTML a zero-width space splits them.
    code = "".join(t.content for t in everything if t.type == "code_inline")
    assert len(re.findall(r"(?<!\\)://", hostile)) == code.count("://")
    assert len(re.findall(r"(?<![\\\w])www\.", hostile)) == code.count("www.")


def test_text_output_shows_terminal_escapes_escaped() -> None:
    diff = _diff(TERMINAL)
    for output in (render_text(diff), render_textconv(_pair(TERMINAL)[1], sass=SASS)):
        assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", output)
        assert "\\x1b[2J" in output and "\\x1b]8;;https://evil.example\\x07" in output and "\\r" in output
    coloured = render_text(diff, color=True)
    # The only escape sequences are envlock's own colours (SGR: ESC [ digits ; m).
    assert not re.search("\x1b(?!\\[[0-9;]*m)", coloured)
    # JSON escapes control characters itself and round-trips them.
    document = json.dumps(to_json(diff))
    assert "\x1b" not in document and json.loads(document)["targets"][0]["name"] == f"h100{TERMINAL}"


@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "textconv"])
def test_no_review_format_echoes_credentials_from_lock_urls(fmt: str) -> None:
    old, new = _pair("x")
    cred = f"https://ci-bot:{SECRET}@mirror.example"

    def credentialed(lock: Lock) -> Lock:
        targets = []
        for t in lock.targets:
            packages = tuple(
                replace(
                    p,
                    index=p.index.replace("https://mirror.example", cred),
                    artifacts=tuple(
                        replace(a, url=a.url.replace("https://mirror.example", cred)) for a in p.artifacts
                    ),
                )
                for p in t.packages
            )
            targets.append(replace(t, packages=packages))
        inputs = replace(lock.inputs, default_index=cred + "/simple", extra_indexes=(cred + "/extra",))
        return replace(lock, targets=tuple(targets), inputs=inputs)

    old_c, new_c = credentialed(old), credentialed(new)
    new_c = replace(new_c, inputs=replace(new_c.inputs, default_index=cred + "/other"))
    diff = diff_locks(old_c, new_c, old_source="a", new_source="b", sass=SASS)
    rendered = {
        "text": lambda: render_text(diff),
        "markdown": lambda: render_markdown(diff),
        "json": lambda: json.dumps(to_json(diff)),
        "textconv": lambda: render_textconv(new_c, sass=SASS),
    }[fmt]()
    assert "mirror.example" in rendered  # the URLs are shown,
    assert SECRET not in rendered and "ci-bot" not in rendered  # without their userinfo


def test_textconv_of_a_file_that_is_no_lock_shows_its_escapes_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """git runs the textconv driver on every version of the file, whatever a commit put there."""
    path = tmp_path / "envlock.lock"
    path.write_text(f'title = "{TERMINAL}"\nurl = "https://ci-bot:{SECRET}@mirror.example/x"\n')
    assert main(["diff", "--textconv", str(path)]) == 0
    captured = capsys.readouterr()
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", captured.out + captured.err)
    assert "\\x1b[2J" in captured.out and SECRET not in captured.out
    assert captured.out.count("\n") == 2  # the file's own lines are kept
