"""In a real browser, with the real face detector and the real analysis engine: a planner opens
"Why" on a face sample of a demo-like face filter and sees two versions' attention on the eyes
side by side, each with its share; then the analysis page of a sample set."""

import io
import os
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data
from sqlalchemy import func, select

import ganstudio
from ganstudio import faces
from ganstudio.db.tables import Analysis, AnalysisItem, AuditEvent
from ganstudio.roles import Role
from tests.e2e.conftest import LiveServer, sign_in_page
from tests.factories import bearer, make_filter, make_sample, make_token, make_version
from tests.waiting import job_done
from tests.web.compare_helpers import make_set

pytestmark = pytest.mark.browser

DEMO_FACES = Path(ganstudio.__file__).parent / "demo_assets" / "checkpoints" / "faces"
SIZE = 128  # the demo's toon-face input size
SHOTS = Path(os.environ.get("GANSTUDIO_SHOTS", "/tmp/shots-why"))


def _astronaut_png() -> bytes:
    photo = Image.new("RGB", (760, 640), (70, 120, 60))
    photo.paste(Image.fromarray(data.astronaut()), (200, 100))
    buffer = io.BytesIO()
    photo.save(buffer, "PNG")
    return buffer.getvalue()


def _face_filter(live_server: LiveServer) -> str:
    """The demo's toon-face filter: the face pipeline, v1 and v2 (se-unet) from its checkpoints."""
    app = live_server.app
    slug = make_filter(app, name="Toon face", input_size=SIZE, pipeline="face")
    for label in ("v1", "v2"):
        make_version(
            app, filter_slug=slug, label=label, checkpoint=DEMO_FACES / f"{label}.safetensors"
        )
    return slug


def _compare(live_server: LiveServer, slug: str, set_id: int) -> str:
    token = bearer(make_token(live_server.app, name=live_server.users[Role.VIEWER]))
    with TestClient(live_server.app) as api:
        created = api.post(
            "/api/v1/comparisons",
            headers=token,
            json={"filter": slug, "versions": ["v1", "v2"], "set": set_id},
        )
        assert created.status_code == 201, created.text
        job_done(api, created.json()["job"]["id"], token)
    return str(created.json()["slug"])


def test_a_planner_sees_two_versions_eye_attention_side_by_side(
    page, live_server: LiveServer
) -> None:
    app = live_server.app
    try:
        faces.analyse_image(Image.new("RGB", (64, 64)))
    except faces.FaceAnalysisUnavailableError as exc:  # `make install` puts it in
        pytest.fail(f"the face detector is not installed: {exc}")
    sample = make_sample(app, _astronaut_png(), "astronaut.png")
    set_id = make_set(app, "Portraits", [sample])
    slug = _compare(live_server, _face_filter(live_server), set_id)

    sign_in_page(page, live_server.users[Role.VIEWER])
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"/c/{slug}/view?sample={sample}")
    page.get_by_test_id("mode-why").click()  # one click: eyes is the default region

    why = page.get_by_test_id("why")
    why.wait_for()
    cards = why.get_by_test_id("why-gradcam").get_by_test_id("why-card")
    assert cards.count() == 2
    assert [cards.nth(i).locator("strong").inner_text() for i in range(2)] == ["v1", "v2"]
    page.wait_for_function(
        "() => { const cards = document.querySelectorAll("
        "'[data-testid=why-gradcam] [data-testid=why-card]');"
        " return cards.length === 2 && [...cards].every((c) => c.dataset.state === 'done'); }",
        timeout=120_000,
    )
    shares = why.get_by_test_id("why-share")
    assert shares.count() == 2
    for i in range(2):
        text = shares.nth(i).inner_text()
        assert re.fullmatch(r"\d{1,3}% on the eyes", text), text
        share = float(shares.nth(i).get_attribute("data-share") or "nan")
        assert 0 <= share <= 1
    images = why.get_by_test_id("why-gradcam-image")
    assert images.count() == 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=why-gradcam-image]')]"
        ".every((img) => img.complete && img.naturalWidth > 0)"
    )
    # Side by side: the two overlays share a row.
    boxes = [images.nth(i).bounding_box() for i in range(2)]
    assert boxes[0] and boxes[1] and abs(boxes[0]["y"] - boxes[1]["y"]) < 2
    assert boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"]
    assert "mode=why" in page.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "why-eyes-1440x900.png"), full_page=True)
    # Looking is a read: opening Why again makes no new analyses, and none reaches the feed.
    looked = _why_records(app)
    assert looked == (2, 0)
    page.reload()
    page.wait_for_function(_cards_done(), timeout=120_000)
    assert _why_records(app) == looked

    # The whole crop (a face filter sees only the crop): every share is 100% of the map.
    page.get_by_test_id("why-region").select_option("image")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=why-share]')]"
        ".map((s) => s.textContent).join('|')"
        " === '100% on the whole crop|100% on the whole crop'",
        timeout=120_000,
    )
    # Features, side by side.
    page.get_by_test_id("why-features-toggle").check()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=why-features-image]').length === 2",
        timeout=120_000,
    )
    page.screenshot(path=str(SHOTS / "why-features-1440x900.png"), full_page=True)

    # Over the sample set: the analysis page, from the comparison page.
    page.goto(f"/c/{slug}")
    page.get_by_test_id("start-analysis-link").click()
    page.get_by_test_id("start-analysis").click()
    page.wait_for_url(re.compile(r"/analyses/[a-z0-9]+$"))
    page.wait_for_function(
        "() => document.querySelector('[data-testid=analysis-page]').dataset.finished === 'true'",
        timeout=120_000,
    )
    cells = page.get_by_test_id("analysis-cell")
    assert cells.count() == 2
    assert page.get_by_test_id("share-bar").count() == 2
    page.screenshot(path=str(SHOTS / "analysis-page-1440x900.png"), full_page=True)


