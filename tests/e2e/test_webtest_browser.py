"""In a real browser: web tests past the per-minute limit wait and go again; saving by opaque id."""

from pathlib import Path

import pytest

from ganstudio.roles import Role
from tests import imagegen
from tests.e2e.conftest import LiveServer, drop_files, sign_in_page
from tests.web.compare_helpers import make_bench

pytestmark = pytest.mark.browser


def test_a_photo_over_the_limit_waits_then_goes_and_qa_saves_one(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    make_bench(live_server.app, tmp_path, labels=("v1", "v2"), size=(96, 64))
    settings = live_server.app.state.settings
    settings.webtest_per_minute = 1

    def short_retry(route) -> None:
        # The real Retry-After is up to a minute; the page must honour whatever it says.
        response = route.fetch()
        headers = dict(response.headers)
        if response.status == 429:
            headers["retry-after"] = "1"
        route.fulfill(response=response, headers=headers)

    page.route("**/api/v1/webtest", short_retry)
    sign_in_page(page, live_server.users[Role.QA])
    page.goto("/webtest?filter=toon")
    assert "only you (and developers) can open them" in page.inner_text("main")
    drop_files(
        page.get_by_test_id("webtest-dropzone"),
        [
            ("first.png", "image/png", imagegen.distinct_png(1, size=(80, 60))),
            ("second.png", "image/png", imagegen.distinct_png(2, size=(80, 60))),
        ],
    )
    waiting = page.locator("[data-testid=webtest-photo][data-status=waiting] button")
    name = waiting.get_attribute("title")  # either photo may be the one sent second
    waiting.click()
    status = page.get_by_test_id("webtest-status")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=webtest-status]').dataset.status === 'waiting'"
    )
    assert "the limit is 1 a minute" in status.inner_text()
    assert "Sending it again by itself" in status.inner_text()

    settings.webtest_per_minute = 10  # the next try fits
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=webtest-photo][data-status=done]')"
        ".length === 2"
    )
    # The default versions: newest of main, topped up to two (services/versions).
    assert "2 of 2 rendered" in status.inner_text()

    page.get_by_test_id("save-set").fill("From the web")
    page.get_by_role("button", name="Save to a sample set").click()
    page.wait_for_selector("[data-testid=save-result] a")
    assert f"Added {name} → From the web" in page.get_by_test_id("save-result").inner_text()


def test_a_reload_of_a_web_tests_address_shows_its_renders_again(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    make_bench(live_server.app, tmp_path, labels=("v1", "v2"), size=(96, 64))
    sign_in_page(page, live_server.users[Role.VIEWER])
    page.goto("/webtest?filter=toon")
    assert "You have not web-tested a photo yet." in page.inner_text("main")
    drop_files(
        page.get_by_test_id("webtest-dropzone"),
        [("portrait.png", "image/png", imagegen.distinct_png(4, size=(80, 60)))],
    )
    page.wait_for_selector("[data-testid=webtest-photo][data-status=done]")
    # The address names the web test, without a page load.
    page.wait_for_function("() => location.search.startsWith('?test=')")
    test_id = page.evaluate("() => new URLSearchParams(location.search).get('test')")
    answer = page.request.get(f"/api/v1/webtest/{test_id}").json()
    render_urls = sorted(r["render_url"] for r in answer["renders"])
    assert len(render_urls) == 2 and all(render_urls)

    page.reload()
    assert page.url.endswith(f"/webtest?test={test_id}")
    page.wait_for_selector("[data-testid=webtest-photo][data-status=done]")
    assert page.locator("[data-testid=webtest-photo] button").get_attribute("title") == (
        "portrait.png"
    )
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=viewer-figure] img').length === 3"
    )
    shown = page.eval_on_selector_all(
        "[data-testid=viewer-figure] img", "imgs => imgs.map((img) => img.getAttribute('src'))"
    )
    assert sorted(shown[1:]) == render_urls and shown[0] == answer["photo_url"]
    assert "portrait.png: 2 of 2 rendered." in page.get_by_test_id("webtest-status").inner_text()
    # And it is the newest line of "Your recent web tests", linking to the same address.
    link = page.locator("[data-testid=webtest-recent-row] a").first
    assert link.get_attribute("href") == f"/webtest?test={test_id}"
