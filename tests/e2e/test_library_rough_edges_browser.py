"""In a real browser: the library's rough edges, smoothed.

- the web test page opens on the filter you last web-tested, else the busiest one;
- a refused web-test photo says why in the strip, with no broken image, and the viewer stays on
  the last good photo (or says what to do);
- a set is built by dragging (one request), added samples land in upload order, "add by tag" is
  in view, and without JavaScript position numbers reorder it.
"""

from pathlib import Path

import pytest

from ganstudio.roles import Role
from tests import checkpoints as ck
from tests import imagegen
from tests.e2e.conftest import LiveServer, drop_files, sign_in_page
from tests.factories import make_filter, make_sample, make_version
from tests.web.compare_helpers import make_bench

pytestmark = pytest.mark.browser

BROKEN_IMAGES = (
    "() => [...document.images].filter((i) => i.getAttribute('src') && i.complete"
    " && i.naturalWidth === 0).length"
)


def chosen_filter(page) -> str:
    return page.get_by_test_id("pick-filter").locator("select[name=filter]").input_value()


def test_webtest_opens_on_the_filter_last_used_else_the_busiest(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    app = live_server.app
    # "Anime" comes first by name but is older; Toon's versions are pushed after it.
    anime = make_filter(app, name="Anime", input_size=64)
    make_version(
        app,
        filter_slug=anime,
        label="a1",
        checkpoint=ck.safetensors_file(tmp_path / "a1.safetensors", 7),
    )
    bench = make_bench(app, tmp_path, labels=("v1",), size=(48, 36))

    sign_in_page(page, live_server.users[Role.QA])
    page.goto("/webtest")
    assert chosen_filter(page) == bench.slug  # the latest activity: Toon's push

    # A web test on Anime makes Anime this person's filter, though Toon was pushed later.
    page.goto(f"/webtest?filter={anime}")
    drop_files(
        page.get_by_test_id("webtest-dropzone"),
        [("mine.png", "image/png", imagegen.distinct_png(3, size=(64, 48)))],
    )
    page.wait_for_selector("[data-testid=webtest-photo][data-status=done]")
    page.goto("/webtest")
    assert chosen_filter(page) == anime
    assert page.get_by_test_id("webtest-form").get_attribute("data-filter") == anime


def test_a_refused_photo_says_why_and_leaves_the_viewer_on_the_last_good_one(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    make_bench(live_server.app, tmp_path, labels=("v1",), size=(48, 36))
    sign_in_page(page, live_server.users[Role.VIEWER])
    page.goto("/webtest?filter=toon")
    zone = page.get_by_test_id("webtest-dropzone")

    # Refused first: nothing good to show, so the viewer says what to do instead.
    drop_files(zone, [("notes.txt", "text/plain", b"these are notes, not a photo")])
    refusal = page.locator("[data-testid=webtest-photo][data-status=error]")
    refusal.wait_for()
    assert "not an image" in refusal.get_by_test_id("webtest-refusal").inner_text()
    assert refusal.locator("img").count() == 0
    assert page.get_by_test_id("viewer-empty").is_visible()
    assert "Drop a photo" in page.get_by_test_id("viewer-empty").inner_text()
    assert page.get_by_test_id("viewer").is_hidden()
    assert "not an image" in page.get_by_test_id("webtest-status").inner_text()

    # A good photo, then another refused one: the viewer stays on the good photo.
    drop_files(zone, [("good.png", "image/png", imagegen.distinct_png(5, size=(64, 48)))])
    page.wait_for_selector("[data-testid=webtest-photo][data-status=done]")
    good_figures = page.get_by_test_id("viewer-figure").count()
    assert good_figures == 2  # the input and v1's render
    drop_files(zone, [("huge.png", "image/png", imagegen.huge_declared_png())])
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=webtest-photo][data-status=error]')"
        ".length === 2",
        polling=100,  # not on animation frames: Chromium may be busy decoding the huge preview
    )
    second = page.locator("[data-testid=webtest-photo][data-status=error]").nth(1)
    assert second.locator("img").count() == 0
    assert second.get_by_test_id("webtest-refusal").inner_text().strip()
    assert page.get_by_test_id("viewer").is_visible()
    assert page.get_by_test_id("viewer-empty").is_hidden()
    assert page.get_by_test_id("viewer-figure").count() == good_figures
    assert page.evaluate(BROKEN_IMAGES) == 0


