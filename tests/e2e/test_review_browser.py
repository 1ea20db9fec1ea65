"""In a real browser: a reviewer comments on a cell, picks a best version, downloads the report."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ganstudio.roles import Role
from tests import checkpoints as ck
from tests import imagegen
from tests.e2e.conftest import LiveServer, sign_in_page
from tests.factories import bearer, make_filter, make_sample, make_token, make_version
from tests.waiting import job_done

pytestmark = pytest.mark.browser


def rendered_comparison(live_server: LiveServer, tmp_path: Path) -> str:
    app = live_server.app
    slug = make_filter(app, input_size=64)
    for n in (1, 2):
        make_version(
            app,
            filter_slug=slug,
            label=f"v{n}",
            checkpoint=ck.safetensors_file(tmp_path / f"v{n}.st", seed=n),
        )
    samples = [make_sample(app, imagegen.distinct_png(n), f"s{n}.png") for n in range(2)]
    token = bearer(make_token(app, name=live_server.users[Role.VIEWER]))
    with TestClient(app) as api:
        created = api.post(
            "/api/v1/comparisons",
            headers=token,
            json={
                "filter": slug,
                "versions": ["v1", "v2"],
                "samples": samples,
                "title": "Eyes check",
            },
        ).json()
        job_done(api, created["job"]["id"], token)
    return created["slug"]


def test_reviewer_comments_picks_and_downloads_the_report(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    slug = rendered_comparison(live_server, tmp_path)
    sign_in_page(page, live_server.users[Role.VIEWER])
    page.goto(f"/c/{slug}")
    first_cell = page.get_by_test_id("cell").first
    first_cell.get_by_test_id("cell-comments").click()
    dialog = page.get_by_test_id("comment-dialog")
    assert dialog.get_by_text("On s0.png × v1").is_visible()
    dialog.get_by_label("Comment on this cell").fill("The **eyes** lose their highlight")
    dialog.get_by_role("button", name="Comment").click()
    page.wait_for_url(f"**/c/{slug}?page=1#comment-*")  # lands at the new comment
    comments_button = page.get_by_test_id("cell").first.get_by_test_id("cell-comments")
    assert comments_button.inner_text() == "1 comment"
    assert "The eyes lose their highlight" in page.get_by_test_id("comments").inner_text()

    star = page.get_by_test_id("cell").nth(1).get_by_test_id("pick")
    star.click()  # no reload: the script updates the row and the column headers
    page.wait_for_function(
        "el => el.getAttribute('aria-pressed') == 'true'", arg=star.element_handle()
    )
    assert star.inner_text() == "★ 1"
    heads = page.get_by_test_id("preferred").all_inner_texts()
    assert heads == ["★ preferred in 0 of 1", "★ preferred in 1 of 1"]

    with page.expect_download() as download_info:
        page.get_by_test_id("download-report").click()
    report = tmp_path / "report.html"
    download_info.value.save_as(report)
    offline = page.context.new_page()
    offline.goto(report.as_uri())
    assert "Eyes check" in offline.title()
    assert "eyes" in offline.locator("strong", has_text="eyes").first.inner_text()
    widths = offline.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) == 6 and all(w > 0 for w in widths)  # 2 inputs + 4 renders, embedded
    assert "preferred in 1 of 1 row<" in offline.content()
