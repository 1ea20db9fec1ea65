"""In a real browser: the arena fits the screen and keeps its reveal, the leaderboard says how far
it can be trusted, feeds speak in sentences, and every page's footer names the app's version."""

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route

import ganstudio
from ganstudio.app import ROUTERS
from ganstudio.roles import Role
from tests import checkpoints as ck
from tests import imagegen
from tests.e2e.conftest import LiveServer, sign_in_page
from tests.e2e.test_arena_browser import COLOURS, render_everything
from tests.factories import bearer, make_filter, make_sample, make_token, make_version
from tests.waiting import job_done

pytestmark = pytest.mark.browser

SIZES = [(1440, 900), (1280, 720)]
IMAGES_LOADED = (
    "() => [...document.querySelectorAll('img[data-side]')]"
    ".every((img) => img.complete && img.naturalWidth > 0)"
    " && !document.querySelector('button[data-outcome=left]').disabled"
)


def inside_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    viewport = page.viewport_size
    assert box is not None
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= viewport["width"]
        and box["y"] + box["height"] <= viewport["height"]
    )


def render_shaped(live_server: LiveServer, tmp_path: Path, size: tuple[int, int]) -> str:
    """Two solid-colour versions rendered on three samples of `size`; return the filter's slug."""
    app = live_server.app
    slug = make_filter(app, input_size=64)
    for label in ("strong", "weak"):
        checkpoint = ck.torchscript_file(tmp_path / f"{label}.pt", ck.Solid(COLOURS[label]))
        make_version(app, filter_slug=slug, label=label, checkpoint=checkpoint)
    samples = [make_sample(app, imagegen.distinct_png(n, size), f"s{n}.png") for n in range(3)]
    token = make_token(app, name=live_server.users[Role.VIEWER])
    with TestClient(app) as api:
        created = api.post(
            "/api/v1/comparisons",
            headers=bearer(token),
            json={"filter": slug, "versions": ["strong", "weak"], "samples": samples},
        )
        assert created.status_code == 201, created.text
        job_done(api, f"/api/v1/comparisons/{created.json()['id']}", bearer(token))
    return slug


@pytest.mark.parametrize("shape", [(40, 40), (30, 40)], ids=["square", "portrait"])
def test_arena_fits_the_screen_and_the_reveal_waits_for_the_voter(
    browser, live_server: LiveServer, tmp_path: Path, shape: tuple[int, int]
) -> None:
    # Square and portrait renders pushed the vote buttons below the fold.
    slug = render_shaped(live_server, tmp_path, shape)
    # One voter per size: with 3 samples and 2 versions, a voter has 3 pairs to judge.
    for (width, height), voter in zip(SIZES, (Role.VIEWER, Role.DEVELOPER), strict=True):
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": width, "height": height}
        )
        page = context.new_page()
        sign_in_page(page, live_server.users[voter])
        page.goto(f"/filters/{slug}/arena")
        page.wait_for_function(IMAGES_LOADED)
        assert page.evaluate("() => window.scrollY") == 0
        for outcome in ("left", "tie", "both_bad", "right"):
            button = page.locator(f"button[data-outcome={outcome}]")
            assert inside_viewport(page, button), (width, height, outcome, button.bounding_box())
        # The arena is under Leaderboards, not Filters, in the menu.
        assert page.locator("nav a[aria-current=page]").inner_text() == "Leaderboards"

        page.keyboard.press("ArrowLeft")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=reveal-left]').textContent.length > 0"
        )
        revealed = page.get_by_test_id("reveal-left").inner_text()
        page.wait_for_timeout(2000)  # the old page moved on after 0.7 s
        assert page.get_by_test_id("reveal-left").inner_text() == revealed
        assert page.get_by_test_id("reveal-right").inner_text()
        assert inside_viewport(page, page.get_by_test_id("reveal-left"))
        assert inside_viewport(page, page.get_by_test_id("arena-next"))
        assert page.locator("button[data-outcome=left]").is_disabled()  # one vote per pair

        if width == 1440:
            page.get_by_test_id("arena-next").click()
        else:
            page.keyboard.press("n")
        page.wait_for_function(IMAGES_LOADED)
        assert page.get_by_test_id("reveal-left").inner_text() == ""
        assert page.get_by_test_id("arena-next").is_hidden()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=reveal-left]').textContent.length > 0"
        )
        page.screenshot(path=f"/tmp/shots-arena/arena-{shape[0]}x{shape[1]}-{width}x{height}.png")
        context.close()


