"""In a real browser: a viewer compares versions, zooms, slides, diffs, then runs a web test."""

from pathlib import Path

import pytest

from ganstudio.roles import Role
from tests import imagegen
from tests.e2e.conftest import LiveServer, drop_files, sign_in_page
from tests.web.compare_helpers import make_bench

pytestmark = pytest.mark.browser

STAGE_TRANSFORMS = "[...document.querySelectorAll('.viewer-stage')].map(s => s.style.transform)"


def test_viewer_compares_zooms_slides_diffs_and_web_tests(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    make_bench(live_server.app, tmp_path, labels=("v1", "v2", "v3"), size=(96, 64))
    sign_in_page(page, live_server.users[Role.VIEWER])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Compare").click()
    page.get_by_label("Filter").select_option("toon")
    page.wait_for_selector("[data-testid=new-comparison]")
    for label in ("v1", "v2", "v3"):
        page.locator(f"input[name=versions][value={label}]").check()
    page.get_by_label("Sample set").select_option(label="Faces")
    page.get_by_label("Title").fill("Three tiny versions")
    page.get_by_role("button", name="Create comparison").click()
    page.wait_for_url("**/c/*")
    assert page.get_by_test_id("comparison-title").inner_text() == "Three tiny versions"

    # The cells fill live, without reloading the page.
    page.evaluate("window.__samePage = true")
    page.wait_for_selector("#progress[data-finished=true]", timeout=60_000)
    page.wait_for_function(
        "() => document.querySelectorAll('td.cell[data-state=done] img').length === 9",
        timeout=30_000,
    )
    assert page.evaluate("window.__samePage") is True
    assert "9 of 9 rendered" in page.get_by_test_id("progress-text").inner_text()
    heads = page.get_by_test_id("column-head").all_inner_texts()
    assert [h.split()[0] for h in heads] == ["v1", "v2", "v3"]

    # Hide a column and move another: remembered in the link.
    page.get_by_test_id("column-tools").get_by_role("checkbox", name="v2").uncheck()
    page.get_by_role("button", name="Move v3 left").click()
    assert "cols=v" not in page.url and "cols=" in page.url
    assert page.locator("thead th[data-col]:visible").count() == 3  # input, v1, v3

    # Open the viewer on the first row: all images follow one zoom.
    page.locator("td.cell[data-state=done] a").first.click()
    page.wait_for_selector("[data-testid=viewer-figure] img")
    assert page.get_by_test_id("viewer-figure").count() == 3
    before = page.evaluate(STAGE_TRANSFORMS)
    pane = page.locator(".viewer-pane").first.bounding_box()
    page.mouse.move(pane["x"] + pane["width"] * 0.3, pane["y"] + pane["height"] * 0.6)
    page.mouse.wheel(0, -400)
    page.wait_for_function("() => document.querySelector('.gan-viewer').dataset.zoom !== '1.0000'")
    after = page.evaluate(STAGE_TRANSFORMS)
    assert len(set(after)) == 1 and after[0] != before[0] and "scale(1.0000)" not in after[0]
    page.keyboard.press("+")
    zoomed_more = page.evaluate(STAGE_TRANSFORMS)
    assert len(set(zoomed_more)) == 1 and zoomed_more[0] != after[0]
    page.wait_for_function("() => location.search.includes('zoom=')")

    # Slider between two columns: drag the divider.
    page.get_by_role("button", name="Slider").click()
    divider = page.get_by_test_id("slider-divider")
    clip_before = page.get_by_test_id("slider-clip").evaluate("e => e.style.clipPath")
    box = divider.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] - 150, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    assert page.get_by_test_id("slider-clip").evaluate("e => e.style.clipPath") != clip_before
    assert float(divider.get_attribute("aria-valuenow")) < 50

    # Difference map against the input: a canvas with pixels drawn.
    page.get_by_role("button", name="Difference").click()
    page.wait_for_selector("[data-testid=diff-canvas][data-drawn=true]")
    lit = page.get_by_test_id("diff-canvas").evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let lit = 0;
                  for (let i = 0; i < d.length; i += 4) if (d[i] + d[i+1] + d[i+2] > 0) lit++;
                  return lit; }"""
    )
    assert lit > 0
    assert "mean difference" in page.get_by_test_id("viewer-note").inner_text()

    # Next sample with the keyboard; the view (mode, zoom) comes along.
    first = page.get_by_test_id("viewer-sample").inner_text()
    page.locator("body").press("j")
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=viewer-sample]').textContent !== {first!r}"
    )
    assert "mode=diff" in page.url and "zoom=" in page.url
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=compare-grid]")

    # Web test: drop a photo, see a render per version.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Web test").click()
    for label in ("v1", "v2", "v3"):
        page.locator(f"input[name=versions][data-label={label}]").check()
    drop_files(
        page.get_by_test_id("webtest-dropzone"),
        [("holiday.png", "image/png", imagegen.distinct_png(99, size=(80, 60)))],
    )
    page.wait_for_selector("[data-testid=webtest-photo][data-status=done]", timeout=30_000)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=viewer-figure] img').length === 4"
    )
    captions = page.get_by_test_id("viewer-figure").all_inner_texts()
    assert [c.split()[0] for c in captions] == ["Input", "v1", "v2", "v3"]
    assert "3 of 3 rendered" in page.get_by_test_id("webtest-status").inner_text()
    assert page.get_by_test_id("save-form").count() == 0  # viewers cannot save to a set
