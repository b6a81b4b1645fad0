"""Every link between the README and docs/ leads somewhere: to a file of the repository
and, with an anchor, to a heading of that file (as GitHub makes anchors of headings);
the README's pictures exist and are small enough to load at once."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_local_link_resolves() -> None:
    broken = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and anchor not in _anchors(linked):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken


def test_the_readme_shows_the_dashboard_and_the_architecture_on_its_first_screen() -> None:
    first_screen = "\n".join((REPO / "README.md").read_text(encoding="utf-8").splitlines()[:20])
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", first_screen)

    assert pictures == ["docs/dashboard.png", "docs/architecture.svg"]
    for picture in pictures:
        assert 0 < (REPO / picture).stat().st_size < 300_000, picture
