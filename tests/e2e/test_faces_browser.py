"""In a real browser, with a fake face library (tests/web/faces_helpers.py) in the live server's
process: QA generates eye masks for a set, sees the overlays, and filters by "eyes closed"."""

import pytest

from ganstudio.roles import Role
from ganstudio.services import sample_sets as sets_service
from tests.e2e.conftest import LiveServer, sign_in_page
from tests.factories import make_sample
from tests.web.faces_helpers import face_photo, fake_faces  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fake_faces")]


def test_qa_generates_eye_masks_for_a_set_and_sees_the_overlays(
    page, live_server: LiveServer
) -> None:
    app = live_server.app
    open_eyes = make_sample(app, face_photo(1, seed=1), "open.png")
    closed = make_sample(app, face_photo(1, closed=True, seed=2), "closed.png")
    nobody = make_sample(app, face_photo(0, seed=3), "nobody.png")
    with app.state.sessions() as session:
        sample_set = sets_service.create_set(session, name="Eyes", description="", actor=None)
        sets_service.add_samples(
            session, sample_set=sample_set, sample_ids=[open_eyes, closed, nobody], actor=None
        )
        session.commit()
        set_id = sample_set.id

    sign_in_page(page, live_server.users[Role.QA])
    page.goto(f"/sets/{set_id}")
    page.get_by_test_id("generate-masks").get_by_role("button").click()
    # The worker thread runs the job; the progress block polls until it is done.
    page.wait_for_selector("[data-testid=mask-job][data-status=done]", timeout=30_000)
    text = page.get_by_test_id("mask-job-text").inner_text()
    assert "2 generated" in text and "1 failed" in text
    assert "nobody.png" in page.get_by_test_id("mask-job-errors").inner_text()

    page.goto(f"/samples/{closed}")
    assert page.get_by_test_id("mask-source").inner_text() == "generated from landmarks"
    overlay = page.get_by_test_id("face-overlay")
    assert overlay.is_hidden()
    page.get_by_test_id("toggle-faces").check()
    page.wait_for_selector("[data-testid=face-overlay][data-faces='1']")
    assert overlay.is_visible()
    assert overlay.locator("rect.face-box").count() == 1
    assert overlay.locator("polygon.face-left_eye").count() == 1
    # The SVG covers the displayed image exactly (drawn in the photo's pixels, scaled).
    image_box = page.get_by_test_id("sample-image").bounding_box()
    svg_box = overlay.bounding_box()
    assert image_box and svg_box
    assert abs(image_box["width"] - svg_box["width"]) < 1.5
    assert abs(image_box["height"] - svg_box["height"]) < 1.5
    mask = page.get_by_test_id("mask-overlay")
    assert mask.is_hidden()
    page.get_by_test_id("toggle-mask").check()
    assert mask.is_visible()
    system_tags = page.get_by_test_id("system-tag").all_inner_texts()
    assert any("eyes closed" in t for t in system_tags)

    # QA filters the grid by the "eyes closed" system tag.
    page.goto("/samples")
    page.get_by_test_id("tag-filter").get_by_role("link", name="face:eyes closed").click()
    page.wait_for_url("**/samples?*tag=face*")
    names = page.locator(".tile").all_inner_texts()
    assert len(names) == 1 and "closed.png" in names[0]
