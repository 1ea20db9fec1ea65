"""Comparison pages: the new-comparison form, the live grid, the viewer page and the ZIP."""

import html
import io
import json
import re
import zipfile
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ganstudio.roles import Role
from ganstudio.services import comparison_views as views_service
from tests.factories import bearer
from tests.web.compare_helpers import make_bench

SAFE_ZIP_NAME = re.compile(r"^(inputs/)?[\w.+-]+$")


def create(browser: TestClient, csrf: str, bench, versions: list[str], **extra: str) -> str:
    """Post the new-comparison form; return the comparison's slug."""
    response = browser.post(
        "/compare",
        data={"csrf_token": csrf, "filter": bench.slug, "versions": versions, **extra},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/c/"), location
    return location.removeprefix("/c/")


def checked_labels(page: str) -> set[str]:
    return set(re.findall(r'name="versions" value="([^"]+)" checked', page))


def test_form_is_prefilled_from_the_link_and_creates_a_comparison(
    app: FastAPI, signed_in, tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path, labels=("v1", "v2", "v3"))
    browser, csrf = signed_in(Role.VIEWER)
    defaults = browser.get("/compare?filter=toon").text
    assert checked_labels(defaults) == {"v2", "v3"}  # one branch, no production: the newest two
    prefilled = browser.get("/compare?filter=toon&versions=v1,v2").text
    assert checked_labels(prefilled) == {"v1", "v2"}
    assert f'<option value="{bench.set_id}" selected>Faces</option>' in prefilled

    slug = create(browser, csrf, bench, ["v1", "v2"], set=str(bench.set_id), title="Eyes <b>")
    page = browser.get(f"/c/{slug}")
    assert page.status_code == 200
    assert "Eyes &lt;b&gt;" in page.text and "Eyes <b>" not in page.text
    assert re.findall(r'class="col-label" href="/versions/\d+">([^<]+)<', page.text) == [
        "v1",
        "v2",
    ]
    listing = browser.get("/compare").text
    assert f'href="/c/{slug}" data-testid="comparison-link">Eyes &lt;b&gt;</a>' in listing
    assert "v1, v2" in listing


def test_bad_choices_come_back_with_the_reason_and_the_choice_kept(
    app: FastAPI, signed_in, tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path)
    browser, csrf = signed_in(Role.VIEWER)
    response = browser.post(
        "/compare",
        data={"csrf_token": csrf, "filter": bench.slug, "versions": ["v1"], "set": bench.set_id},
    )
    assert response.status_code == 200
    assert "A comparison shows 2 to 8 versions; 1 was given." in html.unescape(response.text)
    assert checked_labels(response.text) == {"v1"}
    nothing = browser.post(
        "/compare",
        data={"csrf_token": csrf, "filter": bench.slug, "versions": ["v1", "v2"], "set": ""},
    )
    assert "Choose the samples" in html.unescape(nothing.text)
    assert "No comparisons yet" in browser.get("/compare").text


def test_grid_shows_states_reasons_headers_and_fills(
    app: FastAPI, signed_in, tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path, failing="bad")
    browser, csrf = signed_in(Role.VIEWER)
    slug = create(browser, csrf, bench, ["v1", "bad"], set=str(bench.set_id))
    waiting = browser.get(f"/c/{slug}").text
    assert waiting.count('data-state="queued"') == 6
    assert 'hx-trigger="every 1500ms"' in waiting and "0 of 6 rendered" in waiting
    render_ids = re.findall(r'data-render="(\d+)"', waiting)

    app.state.worker.run_until_idle()
    live = browser.get(f"/c/{slug}/live", params={"waiting": ",".join(render_ids[:2])}).text
    assert live.count('hx-swap-oob="true"') >= 2 and 'data-finished="true"' in live
    assert len(re.findall(r'<td id="cell-', live)) == 2  # only the cells asked about
    assert "hx-trigger" not in live  # the job is finished: polling stops

    done = browser.get(f"/c/{slug}").text
    assert done.count('data-state="done"') == 3 and done.count('data-state="failed"') == 3
    assert done.count("boom: this network always fails") == 3
    assert re.search(r"median \d+ ms", done)
    assert "hx-trigger" not in done and "3 of 6 rendered" in done and "3 failed" in done
    for thumb in re.findall(r'<img loading="lazy" decoding="async" src="(/blobs/\w+)"', done):
        assert browser.get(thumb).status_code == 200


def test_live_poll_ignores_renders_of_other_comparisons(
    app: FastAPI, signed_in, tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path)
    browser, csrf = signed_in(Role.VIEWER)
    slug = create(browser, csrf, bench, ["v1", "v2"], set=str(bench.set_id))
    app.state.worker.run_until_idle()
    live = browser.get(f"/c/{slug}/live", params={"waiting": "999999,abc,-1"})
    assert live.status_code == 200 and "<td" not in live.text


def test_a_poll_never_stops_over_a_cell_still_queued(
    app: FastAPI, signed_in, tmp_path: Path, monkeypatch
) -> None:
    """The renders finish while a poll is being answered (the worker commits between its
    reads): the answer either keeps polling or brings the finished cells, never "finished"
    with no polling and the cells still queued on the page."""
    bench = make_bench(app, tmp_path)
    browser, csrf = signed_in(Role.VIEWER)
    slug = create(browser, csrf, bench, ["v1", "v2"], set=str(bench.set_id))
    waiting = re.findall(r'data-render="(\d+)"', browser.get(f"/c/{slug}").text)
    read = views_service.cells_of_renders

    def read_then_finish(session, **kwargs):
        cells = read(session, **kwargs)
        app.state.worker.run_until_idle()  # every render finishes right after the cells' read
        return cells

    monkeypatch.setattr(views_service, "cells_of_renders", read_then_finish)
    live = browser.get(f"/c/{slug}/live", params={"waiting": ",".join(waiting)}).text
    assert "<td" not in live  # the cells were read queued…
    assert 'data-finished="false"' in live and "hx-trigger" in live  # …so the poll goes on
    monkeypatch.setattr(views_service, "cells_of_renders", read)
    done = browser.get(f"/c/{slug}/live", params={"waiting": ",".join(waiting)}).text
    assert len(re.findall(r'<td id="cell-', done)) == len(waiting) == 6
    assert 'data-finished="true"' in done and "hx-trigger" not in done


def test_a_comparison_of_renders_made_before_says_they_were_reused(
    app: FastAPI, signed_in, tmp_path: Path
) -> None:
    """A second comparison of the same versions on the same photos is done at once: it says
    why (nothing to watch fill in otherwise looks like nothing happened)."""
    bench = make_bench(app, tmp_path)
    browser, csrf = signed_in(Role.VIEWER)
    first = create(browser, csrf, bench, ["v1", "v2"], set=str(bench.set_id))
    app.state.worker.run_until_idle()
    assert 'data-testid="progress-reused"' not in browser.get(f"/c/{first}").text
    again = create(browser, csrf, bench, ["v1", "v2"], set=str(bench.set_id), title="Again")
    page = browser.get(f"/c/{again}").text
    assert "6 of 6 rendered" in page and "(6 reused:" in page
    api = browser.get(f"/api/v1/comparisons/{again}").json()
    assert (api["job"]["done"], api["job"]["reused"]) == (6, 6)
    assert browser.get(f"/api/v1/comparisons/{first}").json()["job"]["reused"] == 0


def test_grid_is_paginated(app: FastAPI, signed_in, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(views_service, "ROWS_PER_PAGE", 2)
    bench = make_bench(app, tmp_path)
    browser, csrf = signed_in(Role.VIEWER)
    slug = create(browser, csrf, bench, ["v1", "v2"], set=str(bench.set_id))
    first = browser.get(f"/c/{slug}").text
    assert first.count('data-testid="row"') == 2 and "Page 1 of 2" in first
    second = browser.get(f"/c/{slug}?page=2").text
    assert second.count('data-testid="row"') == 1 and "c.png" in second
    beyond = browser.get(f"/c/{slug}?page=9", follow_redirects=False)
    assert beyond.status_code == 303 and beyond.headers["location"].endswith("?page=2")


def test_zip_holds_done_renders_and_inputs_with_safe_names(
    app: FastAPI, signed_in, tokens: dict, tmp_path: Path
) -> None:
    hostile = (
        'Tom & Jerry\'s "best" <shot>.png',
        "a.png",
        "a.jpg",
        "日本 写真.png",
        "../../etc.png",
    )
    bench = make_bench(app, tmp_path, filenames=hostile, failing="bad")
    browser, csrf = signed_in(Role.VIEWER)
    slug = create(browser, csrf, bench, ["v1", "v2", "bad"], set=str(bench.set_id))
    app.state.worker.run_until_idle()

    page = browser.get(f"/c/{slug}").text
    assert "Tom &amp; Jerry&#39;s _best_ _shot_.png" in page  # escaped, never raw
    assert "<shot>" not in page

    response = browser.get(f"/c/{slug}/download.zip")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert f'filename="comparison-{slug}.zip"' in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    names = archive.namelist()
    assert len(names) == len(set(names)) == 5 + 5 * 2  # inputs, then v1 and v2 (bad failed)
    assert all(SAFE_ZIP_NAME.match(n) and ".." not in n for n in names), names
    assert "a__v1.png" in names and any(
        n.startswith("a-") and n.endswith("__v2.png") for n in names
    )
    assert "inputs/a.png" in names and any(n.startswith("inputs/a-") for n in names)
    assert "Tom_Jerry_s_best_shot__v1.png" in names
    assert "日本_写真__v2.png" in names and "etc__v1.png" in names
    assert not any("bad" in n for n in names)
    png = archive.read("a__v1.png")
    assert png.startswith(b"\x89PNG")
    api = browser.get(f"/api/v1/comparisons/{slug}/download", headers=bearer(tokens[Role.VIEWER]))
    assert zipfile.ZipFile(io.BytesIO(api.content)).namelist() == names


def test_unknown_comparison_is_a_404_page(signed_in) -> None:
    browser, _ = signed_in(Role.VIEWER)
    for path in ("/c/nosuchone", "/c/nosuchone/view?sample=1", "/c/nosuchone/download.zip"):
        response = browser.get(path)
        assert response.status_code == 404, path
        assert "No comparison 'nosuchone'" in html.unescape(response.text)


def test_viewer_page_shows_the_row_and_its_neighbours(
    app: FastAPI, signed_in, tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path)
    browser, csrf = signed_in(Role.VIEWER)
    slug = create(browser, csrf, bench, ["v2", "v1"], set=str(bench.set_id))
    middle = bench.samples[1]
    before = browser.get(f"/c/{slug}/view?sample={middle}").text
    payload = json.loads(
        html.unescape(re.search(r'id="viewer-data">(.*?)</script>', before, re.S).group(1))
    )
    assert [c["label"] for c in payload["columns"]] == ["Input", "v2", "v1"]
    assert [c["state"] for c in payload["columns"]] == ["done", "queued", "queued"]
    assert payload["previous"].endswith(f"sample={bench.samples[0]}")
    assert payload["next"].endswith(f"sample={bench.samples[2]}")
    assert not payload["finished"] and "row 2 of 3" in before

    app.state.worker.run_until_idle()
    row = browser.get(f"/c/{slug}/row?sample={middle}").json()
    assert row["finished"] and all(c["url"].startswith("/blobs/") for c in row["columns"])
    assert browser.get(row["columns"][1]["url"]).headers["content-type"] == "image/png"
    stranger = browser.get(f"/c/{slug}/view?sample=999999")
    assert stranger.status_code == 404


def test_version_and_filter_pages_link_to_a_prefilled_comparison(
    app: FastAPI, signed_in, tmp_path: Path
) -> None:
    from ganstudio.db.tables import Version

    bench = make_bench(app, tmp_path)
    with app.state.sessions() as session:
        child = session.get(Version, bench.versions["v2"])
        child.parent_id, child.branch = bench.versions["v1"], "eyes"
        session.commit()
    browser, _ = signed_in(Role.VIEWER)
    version_page = browser.get(f"/versions/{bench.versions['v2']}").text
    link = html.unescape(re.search(r'href="([^"]+)" data-testid="compare-parent"', version_page)[1])
    assert checked_labels(browser.get(link).text) == {"v1", "v2"}
    filter_page = browser.get("/filters/toon").text
    heads = html.unescape(re.search(r'href="([^"]+)" data-testid="compare-heads"', filter_page)[1])
    assert checked_labels(browser.get(heads).text) == {"v1", "v2"}
