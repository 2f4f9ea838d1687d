"""Every kind of page passes axe-core (WCAG 2.1 A and AA, and axe's best practices: headings
in order, landmarks, a skip link, contrast of at least 4.5:1), in light and dark mode, run
in Debian's Chromium by Playwright; and has a skip link and a focus style of its own.

axe-core comes from npm (tests/tools/package.json); it is installed there when missing and
npm is on the machine, else these tests are skipped saying so (they fail in CI)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.test_browser import Site, _chromium, _served_demo, _unavailable
from tests.test_browser_serve import served  # noqa: F401 (a fixture used below)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

TOOLS = Path(__file__).parent / "tools"
AXE = TOOLS / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def _axe_source() -> str:
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("no npm to install axe-core: apt-get install npm")
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund"],
            cwd=TOOLS,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if not AXE.exists():
            _unavailable(f"npm could not install axe-core: {done.stderr.strip()[-300:]}")
    return AXE.read_text()


@pytest.fixture(scope="module")
def axe() -> str:
    return _axe_source()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from _served_demo(tmp_path_factory.mktemp("a11y") / "demo", needs="search.html")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from _chromium()


def _violations(browser: Browser, axe: str, url: str, scheme: str, width: int) -> list[Any]:
    """axe's violations on the page at `url` (the page's CSP set aside for axe's script)."""
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, bypass_csp=True
    )
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_load_state("networkidle")
        page.add_script_tag(content=axe)
        found = page.evaluate(
            "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
            ".then(r => r.violations.map(v => [v.id, v.nodes.slice(0, 3).map(n => n.target)]))",
            TAGS,
        )
    finally:
        context.close()
    return list(found)


def _pages(site: Site) -> dict[str, str]:
    """One page of each kind the static site has: {kind: path}."""
    root = site.root
    list_home = next(p for p in root.glob("*/index.html") if (p.parent / "m").is_dir())
    name = list_home.parent.name
    thread = max((root / name / "t").glob("*.html"), key=lambda p: p.stat().st_size)
    period = sorted((root / name).glob("*/thread.html"))[-1].parent.name
    message = sorted((root / name / "m").glob("*.html"))[0]
    return {
        "archive home": "index.html",
        "list home": f"{name}/index.html",
        "period by thread": f"{name}/{period}/thread.html",
        "period by latest activity": f"{name}/{period}/activity.html",
        "period by author": f"{name}/{period}/author.html",
        "message": f"{name}/m/{message.name}",
        "thread": f"{name}/t/{thread.name}",
        "search results (static)": "search.html?q=apollo",
        "search with suggestions (static)": "search.html?q=apolo",
        "search help": "help/search.html",
    }


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_kind_of_static_page_passes_axe(
    browser: Browser, axe: str, site: Site, scheme: str
) -> None:
    failing = {
        kind: found
        for kind, path in _pages(site).items()
        for width in (1280, 390)
        if (found := _violations(browser, axe, site.url(path), scheme, width))
    }
    assert failing == {}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", ["search.html?q=apollo", "search.html?q=apolo", "no/such/page"])
def test_the_servers_own_pages_pass_axe(
    browser: Browser,
    axe: str,
    served: str,  # noqa: F811 (the fixture imported above)
    scheme: str,
    path: str,
) -> None:
    assert _violations(browser, axe, served + path, scheme, 1280) == []


def test_the_first_tab_reaches_a_skip_link_that_shows_and_leads_to_the_content(
    browser: Browser, site: Site
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page: Page = context.new_page()
        page.goto(site.url("index.html"))
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent")
        box = page.locator("a.skip").bounding_box()
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        page.keyboard.press("Enter")
        assert page.url.endswith("#main")
    finally:
        context.close()
    assert focused == "Skip to the content"
    assert box is not None and box["y"] >= 0  # on the screen once focused
    assert outline == "solid"  # our focus style, not the browser's
