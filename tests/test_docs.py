"""The documentation is self-contained and agrees with the code's signatures.

- every relative link in README.md and docs/*.md names a file of the repository, and every
  ``#anchor`` into a markdown file names one of its headings (GitHub's slugs);
- nothing cites a file outside the repository (the update rules used to live in one);
- every optimizer's docstring lists each argument with its default and links to its
  section of docs/optimizers.md, and that section exists.

The link checks need the repository's (or the sdist's) README.md and docs/: they are
skipped where the tests run without them.
"""
from __future__ import annotations

import inspect
import os
import re
from pathlib import Path

import pytest

import fastopt

HERE = Path(__file__).resolve().parent
RULES = "docs/optimizers.md"


def _repo_root() -> Path | None:
    """The directory holding README.md, from tests/ upward."""
    for d in (HERE, *HERE.parents):
        if (d / "README.md").is_file():
            return d
    return None


ROOT = _repo_root()


def _need_root() -> Path:
    if ROOT is None:
        pytest.skip("README.md not found above tests/ (tests run without the source tree)")
    return ROOT


def _need_rules() -> Path:
    root = _need_root()
    if not (root / RULES).is_file():
        pytest.skip(f"{RULES} not found beside README.md")
    return root


# ---- markdown parsing -------------------------------------------------------------------

FENCE = re.compile(r"^ {0,3}(```|~~~)")
# [text](target "title") and ![alt](target); the text may hold `code` and one level of [].
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]"
                         r"\(\s*<?([^()\s<>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=\"([^\"]+)\"", re.I)
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def _prose_lines(text: str):
    """(line number, line) outside fenced code blocks."""
    fenced = None
    for n, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if m:
            if fenced is None:
                fenced = m.group(1)
            elif m.group(1) == fenced:
                fenced = None
            continue
        if fenced is None:
            yield n, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text without markup, lowercased, punctuation
    dropped except - and _, spaces turned into -."""
    text = CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)    # a link: its text
    text = re.sub(r"<[^>]+>", "", text)                        # inline HTML tags
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a markdown file (a repeated slug gets -1, -2, ...)."""
    seen: dict[str, int] = {}
    out = set()
    for _, line in _prose_lines(path.read_text(encoding="utf-8")):
        m = HEADING.match(line)
        if not m:
            continue
        s = slug(m.group(2))
        if s in seen:
            seen[s] += 1
            s = f"{s}-{seen[s]}"
        else:
            seen[s] = 0
        out.add(s)
    return out


def links(path: Path):
    """(line number, target) of every link and image in a markdown file's prose."""
    for n, line in _prose_lines(path.read_text(encoding="utf-8")):
        for pattern in (INLINE_LINK, HTML_LINK):
            for m in pattern.finditer(line):
                yield n, m.group(1)
        m = REFERENCE_DEF.match(line)
        if m:
            yield n, m.group(1)


def _markdown_files(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def _is_sdist(root: Path) -> bool:
    """An unpacked sdist (PKG-INFO, no git): MANIFEST.in leaves the figures out."""
    return (root / "PKG-INFO").is_file() and not (root / ".git").exists()


IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")


# ---- the tests --------------------------------------------------------------------------

def test_slug():
    assert slug("Adam") == "adam"
    assert slug("Step options: max_grad_norm and nonfinite") == \
        "step-options-max_grad_norm-and-nonfinite"
    assert slug("Other libraries' conventions") == "other-libraries-conventions"
    assert slug("`state_dict`") == "state_dict"
    assert slug("Passing parameters: four ways") == "passing-parameters-four-ways"


def test_relative_links_resolve():
    root = _need_root()
    sdist = _is_sdist(root)
    bad = []
    checked = 0
    for md in _markdown_files(root):
        for n, target in links(md):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
                continue                                   # http:, https:, mailto:, ...
            where = f"{md.relative_to(root)}:{n}: {target}"
            file_part, _, anchor = target.partition("#")
            dest = md if not file_part else (md.parent / file_part).resolve()
            checked += 1
            try:
                dest.relative_to(root)
            except ValueError:
                bad.append(f"{where} (outside the repository)")
                continue
            if not dest.exists():
                if sdist and dest.suffix.lower() in IMAGES:
                    continue                               # figures are not in the sdist
                bad.append(f"{where} (no such file)")
                continue
            if anchor and dest.suffix.lower() == ".md" and anchor not in anchors(dest):
                bad.append(f"{where} (no heading #{anchor} in {dest.relative_to(root)})")
    assert checked, "no relative links found: is the link pattern broken?"
    assert not bad, "dead links:\n" + "\n".join(bad)


def test_readme_links_the_rules():
    root = _need_rules()
    targets = [t for _, t in links(root / "README.md")]
    assert any(t.partition("#")[0] == RULES for t in targets)


TEXT_SUFFIXES = (".py", ".pyi", ".pyx", ".pxi", ".pxd", ".h", ".md", ".txt", ".toml", ".cfg",
                 ".json", ".in", ".typed")
OUTSIDE = re.compile(r"OPTIMIZERS\.md|\.\./shared")


def _package_sources() -> list[Path]:
    pkg = Path(fastopt.__file__).resolve().parent
    files = []
    for dirpath, dirnames, filenames in os.walk(pkg):
        dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.startswith(".")]
        files += [Path(dirpath, f) for f in filenames if f.endswith(TEXT_SUFFIXES)]
    return files