DEMO_SAMPLES = Path(ganstudio.__file__).parent / "demo_assets" / "samples"


def _why_records(app) -> tuple[int, int]:
    """How many analyses there are, and how many analysis events the activity feed has."""
    with app.state.sessions() as session:
        analyses = session.scalar(select(func.count()).select_from(Analysis))
        events = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "analysis.create")
        )
    return analyses or 0, events or 0


def _cards_done(kind: str = "gradcam") -> str:
    return (
        "() => { const cards = document.querySelectorAll("
        f"'[data-testid=why-{kind}] [data-testid=why-card]');"
        " return cards.length === 2 && [...cards].every((c) => c.dataset.state === 'done'); }"
    )


def test_why_on_a_group_photo_and_a_photo_without_a_face(page, live_server: LiveServer) -> None:
    """Several faces: pick the face to explain; a box is drawn inside the outlined face crop;
    the region, box, face and features survive a reload (the link); a photo without a face says
    so once. Then the analysis page from the comparison, and back again."""
    app = live_server.app
    group = make_sample(app, (DEMO_SAMPLES / "group-of-three.jpg").read_bytes(), "group.jpg")
    cat = make_sample(app, (DEMO_SAMPLES / "chelsea-the-cat.jpg").read_bytes(), "cat.jpg")
    set_id = make_set(app, "Group and cat", [group, cat])
    slug = _compare(live_server, _face_filter(live_server), set_id)

    sign_in_page(page, live_server.users[Role.VIEWER])
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"/c/{slug}/view?sample={group}")
    page.get_by_test_id("mode-why").click()
    why = page.get_by_test_id("why")
    face = why.get_by_test_id("why-face")
    face.wait_for()
    assert face.locator("option").count() == 3
    assert "face 1 of 3, the largest" in why.get_by_test_id("why-face-note").inner_text()
    face.select_option("1")
    assert "face=1" in page.url
    assert "face 2 of 3" in why.get_by_test_id("why-face-note").inner_text()
    options = why.get_by_test_id("why-region").locator("option").all_inner_texts()
    assert "The whole crop" in options and "Whole image" not in options

    # Draw a box: the crops the versions see are outlined, and the page says to draw inside.
    why.get_by_test_id("why-region").select_option("box")
    assert "region=box" in page.url
    outlines = page.locator("[data-testid=why-crop-outlines] polygon")
    assert outlines.count() == 3
    page.wait_for_function(
        "() => { const img = document.querySelector('[data-testid=why-draw-image]');"
        " const svg = document.querySelector('[data-testid=why-crop-outlines]');"
        " const chosen = document.querySelector('[data-testid=why-crop-outlines] .chosen');"
        " return img.complete && img.clientWidth > 0 && chosen"
        " && chosen.getBoundingClientRect().width > 0"
        " && Math.abs(svg.getBoundingClientRect().width - img.clientWidth) < 1; }"
    )
    assert "inside the face crop" in why.get_by_test_id("why-crop-help").inner_text()
    chosen = page.locator("[data-testid=why-crop-outlines] polygon.chosen").bounding_box()
    assert chosen
    cx, cy = chosen["x"] + chosen["width"] / 2, chosen["y"] + chosen["height"] / 2
    page.mouse.move(cx - chosen["width"] / 6, cy - chosen["height"] / 6)
    page.mouse.down()
    page.mouse.move(cx + chosen["width"] / 6, cy + chosen["height"] / 6, steps=5)
    page.mouse.up()
    shown = page.locator("[data-testid=why-draw] .why-box")
    shown.wait_for(state="visible")
    drawn = shown.bounding_box()
    assert (
        drawn
        and chosen["x"] <= drawn["x"]
        and drawn["x"] + drawn["width"] <= cx + chosen["width"] / 2
    )
    page.wait_for_function(_cards_done(), timeout=120_000)
    assert re.search(r"box=\d+%2C\d+%2C\d+%2C\d+|box=\d+,\d+,\d+,\d+", page.url), page.url
    shares = why.get_by_test_id("why-share").all_inner_texts()
    assert all(re.fullmatch(r"\d{1,3}% on the box", s) for s in shares), shares
    page.get_by_test_id("why-features-toggle").check()
    assert "features=1" in page.url
    page.wait_for_function(_cards_done("features"), timeout=120_000)
    # Cards as tall as their content: no card stretched to a neighbour's height.
    heights = page.eval_on_selector_all(
        "[data-testid=why-features] [data-testid=why-card]",
        "cards => cards.map((c) => c.getBoundingClientRect().height - c.scrollHeight)",
    )
    assert all(abs(h) < 2 for h in heights), heights
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "why-group-box-1440x900.png"), full_page=True)

    # The link keeps it all: reload, and the same face, box and features are back.
    page.reload()
    why.wait_for()
    assert why.get_by_test_id("why-region").input_value() == "box"
    assert page.get_by_test_id("why-features-toggle").is_checked()
    page.get_by_test_id("why-face").wait_for()
    assert page.get_by_test_id("why-face").input_value() == "1"
    page.wait_for_function(_cards_done(), timeout=60_000)

    # The cat: one sentence for the sample, no cards repeating the error, no layer pickers.
    page.goto(f"/c/{slug}/view?sample={cat}&mode=why&region=image")
    note = page.get_by_test_id("why-noface")
    note.wait_for(timeout=120_000)
    assert "No face" in note.inner_text()
    assert page.get_by_test_id("why-error").count() == 0
    assert page.get_by_test_id("why-layer").count() == 0
    page.screenshot(path=str(SHOTS / "why-cat-1440x900.png"), full_page=True)
    with app.state.sessions() as session:  # its face analysis found none: nothing was queued
        worked = select(AnalysisItem.id).where(
            AnalysisItem.sample_id == cat, AnalysisItem.attempts > 0
        )
        assert session.scalars(worked).all() == []

    # The analysis page: started from the comparison, the cat is a note, back links work.
    page.goto(f"/analyses/new?comparison={slug}")
    regions = page.get_by_test_id("analysis-regions")
    assert page.get_by_test_id("analysis-layer").evaluate("(e) => e.tagName") == "SELECT"
    page.check("input[name=kind][value=features]")
    assert regions.evaluate("(e) => e.disabled")
    page.check("input[name=kind][value=gradcam]")
    assert not regions.evaluate("(e) => e.disabled")
    page.check("input[name=region][value=image]")
    page.get_by_test_id("start-analysis").click()
    page.wait_for_url(re.compile(r"/analyses/[a-z0-9]+$"))
    page.wait_for_function(
        "() => document.querySelector('[data-testid=analysis-page]').dataset.finished === 'true'",
        timeout=120_000,
    )
    shown = page.get_by_test_id("analysis-page").inner_text()  # says why, should these fail
    assert page.get_by_test_id("analysis-no-face-note").count() == 2, shown
    assert page.get_by_test_id("analysis-failed").count() == 0, shown
    header = page.locator("th[data-version]").first
    assert header.get_attribute("aria-sort") == "none"
    header.locator("button.sort").click()
    assert header.get_attribute("aria-sort") == "descending"
    header.locator("button.sort").click()
    assert header.get_attribute("aria-sort") == "ascending"
    page.screenshot(path=str(SHOTS / "analysis-group-cat-1440x900.png"), full_page=True)
    analysis_url = page.url
    page.get_by_test_id("analysis-comparison").click()
    page.wait_for_url(re.compile(rf"/c/{slug}$"))
    page.get_by_test_id("comparison-analysis").first.click()
    page.wait_for_url(analysis_url)
    page.get_by_test_id("analysis-why-link").first.click()
    page.wait_for_url(re.compile(r"/view\?sample=\d+&mode=why&region=image"))
    page.get_by_test_id("why").wait_for()
