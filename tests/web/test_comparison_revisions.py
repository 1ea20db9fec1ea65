"""A comparison's grid page and API: one consistent read, and ETag / 304 for an unchanged grid
that never answers 304 once anything it shows has changed."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ganstudio.db.base import utcnow
from ganstudio.db.tables import ApiToken, Comparison, Render, User
from ganstudio.roles import Role
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import reference_metrics
from ganstudio.vocabulary import RenderState
from tests.factories import bearer
from tests.web.compare_helpers import Bench, make_bench
from tests.web.test_reference_metrics_api import attach, reference_png


def compare(client: TestClient, token: str, bench: Bench, versions: list[str]) -> dict:
    answer = client.post(
        "/api/v1/comparisons",
        json={"filter": bench.slug, "versions": versions, "samples": bench.samples},
        headers=bearer(token),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def finish_renders_elsewhere(app: FastAPI, comparison_id: int) -> None:
    """What a worker does meanwhile: every render of the comparison done, committed."""
    with app.state.sessions.begin() as worker:
        job_id = worker.scalar(select(Comparison.job_id).where(Comparison.id == comparison_id))
        from ganstudio.db.tables import JobItem

        ids = select(JobItem.render_id).where(JobItem.job_id == job_id)
        worker.execute(
            update(Render)
            .where(Render.id.in_(ids))
            .values(state=RenderState.DONE, output_sha256="0" * 64, thumb_sha256="0" * 64)
        )


def test_a_comparisons_status_comes_from_the_same_snapshot_as_its_grid(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, monkeypatch
) -> None:
    """Renders finishing between the API's reads (its grid, then its job's status) must not
    make it say "done" beside cells still queued with no render_url."""
    bench = make_bench(app, tmp_path, labels=("v1", "v2"))
    token = tokens[Role.VIEWER]
    made = compare(client, token, bench, ["v1", "v2"])
    read_grid = comparisons_service.read_grid

    def read_grid_then_a_worker_commits(*args, **kwargs):
        grid = read_grid(*args, **kwargs)
        finish_renders_elsewhere(app, made["id"])
        return grid

    monkeypatch.setattr(comparisons_service, "read_grid", read_grid_then_a_worker_commits)
    shown = client.get(f"/api/v1/comparisons/{made['id']}", headers=bearer(token)).json()
    assert {cell["state"] for cell in shown["cells"]} == {"queued"}
    assert all(cell["render_url"] is None for cell in shown["cells"])
    assert shown["job"]["status"] == "queued" and shown["job"]["done"] == 0  # as its cells
    monkeypatch.undo()
    # The next read sees the worker's commit: cells and status together.
    after = client.get(f"/api/v1/comparisons/{made['id']}", headers=bearer(token)).json()
    assert {cell["state"] for cell in after["cells"]} == {"done"}
    assert after["job"]["status"] == "done"


def test_the_grid_pages_progress_comes_from_the_same_snapshot_as_its_cells(
    app: FastAPI, signed_in, tmp_path: Path, monkeypatch
) -> None:
    bench = make_bench(app, tmp_path, labels=("v1", "v2"))
    browser, csrf = signed_in(Role.VIEWER)
    made = browser.post(
        "/api/v1/comparisons",
        json={"filter": bench.slug, "versions": ["v1", "v2"], "samples": bench.samples},
        headers={"X-CSRF-Token": csrf},
    ).json()
    read_grid = comparisons_service.read_grid

    def read_grid_then_a_worker_commits(*args, **kwargs):
        grid = read_grid(*args, **kwargs)
        finish_renders_elsewhere(app, made["id"])
        return grid

    monkeypatch.setattr(comparisons_service, "read_grid", read_grid_then_a_worker_commits)
    page = browser.get(f"/c/{made['slug']}").text
    assert page.count('data-state="queued"') == 6 and 'data-state="done"' not in page
    assert 'data-status="queued"' in page and "0 of 6 rendered" in page


def etag_and_304(browser: TestClient, url: str, headers: dict | None = None) -> str:
    """GET `url`: a 200 with an ETag to revalidate; that ETag back gives a 304, no body."""
    first = browser.get(url, headers=headers or {})
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = browser.get(url, headers={**(headers or {}), "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    return etag


def changed(browser: TestClient, url: str, etag: str, headers: dict | None = None) -> str:
    """The old ETag gets the whole new answer (never a stale 304); return the new ETag."""
    answer = browser.get(url, headers={**(headers or {}), "If-None-Match": etag})
    assert answer.status_code == 200, "a 304 for a grid that changed"
    assert answer.headers["etag"] != etag
    return answer.headers["etag"]


def test_an_unchanged_grid_and_its_api_answer_304_to_their_etag(
    client: TestClient, app: FastAPI, signed_in, tokens: dict, tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path)
    auth = bearer(tokens[Role.VIEWER])
    made = compare(client, tokens[Role.VIEWER], bench, ["v1", "v2"])
    browser, _ = signed_in(Role.VIEWER)
    page_etag = etag_and_304(browser, f"/c/{made['slug']}")
    api_etag = etag_and_304(client, f"/api/v1/comparisons/{made['id']}", auth)
    assert page_etag != api_etag
    # A weak form of it, or a list that names it, is the same validator.
    listed = browser.get(f"/c/{made['slug']}", headers={"If-None-Match": f'"other", W/{page_etag}'})
    assert listed.status_code == 304
    # Another page of the grid, or another order, is another answer.
    sorted_page = browser.get(
        f"/c/{made['slug']}",
        params={"sort": f"ssim:{bench.versions['v1']}"},
        headers={"If-None-Match": page_etag},
    )
    assert sorted_page.status_code == 200 and sorted_page.headers["etag"] != page_etag
    # Another reader (their picks and name are on the page) gets their own.
    other, _ = signed_in(Role.QA)
    theirs = other.get(f"/c/{made['slug']}", headers={"If-None-Match": page_etag})
    assert theirs.status_code == 200 and theirs.headers["etag"] != page_etag


def test_a_change_to_a_render_metric_pick_comment_or_the_job_status_changes_the_etag(
    client: TestClient, app: FastAPI, signed_in, tokens: dict, tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path)
    auth = bearer(tokens[Role.QA])
    attach(client, tokens[Role.QA], bench.samples[0], reference_png(1))
    made = compare(client, tokens[Role.QA], bench, ["v1", "v2"])
    browser, csrf = signed_in(Role.VIEWER)
    page, api = f"/c/{made['slug']}", f"/api/v1/comparisons/{made['id']}"
    page_etag, api_etag = etag_and_304(browser, page), etag_and_304(client, api, auth)

    # One render starts (queued → running), then all land.
    with app.state.sessions.begin() as worker:
        first = worker.scalar(select(Render.id).order_by(Render.id).limit(1))
        worker.execute(
            update(Render)
            .where(Render.id == first)
            .values(state=RenderState.RUNNING, attempts=Render.attempts + 1)
        )
    page_etag, api_etag = changed(browser, page, page_etag), changed(client, api, api_etag, auth)
    assert "rendering…" in browser.get(page).text
    # Its worker died: the sweep puts it back in the queue.
    with app.state.sessions.begin() as sweep:
        sweep.execute(update(Render).where(Render.id == first).values(state=RenderState.QUEUED))
    page_etag, api_etag = changed(browser, page, page_etag), changed(client, api, api_etag, auth)
    app.state.worker.run_until_idle()
    page_etag, api_etag = changed(browser, page, page_etag), changed(client, api, api_etag, auth)
    assert client.get(api, headers=auth).json()["job"]["status"] == "done"

    # The worker measures PSNR/SSIM against the reference afterwards.
    assert reference_metrics.metrics_step(app.state.sessions, app.state.blobs, app.state.settings)
    page_etag, api_etag = changed(browser, page, page_etag), changed(client, api, api_etag, auth)
    etag_and_304(browser, page)

    # A vote (a pick) and a comment show on the page.
    picked = browser.post(
        f"{page}/picks",
        params={"sample_id": bench.samples[1], "version_id": bench.versions["v2"]},
        headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
    )
    assert picked.status_code == 200, picked.text
    page_etag = changed(browser, page, page_etag)
    client.post(f"{api}/comments", headers=auth, json={"body": "look at row 2"})
    page_etag = changed(browser, page, page_etag)
    assert "look at row 2" in browser.get(page).text


def test_a_cancelled_job_changes_the_etag(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path)
    auth = bearer(tokens[Role.VIEWER])
    made = compare(client, tokens[Role.VIEWER], bench, ["v1", "v2"])
    api = f"/api/v1/comparisons/{made['id']}"
    etag = etag_and_304(client, api, auth)
    cancelled = client.post(f"/api/v1/jobs/{made['job']['id']}/cancel", headers=auth)
    assert cancelled.status_code == 200, cancelled.text
    changed(client, api, etag, auth)
    assert client.get(api, headers=auth).json()["job"]["status"] == "cancelled"


def test_nobody_gets_a_304_who_may_not_see_the_comparison(
    client: TestClient, app: FastAPI, signed_in, tokens: dict, tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path)
    made = compare(client, tokens[Role.VIEWER], bench, ["v1", "v2"])
    page, api = f"/c/{made['slug']}", f"/api/v1/comparisons/{made['id']}"
    api_etag = etag_and_304(client, api, bearer(tokens[Role.VIEWER]))
    browser, _ = signed_in(Role.VIEWER)
    page_etag = etag_and_304(browser, page)
    # Anonymous: signed out, the ETag is no key.
    anonymous = client.get(api, headers={"If-None-Match": api_etag})
    assert anonymous.status_code == 401
    signed_out = TestClient(app).get(
        page, headers={"If-None-Match": page_etag}, follow_redirects=False
    )
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login")
    # A revoked token, and a deactivated account.
    with app.state.sessions.begin() as session:
        session.execute(update(ApiToken).values(revoked_at=utcnow()))
    revoked = client.get(api, headers={**bearer(tokens[Role.VIEWER]), "If-None-Match": api_etag})
    assert revoked.status_code == 401
    with app.state.sessions.begin() as session:
        session.execute(update(User).where(User.name == "viewer-user").values(active=False))
    gone = browser.get(page, headers={"If-None-Match": page_etag}, follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    # No such comparison (its ETag is not for this one).
    browser2, _ = signed_in(Role.QA)
    missing = browser2.get("/c/nosuchslug", headers={"If-None-Match": page_etag})
    assert missing.status_code == 404


def test_a_page_with_a_message_is_shown_whole_and_not_kept(
    app: FastAPI, signed_in, tokens: dict, client: TestClient, tmp_path: Path
) -> None:
    """A flash ("Comment added.") shows once: that page is never a 304, and has no ETag."""
    bench = make_bench(app, tmp_path)
    made = compare(client, tokens[Role.VIEWER], bench, ["v1", "v2"])
    browser, csrf = signed_in(Role.VIEWER)
    page = f"/c/{made['slug']}"
    etag = etag_and_304(browser, page)
    added = browser.post(
        f"{page}/comments", data={"csrf_token": csrf, "body": "hello"}, follow_redirects=False
    )
    assert added.status_code == 303
    with_message = browser.get(page, headers={"If-None-Match": etag})
    assert with_message.status_code == 200 and "Comment added." in with_message.text
    assert "etag" not in with_message.headers and "hello" in with_message.text
    # Shown once; the next load is a page to keep again (with a new ETag: a comment came).
    assert changed(browser, page, etag) != etag
    assert "Comment added." not in browser.get(page).text