def test_no_reference_outside_the_repository():
    files = _package_sources()
    assert any(f.name == "adam.py" for f in files)
    if ROOT is not None:
        files.append(ROOT / "README.md")
    bad = [f"{f}:{n}: {line.strip()}"
           for f in files
           for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace")
                                    .splitlines(), 1)
           if OUTSIDE.search(line)]
    assert not bad, "references to a file outside the repository:\n" + "\n".join(bad)


def test_cited_sections_exist():
    """Every docs/optimizers.md#section the package's sources cite is a heading there."""
    root = _need_rules()
    have = anchors(root / RULES)
    cite = re.compile(re.escape(RULES) + r"#([\w-]+)")
    bad = [f"{f}:{n}: #{m.group(1)}"
           for f in _package_sources()
           for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace")
                                    .splitlines(), 1)
           for m in cite.finditer(line)
           if m.group(1) not in have]
    assert not bad, f"sections missing from {RULES}:\n" + "\n".join(bad)


OPTIMIZERS = sorted(
    name for name in fastopt.__all__
    if inspect.isclass(getattr(fastopt, name))
    and issubclass(getattr(fastopt, name), fastopt.Optimizer)
    and getattr(fastopt, name) is not fastopt.Optimizer)


def test_every_optimizer_is_checked():
    from fastopt.optimizers.table import OPTIMIZERS as ROWS
    from fastopt.optimizers.table import OWN_TESTS
    assert OPTIMIZERS == sorted(info.cls for info in ROWS + OWN_TESTS) and "AdamW" in OPTIMIZERS


def _entry(doc: str, name: str) -> str | None:
    """The header line of a numpydoc parameter entry ``name : type, default ...``."""
    m = re.search(r"^\s*" + re.escape(name) + r"(\s*:.*)?$", doc, re.M)
    return m.group(0).strip() if m else None


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_docstring_lists_parameters_with_defaults(name):
    cls = getattr(fastopt, name)
    doc = inspect.getdoc(cls) or ""
    # the class's own docstring, not one inherited (AdamW from Adam)
    assert "__doc__" in vars(cls) and cls.__doc__, f"{name} has no docstring of its own"
    assert re.search(r"^Parameters\n-{10}", doc, re.M), f"{name}: no Parameters section"
    missing = []
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name == "self":
            continue
        if p.kind is p.VAR_KEYWORD:
            label = f"**{p.name}"
        elif p.kind is p.VAR_POSITIONAL:
            label = f"*{p.name}"
        else:
            label = p.name
        line = _entry(doc, label)
        if line is None:
            missing.append(f"{label} (not listed)")
        elif p.default is not p.empty and f"default {p.default!r}" not in line:
            missing.append(f"{label} (listed as {line!r}, the default is {p.default!r})")
    assert not missing, f"{name}'s docstring: " + "; ".join(missing)
    for option in ("max_grad_norm", "nonfinite", "fastopt.Optimizer"):
        assert option in doc, f"{name}'s docstring does not mention {option}"


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_docstring_links_its_rule(name):
    doc = inspect.getdoc(getattr(fastopt, name)) or ""
    section = name.lower()
    assert f"{RULES}#{section}" in doc, f"{name}'s docstring does not link {RULES}#{section}"
    if ROOT is not None and (ROOT / RULES).is_file():
        assert section in anchors(ROOT / RULES), f"{RULES} has no section #{section}"
