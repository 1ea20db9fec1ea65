"""In a real browser: the rough edges planners, QA and developers met on comparison pages.

The viewer's difference compares versions and has a readable scale; its help line stays on
screen; comments name their sample and the page lands at a new one; column heads say nothing
about picks until there is one; the exported report keeps its columns equally wide.
"""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from ganstudio.roles import Role
from tests.e2e.conftest import LiveServer, sign_in_page
from tests.factories import bearer, make_token
from tests.waiting import job_done
from tests.web.compare_helpers import Bench, make_bench

pytestmark = pytest.mark.browser

# Long enough to wrap the viewer's title onto a second line at 1280 px.
LONG_NAME = "IMG_20240612_183455_portrait_mode_selfie_with_glasses_hat_and_scarf_left.jpg"
ORANGE = "rgb(230, 119, 0)"


def rendered(
    live_server: LiveServer, tmp_path: Path, labels: tuple[str, ...], filenames: tuple[str, ...]
) -> tuple[str, Bench, dict[str, str]]:
    """Make a comparison of `labels` × `filenames` through the API and wait for its renders."""
    app = live_server.app
    bench = make_bench(app, tmp_path, labels=labels, filenames=filenames, size=(96, 64))
    token = bearer(make_token(app, name=live_server.users[Role.VIEWER]))
    with TestClient(app) as api:
        created = api.post(
            "/api/v1/comparisons",
            headers=token,
            json={"filter": bench.slug, "versions": list(labels), "set": bench.set_id},
        ).json()
        job_done(api, created["job"]["id"], token)
    return created["slug"], bench, token


def test_viewer_diffs_two_versions_with_a_scale_and_keeps_its_help_on_screen(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    slug, bench, _ = rendered(live_server, tmp_path, ("v1", "v2", "v3"), (LONG_NAME, "b.png"))
    v1, v2, v3 = (str(bench.versions[label]) for label in ("v1", "v2", "v3"))
    sign_in_page(page, live_server.users[Role.VIEWER])
    view = f"/c/{slug}/view?sample={bench.samples[0]}"

    # The difference opens on the first two versions shown, not a version and the input.
    page.goto(f"{view}&mode=diff")
    page.wait_for_selector("[data-testid=diff-canvas][data-drawn=true]")
    assert page.locator("select[data-pick=a]").input_value() == v1
    assert page.locator("select[data-pick=b]").input_value() == v2
    assert page.get_by_test_id("viewer-note").inner_text().startswith("|v1 − v2|")

    # The colour bar says what its colours mean, and follows the gain.
    ticks = page.get_by_test_id("diff-scale-ticks").locator("span")
    assert ticks.all_inner_texts() == ["0", "64", "128", "192", "255"]
    assert "of 255" in page.get_by_test_id("diff-scale").inner_text()
    page.locator("select[data-pick=gain]").select_option("4")
    assert ticks.all_inner_texts() == ["0", "16", "32", "48", "≥64"]

    # Either side can be changed.
    page.locator("select[data-pick=b]").select_option(v3)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=viewer-note]').textContent"
        ".startsWith('|v1 − v3|')"
    )
    page.locator("select[data-pick=a]").select_option("input")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=viewer-note]').textContent"
        ".startsWith('|Input − v3|')"
    )

    # The keyboard help is fully on screen in slider and difference modes, beside a usable image,
    # also under the demo banner (`make demo` shows one above every page).
    globals_ = live_server.app.state.pages.templates.env.globals
    for width, height, demo in ((1280, 720, False), (1440, 900, False), (1440, 900, True)):
        globals_["demo"] = demo
        page.set_viewport_size({"width": width, "height": height})
        for mode in ("slider", "diff"):
            page.goto(f"{view}&mode={mode}")
            if mode == "diff":
                page.wait_for_selector("[data-testid=diff-canvas][data-drawn=true]")
            help_box = page.get_by_test_id("viewer-help").bounding_box()
            pane = page.locator(".viewer-pane").bounding_box()
            where = f"{mode} at {width}×{height}" + (" under the demo banner" if demo else "")
            assert help_box["y"] + help_box["height"] <= height, f"help cut off in {where}"
            assert help_box["x"] + help_box["width"] <= width, f"help cut off in {where}"
            assert pane["height"] >= 0.4 * height, f"image too small in {where}"
            assert pane["y"] + pane["height"] <= help_box["y"], f"image under the help in {where}"


