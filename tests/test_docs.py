"""The documentation site's sources hang together (``make docs`` builds them with --strict).

These checks run in ``make test`` so that a page left out of ``nav`` or a broken link shows up
before CI's ``make docs`` refuses it.
"""

from __future__ import annotations

import re

from tests.conftest import REPO

DOCS = REPO / "docs"


def nav_pages() -> list[str]:
    """The pages ``mkdocs.yml``'s ``nav`` names, relative to ``docs/``."""
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    nav = config.split("\nnav:\n", 1)[1]
    return re.findall(r":\s+(\S+\.md)\s*$", nav, flags=re.MULTILINE)


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    listed = nav_pages()
    assert sorted(set(pages) - set(listed)) == [], "add these pages to nav in mkdocs.yml"
    assert sorted(set(listed) - set(pages)) == [], "nav names pages that do not exist"


def test_relative_links_and_included_files_exist() -> None:
    broken = []
    for page in DOCS.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
        for included in re.findall(r'^--8<-- "([^";]+)"', text, flags=re.MULTILINE):
            if not (REPO / included).is_file():
                broken.append(f"{page.relative_to(REPO)}: includes {included}")
    assert broken == []


def test_the_api_reference_covers_every_public_package() -> None:
    packages = sorted(
        p.parent.name
        for p in (REPO / "src" / "callhook").glob("*/__init__.py")
        if p.parent.name != "cli"
    )
    documented = sorted(
        m
        for p in (DOCS / "reference").glob("*.md")
        for m in re.findall(r"^::: callhook\.(\w+)", p.read_text(encoding="utf-8"), re.MULTILINE)
    )
    assert documented == packages
