"""Admins see the render workers (page and GET /api/v1/workers); nobody else does."""

import html
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ganstudio.db.base import utcnow
from ganstudio.db.tables import Analysis, Comparison, Render, Version
from ganstudio.roles import Role
from ganstudio.services import analyses as analyses_service
from ganstudio.services import precision as precision_service
from ganstudio.vocabulary import RenderState, WorkerState
from tests import checkpoints as ck
from tests import imagegen
from tests.factories import bearer, make_filter, make_sample, make_version, worker_row


def test_only_admins_see_the_workers(client: TestClient, tokens: dict, signed_in) -> None:
    for role in (Role.VIEWER, Role.QA, Role.DEVELOPER):
        answer = client.get("/api/v1/workers", headers=bearer(tokens[role]))
        assert answer.status_code == 403 and answer.json()["detail"]
    assert client.get("/api/v1/workers").status_code == 401
    browser, _ = signed_in(Role.DEVELOPER)
    assert browser.get("/admin/workers").status_code == 403
    assert browser.get("/admin/workers/live").status_code == 403
    assert "/admin/workers" not in browser.get("/").text  # not in the navigation either
    admin, _ = signed_in(Role.ADMIN)
    assert 'href="/admin/workers"' in admin.get("/").text


def test_no_workers_yet_says_how_to_start_one(client: TestClient, tokens: dict, signed_in) -> None:
    answer = client.get("/api/v1/workers", headers=bearer(tokens[Role.ADMIN]))
    assert answer.status_code == 200
    assert answer.json() == {"workers": [], "heartbeat_seconds": 10.0, "timeout_seconds": 60.0}
    browser, _ = signed_in(Role.ADMIN)
    page = browser.get("/admin/workers")
    assert page.status_code == 200
    assert "No render worker has reported yet" in page.text
    assert "ganstudio worker --device cuda:0" in page.text


def _two_versions_three_samples(app: FastAPI, tmp_path: Path) -> tuple[str, list[int]]:
    """A filter with small versions v1 and v2, and three samples: (its slug, the sample ids)."""
    slug = make_filter(app, input_size=64)
    for n in (1, 2):
        checkpoint = ck.safetensors_file(tmp_path / f"v{n}.st", seed=n, base_width=8, depth=2)
        make_version(app, filter_slug=slug, label=f"v{n}", checkpoint=checkpoint)
    return slug, [make_sample(app, imagegen.distinct_png(n), f"{n}.png") for n in range(3)]


def test_workers_show_state_current_render_rate_and_last_seen(
    client: TestClient, app: FastAPI, tokens: dict, signed_in, tmp_path: Path
) -> None:
    slug, samples = _two_versions_three_samples(app, tmp_path)
    created = client.post(
        "/api/v1/comparisons",
        json={"filter": slug, "versions": ["v1", "v2"], "samples": samples, "title": "Night"},
        headers=bearer(tokens[Role.VIEWER]),
    )
    assert created.status_code == 201, created.text
    now = utcnow()
    alive, dead, stopped = "a100/cuda:0/11-aaaa", "a100/cuda:1/12-bbbb", "cpu-box/cpu/13-cccc"
    with app.state.sessions.begin() as session:
        comparison_slug = session.scalars(select(Comparison.slug)).one()
        rows = [
            (alive, now - timedelta(seconds=3), WorkerState.RUNNING, 7),
            (dead, now - timedelta(seconds=300), WorkerState.RUNNING, 2),
            (stopped, now - timedelta(seconds=600), WorkerState.STOPPED, 40),
        ]
        for worker_id, seen, state, done in rows:
            session.add(
                worker_row(
                    worker_id,
                    started_at=now - timedelta(hours=1),
                    last_seen=seen,
                    state=state,
                    renders_done=done,
                )
            )
        render_ids = list(session.scalars(select(Render.id).order_by(Render.id)))
        # The live worker holds one render and finished three in the last minutes (one of them
        # longer ago than the rate's window); the dead one holds one.
        holds = {render_ids[0]: (alive, RenderState.RUNNING, None)}
        holds[render_ids[1]] = (dead, RenderState.RUNNING, None)
        for n, minutes in ((2, 1), (3, 2), (4, 30)):
            holds[render_ids[n]] = (alive, RenderState.DONE, now - timedelta(minutes=minutes))
        for render_id, (worker_id, state, finished) in holds.items():
            session.execute(
                update(Render)
                .where(Render.id == render_id)
                .values(state=state, worker_id=worker_id, claimed_at=now, finished_at=finished)
            )

    answer = client.get("/api/v1/workers", headers=bearer(tokens[Role.ADMIN]))
    assert answer.status_code == 200, answer.text
    workers = answer.json()["workers"]
    assert [w["id"] for w in workers] == [dead, alive, stopped]  # dead first
    by_id = {w["id"]: w for w in workers}
    assert {i: w["state"] for i, w in by_id.items()} == {
        dead: "dead",
        alive: "alive",
        stopped: "stopped",
    }
    live = by_id[alive]
    assert live["host"] == "a100" and live["device"] == "cuda:0" and live["pid"] == 11
    assert live["renders_done"] == 7 and live["renders_per_minute"] == 0.4  # 2 in 5 minutes
    assert 2 <= live["seconds_since_seen"] < 60
    current = live["current_render"]
    assert current["id"] == render_ids[0] and current["kind"] == "comparison"
    assert current["url"] == f"/c/{comparison_slug}" and current["version"] in ("v1", "v2")
    assert live["current_renders"] == [current]
    assert by_id[dead]["current_render"]["id"] == render_ids[1]
    assert by_id[stopped]["current_render"] is None and by_id[stopped]["renders_per_minute"] == 0

    browser, _ = signed_in(Role.ADMIN)
    for path in ("/admin/workers", "/admin/workers/live"):
        page = browser.get(path)
        assert page.status_code == 200
        assert 'data-state="dead"' in page.text and "1 worker alive" in page.text
        assert ">1 dead</span>" in page.text
        assert f'href="/c/{comparison_slug}"' in page.text and "comparison Night" in page.text
        assert 'hx-trigger="every 5000ms"' in page.text  # it refreshes itself
        assert "5 min ago" in page.text  # the dead worker's last heartbeat


