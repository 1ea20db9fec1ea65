"""In a real browser, under the Content-Security-Policy: no page, the docs and the offline report
included, trips the policy, and the docs load nothing from another host."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ganstudio.roles import Role
from tests import imagegen
from tests.e2e.conftest import LiveServer, drop_files, sign_in_page
from tests.factories import bearer, make_token
from tests.waiting import job_done
from tests.web.compare_helpers import make_bench

pytestmark = pytest.mark.browser

# Runs before any script of each page: the browser fires this event for every blocked script,
# style, image, eval or connection (and logs it to the console, which is watched too).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__violations.push(`${event.effectiveDirective} blocked ${event.blockedURI} at ${where}`);
});
"""


def watch(page) -> list[str]:
    """Record every CSP violation the page reports, as an event or on the console."""
    seen: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            seen.append(f"console: {message.text}")
            if "Content Security Policy" in message.text
            or "Content-Security-Policy" in message.text
            else None
        ),
    )
    return seen


def violations(page, seen: list[str]) -> list[str]:
    page.evaluate("() => new Promise((done) => setTimeout(done, 0))")  # let queued events fire
    return [*seen, *page.evaluate("window.__violations")]


def prepare(live_server: LiveServer, tmp_path: Path) -> dict:
    """A filter with two rendered versions, a comparison, a comment, votes for the matrix."""
    app = live_server.app
    bench = make_bench(app, tmp_path, size=(64, 48))
    headers = bearer(make_token(app, name=live_server.users[Role.ADMIN]))
    with TestClient(app) as api:
        created = api.post(
            "/api/v1/comparisons",
            json={"filter": bench.slug, "versions": ["v1", "v2"], "set": bench.set_id},
            headers=headers,
        ).json()
        job_done(api, created["url"].replace("/c/", "/api/v1/comparisons/"), headers)
        api.post(
            f"/api/v1/comparisons/{created['id']}/comments",
            json={"body": "Looks **good** ![pixel](https://tracker.example/p.gif)"},
            headers=headers,
        )
        for _ in range(2):
            pair = api.get(f"/api/v1/filters/{bench.slug}/arena/next", headers=headers).json()
            api.post(
                "/api/v1/arena/votes",
                json={"pair_id": pair["pair_id"], "outcome": "left"},
                headers=headers,
            )
        report = api.get(f"/api/v1/comparisons/{created['id']}/report", headers=headers)
    slug = created["url"].removeprefix("/c/")
    return {"bench": bench, "slug": slug, "report": report.content}


def main_pages(bench, slug: str) -> list[tuple[str, str]]:
    """The pages to visit (each with a selector that says it is ready): every main page."""
    return [
        ("/", "[data-testid=user-name]"),
        ("/samples", "[data-testid=sample-total]"),
        ("/samples/upload", "[data-testid=upload-form]"),
        (f"/samples/{bench.samples[0]}", "main"),
        ("/tags", "main"),
        ("/sets", "[data-testid=create-set]"),
        (f"/sets/{bench.set_id}", "[data-testid=edit-set]"),
        ("/filters", "[data-testid=new-filter]"),
        (f"/filters/{bench.slug}", "[data-testid=version-tree]"),
        (f"/versions/{bench.versions['v1']}", "[data-testid=status-form]"),
        ("/compare", "main"),
        (f"/c/{slug}", "td.cell[data-state=done] img"),
        (f"/c/{slug}/view?sample={bench.samples[0]}", "[data-testid=viewer-figure] img"),
        (f"/filters/{bench.slug}/arena", "[data-testid=arena-left][src]"),
        (f"/filters/{bench.slug}/leaderboard", "td.heat"),
        ("/leaderboards", "main"),
        ("/users", "[data-testid=add-user]"),
        ("/account", "main"),
        ("/no-such-page", "[data-testid=error-message]"),
    ]


def test_main_pages_docs_and_report_keep_the_content_security_policy(
    browser, live_server: LiveServer, tmp_path: Path
) -> None:
    data = prepare(live_server, tmp_path)
    bench, slug = data["bench"], data["slug"]
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    seen = watch(page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto("/login")
    assert violations(page, seen) == []
    sign_in_page(page, live_server.users[Role.ADMIN])
    found: dict[str, list[str]] = {}
    for url, ready in main_pages(bench, slug):
        page.goto(url)
        page.wait_for_selector(ready, state="attached")
        if url == f"/c/{slug}":  # hiding a column builds a style sheet at run time
            page.get_by_test_id("column-tools").get_by_role("checkbox", name="v2").uncheck()
            assert page.locator("thead th[data-col]:visible").count() == 2
        found[url] = violations(page, seen)
        seen.clear()

    # The web test: previews of a dropped photo are blob: URLs.
    page.goto(f"/webtest?filter={bench.slug}")
    page.locator("input[name=versions][data-label=v1]").check()
    drop_files(
        page.get_by_test_id("webtest-dropzone"),
        [("holiday.png", "image/png", imagegen.distinct_png(99, size=(64, 48)))],
    )
    page.wait_for_selector("[data-testid=webtest-photo][data-status=done]", timeout=30_000)
    found["/webtest"] = violations(page, seen)
    seen.clear()

    # The API docs: Swagger UI served from here, every request to this server.
    requests.clear()
    page.goto("/docs")
    page.wait_for_selector("[data-testid=api-docs] .opblock-tag", timeout=30_000)
    assert page.locator(".opblock").count() > 40  # every operation is listed
    found["/docs"] = violations(page, seen)
    seen.clear()
    strangers = [u for u in requests if not u.startswith((live_server.url, "data:", "blob:"))]
    assert strangers == [], strangers
    context.close()

    assert {url: hits for url, hits in found.items() if hits} == {}


def test_downloaded_report_opens_offline_under_its_own_policy(
    browser, live_server: LiveServer, tmp_path: Path
) -> None:
    data = prepare(live_server, tmp_path)
    report = tmp_path / "report.html"
    report.write_bytes(data["report"])
    context = browser.new_context(offline=True)
    page = context.new_page()
    seen = watch(page)
    page.goto(report.as_uri())
    page.wait_for_function("() => [...document.images].every((img) => img.complete)")
    images = page.evaluate("[...document.images].map((img) => [img.alt, img.naturalWidth])")
    drawn = [width for alt, width in images if alt != "pixel"]
    assert len(drawn) == 3 + 6 and all(drawn)  # every image embedded, every one drawn
    assert page.locator("img[alt=pixel]").get_attribute("src") is None  # the tracker's is gone
    assert page.locator("strong", has_text="good").count() == 1  # the comment, sanitised
    assert page.evaluate("getComputedStyle(document.querySelector('table')).borderCollapse") == (
        "collapse"  # its own style applies (allowed by hash)
    )
    assert violations(page, seen) == []
    context.close()
