"""In a real browser: QA drags photos in, tags one, makes a set, reorders, archives, restores."""

import pytest

from ganstudio.roles import Role
from tests import imagegen
from tests.e2e.conftest import LiveServer, drop_files, sign_in_page

pytestmark = pytest.mark.browser


def test_qa_uploads_by_drag_and_drop_and_curates_a_set(page, live_server: LiveServer) -> None:
    sign_in_page(page, live_server.users[Role.QA])
    page.goto("/samples")
    assert page.get_by_test_id("empty-grid").is_visible()
    page.get_by_role("link", name="Upload", exact=True).click()
    drop_files(
        page.get_by_test_id("dropzone"),
        [
            ("alice.png", "image/png", imagegen.distinct_png(1)),
            ("bob.jpg", "image/jpeg", imagegen.exif_rotated_jpeg()),
            ("carol.png", "image/png", imagegen.distinct_png(3)),
            ("broken.png", "image/png", b"definitely not a png"),
        ],
    )
    summary = page.get_by_test_id("upload-summary")
    page.wait_for_selector("[data-upload-summary][data-done=true]")
    assert summary.inner_text() == "3 added · 0 already in the library · 1 rejected"
    rejected = page.locator(".upload-list li.bad")
    assert rejected.count() == 1
    assert "broken.png — rejected: It is not an image" in rejected.inner_text()

    # Tag one sample on its page.
    page.goto("/samples")
    assert page.get_by_test_id("sample-total").inner_text() == "3"
    page.locator(".tile", has_text="alice.png").get_by_role("link").click()
    page.get_by_test_id("add-tags").get_by_label("Add tags").fill("Smile")
    page.get_by_test_id("add-tags").get_by_role("button", name="Add").click()
    assert page.get_by_test_id("sample-tags").inner_text().startswith("smile")

    # Select two on the grid and make a set of them.
    page.goto("/samples")
    page.get_by_label("Select alice.png").check()
    page.get_by_label("Select carol.png").check()
    assert page.get_by_test_id("selected-count").inner_text() == "2"
    page.get_by_test_id("bulk-set").fill("Two faces")
    page.get_by_role("button", name="Add to set").click()
    page.wait_for_selector("[data-testid=set-name]")
    assert page.get_by_test_id("set-name").inner_text() == "Two faces"
    names = page.get_by_test_id("member-name")
    first, second = names.all_inner_texts()
    assert {first, second} == {"alice.png", "carol.png"}

    # Reorder (by typing a position), archive, restore.
    page.get_by_label(f"Position of {first}").fill("2")
    page.get_by_role("button", name="Save order").click()
    page.wait_for_selector("text=Saved the order.")
    assert page.get_by_test_id("member-name").all_inner_texts() == [second, first]
    page.get_by_text("Rename, describe, archive").click()
    page.get_by_role("button", name="Archive set").click()
    assert page.get_by_test_id("archived-badge").is_visible()
    page.goto("/sets")
    assert page.get_by_test_id("empty-sets").is_visible()
    page.goto("/sets?archived=true")
    page.get_by_role("link", name="Two faces").click()
    page.get_by_text("Rename, describe, archive").click()
    page.get_by_role("button", name="Restore set").click()
    assert page.get_by_test_id("archived-badge").count() == 0
    assert page.get_by_test_id("member-name").all_inner_texts() == [second, first]
    page.goto("/sets")
    assert page.get_by_test_id("set-count").inner_text() == "2"


def test_file_picker_upload_shows_progress_rows(page, live_server: LiveServer, tmp_path) -> None:
    sign_in_page(page, live_server.users[Role.QA])
    page.goto("/samples/upload")
    photo = tmp_path / "picked.png"
    photo.write_bytes(imagegen.distinct_png(7))
    page.get_by_test_id("file-input").set_input_files(str(photo))
    page.wait_for_selector("[data-upload-summary][data-done=true]")
    assert "1 added" in page.get_by_test_id("upload-summary").inner_text()
    assert page.locator(".upload-row progress").get_attribute("value") == "100"


def test_viewer_is_refused_the_upload_page(page, live_server: LiveServer) -> None:
    sign_in_page(page, live_server.users[Role.VIEWER])
    page.goto("/samples")
    assert page.get_by_role("link", name="Upload", exact=True).count() == 0
    response = page.goto("/samples/upload")
    assert response.status == 403
    assert "needs the 'qa' role" in page.get_by_test_id("error-message").inner_text()