def test_a_set_is_built_by_dragging_in_upload_order_with_add_by_tag_in_view(
    page, live_server: LiveServer
) -> None:
    app = live_server.app
    for n, name in enumerate(("first.png", "second.png", "third.png")):
        make_sample(app, imagegen.distinct_png(40 + n), name)
    tagged = make_sample(app, imagegen.distinct_png(50), "tagged.png")
    sign_in_page(page, live_server.users[Role.QA])

    # Tag one, then select the other three on the grid (newest first there) into a new set.
    page.goto("/samples")
    page.get_by_label("Select tagged.png").check()
    page.get_by_test_id("bulk-tags").fill("smile")
    page.get_by_role("button", name="Add tags").click()
    page.wait_for_selector("text=Tagged 1 sample(s) with smile.")
    for name in ("third.png", "first.png", "second.png"):
        page.get_by_label(f"Select {name}").check()
    page.get_by_test_id("bulk-set").fill("Order")
    page.get_by_role("button", name="Add to set").click()
    page.wait_for_selector("[data-testid=set-name]")
    names = page.get_by_test_id("member-name")
    assert names.all_inner_texts() == ["first.png", "second.png", "third.png"]

    # "Add by tag" is in view, not folded away.
    add_by_tag = page.get_by_test_id("add-by-tag")
    assert add_by_tag.is_visible()
    add_by_tag.get_by_role("button", name="Add by tag").click()
    page.wait_for_selector("text=Added 1 sample(s).")
    assert names.all_inner_texts()[-1] == "tagged.png"
    assert page.locator(f"#member-{tagged}").is_visible()

    # Drag the third above the first: one request saves it.
    orders: list[str] = []
    page.on(
        "request",
        lambda r: orders.append(r.method) if r.url.endswith("/samples/order") else None,
    )
    third = page.locator("[data-testid=set-members] li", has_text="third.png")
    first = page.locator("[data-testid=set-members] li", has_text="first.png")
    third.drag_to(first, target_position={"x": 20, "y": 4})
    page.wait_for_selector("[data-testid=order-status]:has-text('Saved the order.')")
    expected = ["third.png", "first.png", "second.png", "tagged.png"]
    assert names.all_inner_texts() == expected
    positions = page.get_by_test_id("member-position")
    assert [positions.nth(i).input_value() for i in range(4)] == ["1", "2", "3", "4"]
    assert orders == ["POST"]
    page.reload()
    assert page.get_by_test_id("member-name").all_inner_texts() == expected


def test_without_javascript_positions_reorder_a_set(browser, live_server: LiveServer) -> None:
    app = live_server.app
    ids = [make_sample(app, imagegen.distinct_png(60 + n), f"s{n}.png") for n in range(3)]
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in_page(page, live_server.users[Role.QA])
        page.goto("/samples")
        for n in range(3):
            page.get_by_label(f"Select s{n}.png").check()
        page.get_by_test_id("bulk-set").fill("No script")
        page.get_by_role("button", name="Add to set").click()
        page.wait_for_selector("[data-testid=set-name]")
        names = page.get_by_test_id("member-name")
        assert names.all_inner_texts() == ["s0.png", "s1.png", "s2.png"]
        page.get_by_label("Position of s2.png").fill("1")
        page.get_by_role("button", name="Save order").click()
        page.wait_for_selector("text=Saved the order.")
        assert names.all_inner_texts() == ["s2.png", "s0.png", "s1.png"]
        assert page.locator(f"#member-{ids[2]}").is_visible()
    finally:
        context.close()
