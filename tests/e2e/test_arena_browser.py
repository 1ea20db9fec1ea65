"""In a real browser: two viewers vote ten rounds each with the keyboard; the leaderboard agrees."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ganstudio.roles import Role
from tests import checkpoints as ck
from tests import imagegen
from tests.e2e.conftest import LiveServer, sign_in_page
from tests.factories import bearer, make_filter, make_sample, make_token, make_user, make_version
from tests.waiting import job_done

pytestmark = pytest.mark.browser

STRENGTH = {"strong": 3, "mid": 2, "weak": 1}
COLOURS = {"strong": (1.0, -1.0, -1.0), "mid": (-1.0, 1.0, -1.0), "weak": (-1.0, -1.0, 1.0)}
# The page names no render file (the arena is blind), so the test tells the sides apart the way
# a person does: by looking. Each version paints one colour; read the image's average pixel.
PIXEL = """
(img) => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const context = canvas.getContext("2d");
  context.drawImage(img, 0, 0, 1, 1);
  return Array.from(context.getImageData(0, 0, 1, 1).data.slice(0, 3));
}
"""


def render_everything(live_server: LiveServer, tmp_path: Path) -> str:
    """Make 3 solid-colour versions and render them on 4 samples; return the filter's slug."""
    app = live_server.app
    slug = make_filter(app, input_size=64)
    for label, rgb in COLOURS.items():
        make_version(
            app,
            filter_slug=slug,
            label=label,
            checkpoint=ck.torchscript_file(tmp_path / f"{label}.pt", ck.Solid(rgb)),
        )
    samples = [make_sample(app, imagegen.distinct_png(n), f"s{n}.png") for n in range(4)]
    token = make_token(app, name=live_server.users[Role.VIEWER])
    with TestClient(app) as api:
        created = api.post(
            "/api/v1/comparisons",
            headers=bearer(token),
            json={"filter": slug, "versions": list(COLOURS), "samples": samples},
        ).json()
        job_done(api, f"/api/v1/comparisons/{created['id']}", bearer(token))
    return slug


def shown_version(page, side: str) -> str:
    """Return the label of the version whose colour the `side` image shows."""
    image = page.get_by_test_id(f"arena-{side}")
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    rgb = image.evaluate(PIXEL)
    brightest = max(range(3), key=lambda channel: rgb[channel])
    return next(label for label, colour in COLOURS.items() if colour[brightest] > 0)


def vote_rounds(page, rounds: int) -> None:
    """Press ← or → for the stronger side, `rounds` times, waiting for each new pair."""
    for done in range(rounds):
        page.wait_for_function(
            "n => document.querySelector('[data-testid=arena-count]').textContent == String(n)"
            " && !document.querySelector('button[data-outcome=left]').disabled",
            arg=done,
        )
        left, right = shown_version(page, "left"), shown_version(page, "right")
        stronger_left = STRENGTH[left] > STRENGTH[right]
        page.keyboard.press("ArrowLeft" if stronger_left else "ArrowRight")
        page.wait_for_function(
            "n => document.querySelector('[data-testid=arena-count]').textContent == String(n)",
            arg=done + 1,
        )
        noun = page.get_by_test_id("arena-count-noun").inner_text()
        assert noun == ("vote" if done + 1 == 1 else "votes")  # "1 vote", "2 votes" this session
        revealed = page.locator("[data-reveal=left]").inner_text()
        assert revealed.split(" ")[0] == left  # names shown after the vote
        page.keyboard.press("n")  # the reveal stays until the voter moves on


def test_two_viewers_vote_and_the_leaderboard_shows_their_order(
    browser,
    live_server: LiveServer,
    tmp_path: Path,
) -> None:
    slug = render_everything(live_server, tmp_path)
    make_user(live_server.app, role=Role.VIEWER, name="second-viewer")
    for name in (live_server.users[Role.VIEWER], "second-viewer"):
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        sign_in_page(page, name)
        page.goto(f"/filters/{slug}")
        page.get_by_test_id("arena-link").click()
        vote_rounds(page, 10)
        context.close()

    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    sign_in_page(page, live_server.users[Role.VIEWER])
    page.goto(f"/filters/{slug}/leaderboard")
    rows = page.get_by_test_id("leaderboard").locator("tbody tr")
    assert [rows.nth(i).get_attribute("data-label") for i in range(3)] == ["strong", "mid", "weak"]
    assert "from 20 blind votes" in page.content()
    assert page.get_by_test_id("win-matrix").is_visible()
    page.goto("/leaderboards")
    assert "strong" in page.get_by_test_id("leaderboard-card").first.inner_text()
    context.close()