def test_leaderboard_axis_rule_and_overlaps_and_the_feed_in_sentences(
    browser, live_server: LiveServer, tmp_path: Path
) -> None:
    slug = render_everything(live_server, tmp_path)
    token = make_token(live_server.app, name=live_server.users[Role.VIEWER])
    with TestClient(live_server.app) as api:
        for _ in range(3):  # a few votes: far from a trustworthy ranking
            pair = api.get(f"/api/v1/filters/{slug}/arena/next", headers=bearer(token)).json()
            voted = api.post(
                "/api/v1/arena/votes",
                headers=bearer(token),
                json={"pair_id": pair["pair_id"], "outcome": "left"},
            )
            assert voted.status_code == 201, voted.text
        board = api.get(f"/api/v1/filters/{slug}/leaderboard", headers=bearer(token)).json()
    assert board["min_votes"] == 10 and board["votes_needed"] > 0

    context = browser.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    sign_in_page(page, live_server.users[Role.VIEWER])
    page.goto(f"/filters/{slug}/leaderboard")
    warning = page.get_by_test_id("votes-needed").inner_text()
    assert f"needs {board['votes_needed']} more votes" in warning
    assert "at least 10 votes" in page.get_by_test_id("ranking-rule").inner_text()
    ticks = page.get_by_test_id("chart-tick").all_text_contents()  # SVG text
    assert len(ticks) >= 3 and all(re.fullmatch(r"-?\d+", t) for t in ticks)
    assert sorted(int(t) for t in ticks) == [int(t) for t in ticks]
    # Three votes cannot tell three versions apart: the rows below the first are greyed.
    rows = page.get_by_test_id("leaderboard").locator("tbody tr")
    assert rows.count() == 3
    assert "not-distinct" not in (rows.nth(0).get_attribute("class") or "")
    assert "not-distinct" in (rows.nth(1).get_attribute("class") or "")
    assert "3 blind votes" in page.content()
    assert page.locator("nav a[aria-current=page]").inner_text() == "Leaderboards"
    page.screenshot(path="/tmp/shots-arena/leaderboard-1440x900.png", full_page=True)

    page.goto("/")
    feed = page.get_by_test_id("activity")
    text = feed.inner_text()
    assert "compared 3 versions of Toon on 4 samples" in text
    assert "voted in the Toon arena" in text
    assert "comparison.create" not in text and "arena.vote" not in text
    link = feed.get_by_role("link", name="compared 3 versions of Toon on 4 samples")
    link.click()
    page.wait_for_url(re.compile(r"/c/\w+"))
    page.goto("/")
    page.screenshot(path="/tmp/shots-arena/home-1440x900.png", full_page=True)
    context.close()


def page_paths(values: dict[str, str]) -> list[str]:
    """Every GET route of the app's routers, its path parameters filled from `values`."""
    paths = []
    for route in (r for router in ROUTERS for r in router.routes):
        if not isinstance(route, Route) or "GET" not in (route.methods or ()):
            continue
        if route.path.startswith(("/api/", "/static", "/healthz", "/openapi", "/docs/")):
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", route.path)
        if any(name not in values for name in names):
            continue
        path = route.path
        for name in names:
            path = re.sub(rf"{{{name}(?::\w+)?}}", values[name], path)
        paths.append(path)
    return paths


def test_every_page_footer_names_the_app_version(
    browser, live_server: LiveServer, tmp_path: Path
) -> None:
    app = live_server.app
    slug = make_filter(app)
    version_id = make_version(
        app, filter_slug=slug, label="v1", checkpoint=ck.safetensors_file(tmp_path / "v1.st")
    )
    paths = page_paths({"slug": slug, "version_id": str(version_id)})
    assert {"/", f"/versions/{version_id}", f"/filters/{slug}/arena", "/users"} <= set(paths)
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    sign_in_page(page, live_server.users[Role.ADMIN])
    checked = 0
    for path in paths:
        response = page.goto(path)
        assert response is not None
        if "text/html" not in response.headers.get("content-type", ""):
            continue  # downloads, images
        footer = page.locator("footer")
        if not footer.count():
            continue  # pages outside the site layout (the API docs)
        text = footer.inner_text()
        assert f"GAN Studio {ganstudio.__version__}" in text, (path, text)
        assert "object at 0x" not in text, path
        checked += 1
    assert checked >= 10
    context.close()