def test_grid_names_comment_places_lands_at_new_comments_and_marks_the_leading_version(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    slug, _, _ = rendered(live_server, tmp_path, ("v1", "v2-se"), ("selfie.jpg",))
    sign_in_page(page, live_server.users[Role.VIEWER])
    page.goto(f"/c/{slug}")
    assert "1 sample × 2 versions" in page.locator(".compare-page > p.muted").first.inner_text()

    # Before anyone picks, the column heads say nothing about picks.
    heads = page.get_by_test_id("preferred")
    assert heads.all_inner_texts() == ["", ""]
    assert page.locator("[data-testid=preferred].leading").count() == 0

    # A cell comment is named by its sample; after posting, the page lands at it and says so there.
    page.get_by_test_id("cell").nth(1).get_by_test_id("cell-comments").click()
    dialog = page.get_by_test_id("comment-dialog")
    assert dialog.get_by_text("On selfie.jpg × v2-se").is_visible()
    dialog.get_by_label("Comment on this cell").fill("The fringe turns to mush")
    dialog.get_by_role("button", name="Comment").click()
    page.wait_for_url(f"**/c/{slug}?page=1#comment-*")
    landed = page.locator(page.url[page.url.index("#") :])
    assert "The fringe turns to mush" in landed.inner_text()
    notice = landed.get_by_test_id("comment-notice")
    assert notice.inner_text() == "Comment added."
    expect(notice).to_be_in_viewport()
    expect(landed).to_be_in_viewport()
    assert page.get_by_test_id("comment-place").inner_text() == "on selfie.jpg × v2-se"
    assert page.get_by_test_id("cell").nth(1).get_by_test_id("cell-comments").inner_text() == (
        "1 comment"
    )

    # One pick: counts appear, and only the leading version is orange.
    star = page.get_by_test_id("cell").nth(1).get_by_test_id("pick")
    star.click()
    page.wait_for_function(
        "el => el.getAttribute('aria-pressed') == 'true'", arg=star.element_handle()
    )
    for reload in (False, True):  # as the script redraws it, then as the server renders it
        if reload:
            page.reload()
        assert heads.all_inner_texts() == ["★ preferred in 0 of 1", "★ preferred in 1 of 1"]
        assert heads.nth(1).get_attribute("class") == "preferred leading"
        assert heads.nth(1).evaluate("e => getComputedStyle(e).color") == ORANGE
        assert heads.nth(0).evaluate("e => getComputedStyle(e).color") != ORANGE


def test_report_keeps_columns_equal_width_when_a_cell_has_a_long_comment(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    slug, bench, token = rendered(live_server, tmp_path, ("v1", "v2", "v3"), ("a.png", "b.png"))
    long_comment = "The left eye loses its highlight and the fringe smears. " * 8 + "x" * 120
    with TestClient(live_server.app) as api:
        posted = api.post(
            f"/api/v1/comparisons/{slug}/comments",
            headers=token,
            json={
                "body": long_comment,
                "sample_id": bench.samples[0],
                "version_id": bench.versions["v2"],
            },
        )
        assert posted.status_code == 201
        report = api.get(f"/api/v1/comparisons/{slug}/report", headers=token)
    path = tmp_path / "report.html"
    path.write_bytes(report.content)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(path.as_uri())
    # The samples × versions table is the report's last: input, then one column per version.
    widths = page.evaluate(
        """() => [...[...document.querySelectorAll('table')].pop().rows[0].cells]
                 .map(c => c.getBoundingClientRect().width)"""
    )
    assert len(widths) == 4
    assert max(widths) - min(widths) <= 1, f"columns of unequal width: {widths}"
    commented = page.locator("td", has_text="The left eye loses its highlight")
    box = commented.bounding_box()
    assert box["width"] <= min(widths) + 1  # the comment wraps inside its cell