def test_a_pipelining_workers_renders_show_one_line_per_job() -> None:
    from ganstudio.services.workers import CurrentRender
    from ganstudio.vocabulary import JobKind
    from ganstudio.web.routes.workers import _by_job

    def held(render_id: int, version: str, kind: JobKind, slug: str | None) -> CurrentRender:
        return CurrentRender(render_id, version, None, kind, slug, slug and "Night", "ann")

    lines = _by_job(
        [
            held(21, "v2", JobKind.COMPARISON, "night"),
            held(22, "v1", JobKind.COMPARISON, "night"),
            held(30, "v1", JobKind.WEBTEST, None),
            held(23, "v2", JobKind.COMPARISON, "night"),
        ]
    )
    assert [(line["what"], line["versions"], line["url"]) for line in lines] == [
        ("3 renders (21, 22, 23)", ["v2", "v1"], "/c/night"),
        ("render 30", ["v1"], None),
    ]


def test_a_worker_busy_with_an_analysis_or_a_precision_check_is_not_idle(
    client: TestClient, app: FastAPI, tokens: dict, signed_in, tmp_path: Path
) -> None:
    """Grad-CAM on a GPU box holds no render, yet the worker is busy: the page and the API
    say with what, and link to it."""
    slug, samples = _two_versions_three_samples(app, tmp_path)
    started = client.post(
        "/api/v1/analyses",
        json={"filter": slug, "samples": samples, "region": "image"},
        headers=bearer(tokens[Role.VIEWER]),
    )
    assert started.status_code == 201, started.text
    now = utcnow()
    busy, idle = "gpu-box/cuda:0/11-aaaa", "gpu-box/cuda:1/12-bbbb"
    with app.state.sessions.begin() as session:
        for worker_id in (busy, idle):
            session.add(worker_row(worker_id, started_at=now - timedelta(minutes=5), last_seen=now))
        for _ in range(2):  # a worker may hold a few items of one analysis: one line
            assert analyses_service.claim_next_item(session, worker_id=busy) is not None
        version = session.scalars(select(Version).where(Version.label == "v2")).one()
        precision_service.queue_check(session, version=version, precision="bf16", actor=None)
        assert precision_service.claim_next_check(session, worker_id=busy) is not None
        analysis = session.scalars(select(Analysis)).one()
        url, title, version_id = f"/analyses/{analysis.slug}", analysis.title, version.id

    workers = client.get("/api/v1/workers", headers=bearer(tokens[Role.ADMIN])).json()["workers"]
    by_id = {w["id"]: w for w in workers}
    assert by_id[busy]["current_renders"] == [] and by_id[idle]["current_tasks"] == []
    assert by_id[busy]["current_tasks"] == [
        {"kind": "analysis", "title": title, "url": url, "items": 2},
        {
            "kind": "precision check",
            "title": "Toon v2 in bf16",
            "url": f"/versions/{version_id}",
            "items": 1,
        },
    ]
    browser, _ = signed_in(Role.ADMIN)
    page = browser.get("/admin/workers").text
    rows = page.split('data-testid="worker"')[1:]
    (busy_row,) = [row for row in rows if busy in row]
    (idle_row,) = [row for row in rows if idle in row]
    assert "idle" not in busy_row and "idle" in idle_row
    assert f'2 analysis items · <a href="{url}">analysis {html.escape(title)}</a>' in busy_row
    assert f'precision check · <a href="/versions/{version_id}">Toon v2 in bf16</a>' in busy_row
