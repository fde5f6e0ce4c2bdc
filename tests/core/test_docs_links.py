"""Every Markdown file's relative links resolve inside the repository.

README.md, CHANGELOG.md, docs/*.md and the package READMEs (and any other Markdown file outside
hidden folders and build output) are parsed; each relative link or image must name an existing
file or folder of the repository, and an anchor into a Markdown file must name one of its
headings. Nothing may point outside the repository (``../shared`` above all).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {"node_modules", "dist", "build", "__pycache__", "site-packages"}
PACKAGE_READMES = [
    "core/README.md",
    "activitysmith_airflow/README.md",
    "activitysmith_prefect/README.md",
]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_INLINE = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(?:<([^>]*)>|([^)\s]*))(?:\s+[\"'(][^)]*)?\)"
)
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_HTML = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]*:[^>\s]*)>")
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_WEB = ("http:", "https:", "mailto:")


def markdown_files() -> list[Path]:
    """The repository's Markdown files; hidden folders (.git, .venv-*) and build output skipped."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [
            d for d in dirs if not (d.startswith(".") or d in SKIP_DIRS or d.endswith(".egg-info"))
        ]
        found += [Path(folder, name) for name in files if name.endswith(".md")]
    return sorted(found)


def _prose_lines(text: str, *, blank_code: bool = True) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, inline code spans blanked unless asked."""
    lines: list[tuple[int, str]] = []
    fence = ""
    for number, line in enumerate(text.splitlines(), 1):
        opened = _FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            continue
        if opened:
            fence = opened.group(1)
            continue
        lines.append((number, _CODE_SPAN.sub("", line) if blank_code else line))
    return lines


def links(text: str) -> list[tuple[int, str]]:
    """Every link target of a Markdown text: inline links and images, reference definitions,
    autolinks and HTML ``href``/``src``; code is not prose and is skipped."""
    found: list[tuple[int, str]] = []
    for number, line in _prose_lines(text):
        found += [(number, bracketed or bare) for bracketed, bare in _INLINE.findall(line)]
        found += [(number, m) for m in _HTML.findall(line)]
        found += [(number, m) for m in _AUTOLINK.findall(line)]
        ref = _REFERENCE.match(line)
        if ref:
            found.append((number, ref.group(1)))
    return [(n, target) for n, target in found if target]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, markup and punctuation dropped."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a Markdown text's headings; a repeated heading gets ``-1``, ``-2``..."""
    names: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _prose_lines(text, blank_code=False):
        heading = _HEADING.match(line)
        if heading:
            base = slug(heading.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            names.add(base if count == 0 else f"{base}-{count}")
    return names


def problems(source: Path) -> list[str]:
    """What is wrong with the links of one Markdown file of the repository."""
    text = source.read_text(encoding="utf-8")
    where = source.relative_to(ROOT)
    found = []
    if "../shared" in text:
        found.append(f"{where}: mentions ../shared, which is not part of the repository")
    for number, target in links(text):
        at = f"{where}:{number}: {target}"
        if target.startswith(_WEB):
            continue
        if _SCHEME.match(target) or target.startswith(("/", "\\")):
            found.append(f"{at}: points outside the repository (use a relative link)")
            continue
        path_part, _, fragment = target.partition("#")
        path_part = unquote(path_part.split("?", 1)[0])
        resolved = (source.parent / path_part).resolve() if path_part else source
        if not resolved.is_relative_to(ROOT):
            found.append(f"{at}: points outside the repository")
            continue
        if not resolved.exists():
            found.append(f"{at}: no such file or folder")
            continue
        if (
            fragment
            and resolved.suffix == ".md"
            and resolved.is_file()
            and unquote(fragment).lower() not in anchors(resolved.read_text(encoding="utf-8"))
        ):
            found.append(f"{at}: no heading #{fragment} in {resolved.relative_to(ROOT)}")
    return found


def test_the_parser_finds_links_and_skips_code() -> None:
    text = "\n".join(
        [
            "# Title `x` here",
            'See [a](docs/a.md), ![img](pic.png "t") and [b](<docs/b c.md>).',
            "An [inline `[x](nope.md)` span](ok.md#title-x-here) and <https://example.com>.",
            '<a href="html.md">x</a> <img src="img.png">',
            "[ref]: ref.md 'title'",
            "```python",
            "[fenced](fenced.md)",
            "```",
            "## Same",
            "## Same",
        ]
    )
    assert [t for _, t in links(text)] == [
        "docs/a.md",
        "pic.png",
        "docs/b c.md",
        "ok.md#title-x-here",
        "https://example.com",
        "html.md",
        "img.png",
        "ref.md",
    ]
    assert {"title-x-here", "same", "same-1"} <= anchors(text)


def test_bad_links_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("# Here\n")
    page = tmp_path / "docs" / "a.md"
    page.write_text(
        "[ok](b.md#here) [up](../docs/b.md) [gone](c.md) [anchor](b.md#there) "
        "[out](../../x.md) [abs](/etc/passwd) [file](file:///etc) [web](https://x.y/z)\n"
        "Design: ../shared/DESIGN.md\n"
    )
    found = problems(page)
    assert len(found) == 6, found
    assert any("../shared" in p for p in found)
    for target in ("c.md", "b.md#there", "../../x.md", "/etc/passwd", "file:///etc"):
        assert any(f": {target}: " in p for p in found), (target, found)


def test_the_expected_files_are_checked() -> None:
    names = {str(p.relative_to(ROOT)) for p in markdown_files()}
    expected = {"README.md", "CHANGELOG.md", "docs/api.md", "docs/design.md", *PACKAGE_READMES}
    assert expected <= names, expected - names
    assert {n for n in names if n.startswith("docs/")} >= {"docs/airflow.md", "docs/prefect.md"}


@pytest.mark.parametrize("source", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_inside_the_repository(source: Path) -> None:
    assert problems(source) == []


@pytest.mark.parametrize("readme", PACKAGE_READMES)
def test_package_readmes_link_only_to_the_web(readme: str) -> None:
    """A package README is its distribution's page on the package index, where a relative link
    has nothing to resolve against."""
    relative = [t for _, t in links((ROOT / readme).read_text()) if not t.startswith(_WEB)]
    assert relative == []


def test_readme_starts_with_the_two_commands() -> None:
    first = (ROOT / "README.md").read_text().split("```bash\n", 1)[1].splitlines()[:2]
    assert [line.split()[:2] for line in first] == [["make", "demo"], ["make", "test"]]
