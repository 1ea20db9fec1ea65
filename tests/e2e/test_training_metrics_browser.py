"""In a real browser: the training-metrics chart follows the picked metric; the leaderboard
shows each metric's agreement with the blind votes; nothing trips the CSP."""

import itertools

import pytest

from ganstudio.roles import Role
from tests.e2e.conftest import LiveServer, sign_in_page
from tests.e2e.test_csp_browser import violations, watch
from tests.web.agreement_helpers import seed_tree, seed_votes

pytestmark = pytest.mark.browser

POINTS = "[data-testid=metric-chart] [data-testid=metric-point]"


def test_pick_a_metric_on_the_version_tree_chart_and_see_agreement(
    page, live_server: LiveServer
) -> None:
    slug, ids = seed_tree(live_server.app)
    order = ["e2", "e1", "v3", "v2", "v1"]
    votes = [(a, b, "left") for a, b in itertools.combinations(order, 2)]
    seed_votes(live_server.app, slug, ids, votes)
    seen = watch(page)
    sign_in_page(page, live_server.users[Role.VIEWER])

    page.goto(f"/filters/{slug}")
    chart = page.locator("[data-testid=metric-chart]")
    assert chart.get_attribute("data-metric") == "fid"
    labels = page.locator(POINTS).evaluate_all("(els) => els.map((e) => e.dataset.label)")
    assert sorted(labels) == ["e1", "e2", "v1", "v2", "v3"]
    assert "lower is better" in page.get_by_test_id("metric-direction").inner_text()

    page.get_by_test_id("metric-select").select_option("loss_g")  # swapped in, no reload
    page.wait_for_function(
        "() => document.querySelector('[data-testid=metric-chart]').dataset.metric === 'loss_g'"
    )
    point = page.locator(POINTS)
    assert point.count() == 1 and point.get_attribute("data-label") == "e1"
    assert point.locator("circle").is_visible()
    assert page.get_by_test_id("metric-select").input_value() == "loss_g"

    page.get_by_test_id("metric-select").select_option("fid")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=metric-chart] [data-testid=metric-point]')"
        ".length === 5"
    )
    page.locator(f'{POINTS}[data-label="e2"] circle').click()  # each point opens its version
    page.wait_for_url(f"**/versions/{ids['e2']}")
    assert page.locator("[data-testid=training-metrics-table] tr[data-metric=fid]").is_visible()

    page.goto(f"/filters/{slug}/leaderboard")
    fid = page.locator("[data-testid=agreement-table] tr[data-metric=fid]")
    assert fid.get_by_test_id("tau").inner_text().strip() == "+1.00"
    assert violations(page, seen) == []


def test_metric_picker_has_no_second_show_button_and_anchors_land_below_the_top_bar(
    page, live_server: LiveServer
) -> None:
    slug, _ids = seed_tree(live_server.app)
    sign_in_page(page, live_server.users[Role.VIEWER])
    page.set_viewport_size({"width": 1280, "height": 700})
    page.goto(f"/filters/{slug}")
    page.wait_for_function("() => document.documentElement.classList.contains('htmx')")
    # JS runs: the picker swaps the chart in on change, its no-JS button is hidden; the
    # version list's own "Show" stays the only one.
    assert not page.get_by_test_id("metric-show").is_visible()
    shown = page.locator("button:visible", has_text="Show")
    assert shown.count() == 1

    page.goto(f"/filters/{slug}?metric=loss_g#training-metrics")
    page.wait_for_function("() => window.scrollY > 0")
    gap = page.evaluate(
        "() => document.querySelector('#training-metrics h2').getBoundingClientRect().top"
        " - document.querySelector('.topbar').getBoundingClientRect().bottom"
    )
    assert gap >= 0  # the heading is not under the sticky top bar


def test_labels_of_versions_at_one_step_do_not_overlap_in_the_browser(
    page, live_server: LiveServer
) -> None:
    rows = [
        ("v1", None, "main", {"step": 150, "val_l1": 0.1721}),
        ("v2", "v1", "main", {"step": 750, "val_l1": 0.1305}),
        ("v2-se", "v1", "se", {"step": 750, "val_l1": 0.1309}),
    ]
    slug, _ids = seed_tree(live_server.app, rows=rows, name="Siblings")
    sign_in_page(page, live_server.users[Role.VIEWER])
    page.goto(f"/filters/{slug}")
    boxes = page.locator("[data-testid=point-value]").evaluate_all(
        "(els) => els.map((e) => { const b = e.getBBox(); return [b.x, b.y, b.width, b.height]; })"
    )
    assert len(boxes) == 3
    for (ax, ay, aw, ah), (bx, by, bw, bh) in itertools.combinations(boxes, 2):
        assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay  # apart
