"""On a phone (390 px wide), no page scrolls sideways: the top bar wraps, wide tables scroll
inside themselves and pictures shrink, so every link of the menu is on the screen."""

from pathlib import Path

import pytest

from ganstudio.roles import Role
from tests.e2e.conftest import LiveServer, sign_in_page
from tests.e2e.test_csp_browser import main_pages, prepare

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

# Elements whose right edge lies past the window's, outside a box that scrolls by itself.
SPILLS = """(width) => [...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > width + 1)
  .filter((e) => {
    for (let box = e.parentElement; box; box = box.parentElement) {
      const overflow = getComputedStyle(box).overflowX;
      if (overflow === 'auto' || overflow === 'scroll' || overflow === 'hidden') return false;
    }
    return true;
  })
  .slice(0, 5)
  .map((e) => {
    const right = Math.round(e.getBoundingClientRect().right);
    return `${e.tagName.toLowerCase()}.${e.className} ends at ${right}`;
  })"""


def test_no_page_scrolls_sideways_on_a_phone(
    browser, live_server: LiveServer, tmp_path: Path
) -> None:
    data = prepare(live_server, tmp_path)
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in_page(page, live_server.users[Role.ADMIN])
    extra = [
        ("/analyses", "main"),
        ("/webtest", "main"),
        ("/admin/status", "main"),
        ("/admin/workers", "[data-testid=workers]"),
    ]
    wide: dict[str, object] = {}
    for url, ready in [*main_pages(data["bench"], data["slug"]), *extra]:
        page.goto(url)
        page.wait_for_selector(ready, state="attached")
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        menu = page.eval_on_selector_all(
            ".topbar a, .topbar button",
            "(links) => links.map((a) => Math.round(a.getBoundingClientRect().right))",
        )
        spills = page.evaluate(SPILLS, PHONE["width"])
        if scroll_width > PHONE["width"] or max(menu) > PHONE["width"] or spills:
            wide[url] = {"page width": scroll_width, "menu ends at": max(menu), "spills": spills}
    assert wide == {}, wide
    context.close()
