"""In a real browser: a face filter's arena with only photos without a face says why it has
nothing to vote on, and a refused vote offers the next pair instead of a dead end."""

import io
import os
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from ganstudio.roles import Role
from tests import checkpoints as ck
from tests.e2e.conftest import LiveServer, sign_in_page
from tests.e2e.test_arena_browser import render_everything
from tests.factories import bearer, make_filter, make_sample, make_token, make_version
from tests.waiting import job_done

pytestmark = pytest.mark.browser

STATUS = "document.querySelector('[data-testid=arena-status]').textContent"
PAIR_READY = "() => !document.querySelector('button[data-outcome=left]').disabled"


def test_a_face_arena_without_faces_says_its_pairs_were_skipped(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    app = live_server.app
    slug = make_filter(app, name="Toon face", input_size=128, pipeline="face")
    for seed, label in ((1, "a"), (2, "b")):
        checkpoint = ck.safetensors_file(tmp_path / f"{label}.st", seed=seed)
        make_version(app, filter_slug=slug, label=label, checkpoint=checkpoint)
    sky = np.linspace(0, 255, 200 * 160 * 3).reshape(160, 200, 3).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(sky).save(buffer, "PNG")
    sample = make_sample(app, buffer.getvalue(), "sky.png")
    token = make_token(app, name=live_server.users[Role.VIEWER])
    with TestClient(app) as api:
        created = api.post(
            "/api/v1/comparisons",
            headers=bearer(token),
            json={"filter": slug, "versions": ["a", "b"], "samples": [sample]},
        )
        assert created.status_code == 201, created.text
        job_done(api, f"/api/v1/comparisons/{created.json()['id']}", bearer(token))

    sign_in_page(page, live_server.users[Role.VIEWER])
    page.goto(f"/filters/{slug}/arena")
    page.wait_for_function(f"() => {STATUS}.startsWith('No pair is left')")
    status = page.get_by_test_id("arena-status").inner_text()
    assert "1 pair because no face was found in the sample" in status
    assert "add samples with faces" in status
    assert not page.locator(".arena-pair").is_visible()  # no pair of two unchanged photos
    assert not page.locator("button[data-outcome=left]").is_visible()  # no dead buttons
    assert not page.get_by_text("Show the input photo").is_visible()
    if shots := os.environ.get("GANSTUDIO_SCREENSHOTS"):
        page.screenshot(path=str(Path(shots) / "arena-no-face.png"), full_page=True)


def test_a_refused_vote_offers_the_next_pair(page, live_server: LiveServer, tmp_path: Path) -> None:
    slug = render_everything(live_server, tmp_path)
    sign_in_page(page, live_server.users[Role.VIEWER])
    page.goto(f"/filters/{slug}/arena")
    page.wait_for_function(PAIR_READY)
    # The same voter votes on this pair elsewhere (another tab, a script): this page's vote is
    # refused (409), and the page must not leave the voter stuck on buttons that fail again.
    pair_id = page.evaluate("() => document.querySelector('img[data-side=left]').src")
    pair_id = pair_id.split("/arena/pairs/")[1].split("/")[0]
    token = make_token(live_server.app, name=live_server.users[Role.VIEWER], label="tab")
    with TestClient(live_server.app) as api:
        voted = api.post(
            "/api/v1/arena/votes",
            headers=bearer(token),
            json={"pair_id": pair_id, "outcome": "tie"},
        )
        assert voted.status_code == 201, voted.text
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"() => {STATUS}.includes('already voted')")
    assert page.get_by_test_id("arena-next").is_visible()
    assert page.locator("button[data-outcome=left]").is_disabled()
    page.keyboard.press("n")
    page.wait_for_function(f"() => {STATUS} === 'Which is better?'")
    page.wait_for_function(PAIR_READY)
    assert not page.get_by_test_id("arena-next").is_visible()
