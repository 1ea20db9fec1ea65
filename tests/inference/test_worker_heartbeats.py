"""Render workers' heartbeats: a dead worker's renders are queued again by a live worker while
the others keep running; a live (slow) worker keeps its own; SIGTERM drains a worker."""

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from ganstudio.db.base import utcnow
from ganstudio.db.tables import PrecisionCheck, Render, Version, WorkerRow
from ganstudio.inference.runner import RenderWorker
from ganstudio.roles import Role
from ganstudio.services import precision as precision_service
from ganstudio.services import workers as workers_service
from ganstudio.vocabulary import RenderState, WorkerState
from tests import checkpoints as ck
from tests import imagegen
from tests.factories import bearer, make_filter, make_sample, make_version, worker_row
from tests.waiting import wait_for

FAST_BEATS = {"worker_heartbeat_seconds": 0.2, "worker_timeout_seconds": 2.0}


def _comparison(
    client: TestClient, app: FastAPI, token: str, tmp_path: Path, *, versions: int, samples: int
) -> list[int]:
    """Queue a comparison of small networks on small images; return its render ids."""
    slug = make_filter(app, input_size=128)
    labels = []
    for n in range(1, versions + 1):
        checkpoint = ck.safetensors_file(tmp_path / f"v{n}.st", seed=n, base_width=8, depth=2)
        make_version(app, filter_slug=slug, label=f"v{n}", checkpoint=checkpoint)
        labels.append(f"v{n}")
    ids = [
        make_sample(app, imagegen.distinct_png(n, size=(128, 128)), f"{n}.png")
        for n in range(samples)
    ]
    response = client.post(
        "/api/v1/comparisons",
        json={"filter": slug, "versions": labels, "samples": ids},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    with app.state.sessions() as session:
        return list(session.scalars(select(Render.id).order_by(Render.id)))


def _worker(app: FastAPI, **overrides: object) -> RenderWorker:
    settings = app.state.settings.model_copy(update={**FAST_BEATS, **overrides})
    return RenderWorker(sessions=app.state.sessions, blobs=app.state.blobs, settings=settings)


def _renders(app: FastAPI) -> list[Render]:
    with app.state.sessions() as session:
        return list(session.scalars(select(Render).order_by(Render.id)))


def _done(app: FastAPI) -> int:
    return sum(r.state == RenderState.DONE for r in _renders(app))


def _subprocess_worker(app: FastAPI) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GANSTUDIO_")}
    env.update(
        GANSTUDIO_DATA_DIR=str(app.state.settings.resolved_data_dir),
        GANSTUDIO_DATABASE_URL=app.state.settings.sqlalchemy_url,  # SQLite's, or PostgreSQL's
        GANSTUDIO_WORKER="off",
        GANSTUDIO_WORKER_HEARTBEAT_SECONDS=str(FAST_BEATS["worker_heartbeat_seconds"]),
        GANSTUDIO_WORKER_TIMEOUT_SECONDS=str(FAST_BEATS["worker_timeout_seconds"]),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "ganstudio", "worker"],
        env=env,
        cwd=app.state.settings.resolved_data_dir,  # no .env from the source tree
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _row_of(app: FastAPI, pid: int) -> WorkerRow | None:
    with app.state.sessions() as session:
        return session.scalars(select(WorkerRow).where(WorkerRow.pid == pid)).first()


def test_a_sigkilled_worker_s_renders_are_finished_once_by_a_live_worker(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    # 3 networks × 8 samples: each network a fresh executor, so the first worker is killed
    # mid-job whatever the speed of one render.
    render_ids = _comparison(client, app, tokens[Role.VIEWER], tmp_path, versions=3, samples=8)
    killed = _subprocess_worker(app)
    try:
        wait_for(lambda: _done(app) >= 2, "two renders done", seconds=180, process=killed)
        row = _row_of(app, killed.pid)
        assert row is not None and row.state == WorkerState.RUNNING
        killed_id = row.id
        live = _worker(app)
        stop = threading.Event()
        serving = threading.Thread(target=live.serve, args=(stop,), daemon=True)
        serving.start()  # a live worker, rendering alongside, before and after the kill
        killed.send_signal(signal.SIGKILL)  # no clean-up: a crash mid-job
        killed.wait()
    finally:
        if killed.poll() is None:
            killed.kill()
            killed.wait()
    at_kill = {r.id: r for r in _renders(app)}
    held = [r.id for r in at_kill.values() if r.worker_id == killed_id and r.state == "running"]
    done_before = {r.id: r.finished_at for r in at_kill.values() if r.state == RenderState.DONE}
    assert held, "the killed worker should have held renders"
    assert len(done_before) < len(render_ids), "the worker should die mid-job"

    wait_for(
        lambda: all(r.state == RenderState.DONE for r in _renders(app)), "the job", seconds=180
    )
    stop.set()
    live.wake.set()
    serving.join(timeout=60)

    after = {r.id: r for r in _renders(app)}
    assert all(after[i].finished_at == at for i, at in done_before.items())  # not redone
    assert all(after[i].worker_id == live.worker_id for i in held)  # the live worker took them
    by_killed = sum(r.worker_id == killed_id for r in after.values())
    by_live = sum(r.worker_id == live.worker_id for r in after.values())
    assert by_killed + by_live == len(render_ids)
    assert live.renders_run == by_live  # every render recorded exactly once
    with app.state.sessions() as session:
        shown = {
            view.id: view.state
            for view in workers_service.list_workers(session, now=utcnow(), timeout_seconds=2.0)
        }
    assert shown == {killed_id: "dead", live.worker_id: "stopped"}


def test_a_live_slow_worker_keeps_its_renders_and_a_silent_one_loses_them(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    render_ids = _comparison(client, app, tokens[Role.VIEWER], tmp_path, versions=2, samples=1)
    slow, legacy = render_ids
    long_ago = utcnow() - timedelta(days=1)  # past every render time limit
    other = "gpu-box/cuda:0/4242-beef"
    with app.state.sessions.begin() as session:
        session.add(
            WorkerRow(id=other, host="gpu-box", device="cuda:0", pid=4242, started_at=long_ago)
        )
        for render_id, worker_id in ((slow, other), (legacy, "gpu-box/cuda:1/77-dead")):
            session.execute(
                update(Render)
                .where(Render.id == render_id)
                .values(state=RenderState.RUNNING, worker_id=worker_id, claimed_at=long_ago)
            )
    live = _worker(app)

    # The other worker's heartbeat is recent: its day-old claim is a slow render, not a dead one.
    # A claim of a worker without heartbeats keeps the old rule (past every time limit: dead).
    assert live.heartbeat() == 1
    assert {r.id: r.state for r in _renders(app)} == {slow: "running", legacy: "queued"}

    # The other worker falls silent for longer than the timeout: its render is queued again.
    with app.state.sessions.begin() as session:
        session.execute(
            update(WorkerRow)
            .where(WorkerRow.id == other)
            .values(last_seen=utcnow() - timedelta(seconds=3))
        )
    assert live.heartbeat() == 1
    assert live.run_until_idle() == 2
    after = _renders(app)
    assert all(r.state == RenderState.DONE and r.worker_id == live.worker_id for r in after)
    # Its row names where it really runs once a network said so, not the setting "auto".
    assert live.settings.device == "auto"
    live.heartbeat()
    with app.state.sessions() as session:
        assert session.get(WorkerRow, live.worker_id).device == "cpu"  # type: ignore[union-attr]

    # Were the silent worker alive after all, its late answer is not recorded over the new one.
    with app.state.sessions() as session:
        finished = {r.id: r.finished_at for r in session.scalars(select(Render))}
    ghost = _worker(app)
    ghost.worker_id = other
    ghost.pipeline.run(claimed=[slow], max_renders=0)
    assert ghost.renders_run == 0
    assert {r.id: r.finished_at for r in _renders(app)} == finished


def test_a_dead_workers_precision_check_is_queued_again_by_a_live_heartbeat(
    app: FastAPI, tmp_path: Path
) -> None:
    """Checks follow the renders' rule: a dead worker's is queued again at the next heartbeat
    (not after the last-resort half hour), a live worker's stays its own."""
    slug = make_filter(app, input_size=64)
    checkpoint = ck.safetensors_file(tmp_path / "v1.st", seed=1, base_width=8, depth=2)
    version_id = make_version(app, filter_slug=slug, label="v1", checkpoint=checkpoint)
    checkpoint = ck.safetensors_file(tmp_path / "v2.st", seed=2, base_width=8, depth=2)
    other_id = make_version(app, filter_slug=slug, label="v2", checkpoint=checkpoint)
    now = utcnow()
    dead, alive = "gpu-box/cuda:0/4242-dead", "gpu-box/cuda:1/4343-live"
    with app.state.sessions.begin() as session:
        for worker_id, seen in ((dead, now - timedelta(seconds=30)), (alive, now)):
            session.add(worker_row(worker_id, started_at=now - timedelta(hours=1), last_seen=seen))
        for held_by, version in ((dead, version_id), (alive, other_id)):
            check = precision_service.queue_check(
                session, version=session.get(Version, version), precision="bf16", actor=None
            )
            check.state, check.worker_id, check.claimed_at = "running", held_by, now
    assert _worker(app).heartbeat() == 1  # the timeout is 2 s: 30 s of silence is dead
    with app.state.sessions() as session:
        held = {
            c.version_id: (c.state, c.worker_id) for c in session.scalars(select(PrecisionCheck))
        }
    assert held == {version_id: ("queued", None), other_id: ("running", alive)}


def test_sigterm_drains_a_worker_mid_job(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    render_ids = _comparison(client, app, tokens[Role.VIEWER], tmp_path, versions=3, samples=8)
    worker = _subprocess_worker(app)
    try:
        wait_for(lambda: _done(app) >= 2, "two renders done", seconds=180, process=worker)
        row = _row_of(app, worker.pid)
        assert row is not None
        worker_id = row.id
        held = {r.id for r in _renders(app) if r.state == RenderState.RUNNING}
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=180)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, output
    assert "Draining" in output and "Traceback" not in output, output
    after = {r.id: r for r in _renders(app)}
    # What it held finished; nothing is left running; the rest waits in the queue, unclaimed.
    assert held and all(after[i].state == RenderState.DONE for i in held)
    assert not [r for r in after.values() if r.state == RenderState.RUNNING]
    queued = [r for r in after.values() if r.state == RenderState.QUEUED]
    assert queued and all(r.worker_id is None for r in queued)
    done = [r for r in after.values() if r.state == RenderState.DONE]
    assert all(r.worker_id == worker_id for r in done)
    assert len(done) + len(queued) == len(render_ids)
    with app.state.sessions() as session:
        stopped = session.get(WorkerRow, worker_id)
        assert stopped is not None and stopped.state == WorkerState.STOPPED
        assert stopped.renders_done == len(done)
        assert session.scalar(select(func.count()).select_from(WorkerRow)) == 1
