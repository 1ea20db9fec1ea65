"""The pipelined worker: batches equal single renders, crashes lose nothing, web tests first,
and a worker of one device leaves the other devices' renders alone."""

import os
import signal
import threading
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ganstudio.db.tables import Render
from ganstudio.inference import render_pipeline
from ganstudio.inference.networks import BatchResult, render_batch
from ganstudio.inference.runner import RenderWorker
from ganstudio.roles import Role
from ganstudio.vocabulary import RenderState
from tests import checkpoints as ck
from tests import imagegen
from tests.conftest import make_settings
from tests.factories import bearer, make_filter, make_sample, make_version
from tests.inference.test_batches import SmallConvNet
from tests.inference.test_renders import compare
from tests.web.test_webtest_api import post_webtest

SAMPLES = 6
RENDERS = 2 * SAMPLES  # two versions


def worker_with(app: FastAPI, **settings: object) -> RenderWorker:
    """Another worker on the app's database and blobs, with some settings changed."""
    changed = make_settings(app.state.settings.data_dir, **settings)
    return RenderWorker(sessions=app.state.sessions, blobs=app.state.blobs, settings=changed)


@pytest.fixture
def comparison(client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path) -> dict:
    """A comparison of SAMPLES photos by two versions whose outputs follow their inputs."""
    slug = conv_filter(app, tmp_path)
    samples = [
        make_sample(app, imagegen.distinct_png(n, size=(48, 48)), f"{n}.png")
        for n in range(SAMPLES)
    ]
    return compare(client, tokens[Role.VIEWER], slug, ["a", "b"], samples) | {"filter": slug}


def conv_filter(app: FastAPI, tmp_path: Path) -> str:
    slug = make_filter(app, input_size=48)
    for seed, label in enumerate(("a", "b")):
        path = ck.torchscript_file(tmp_path / f"{label}.pt", SmallConvNet(3, seed=seed))
        make_version(app, filter_slug=slug, label=label, checkpoint=path)
    return slug


def outputs(app: FastAPI) -> dict[int, tuple[str, str | None, int]]:
    with app.state.sessions() as session:
        rows = session.execute(
            select(Render.id, Render.state, Render.output_sha256, Render.attempts)
        )
        return {rid: (state.value, sha, attempts) for rid, state, sha, attempts in rows}


class Batches:
    """Wraps render_batch: records each batch's size; the first call waits until the other of
    `waiting` inputs are ready, so the batches that follow are full."""

    def __init__(self, pipeline: render_pipeline.RenderPipeline, waiting: int) -> None:
        self.pipeline = pipeline
        self.waiting = waiting
        self.sizes: list[int] = []
        self.first = True

    def __call__(self, loaded, inputs, **kwargs) -> BatchResult:
        if self.first:
            self.first = False
            ready = threading.Event()
            for _ in range(400):
                with self.pipeline._pending_ready:
                    if len(self.pipeline._pending) >= self.waiting - len(inputs):
                        ready.set()
                        break
                ready.wait(0.05)
        self.sizes.append(len(inputs))
        return self.call(loaded, inputs, **kwargs)

    def call(self, loaded, inputs, **kwargs) -> BatchResult:
        return render_batch(loaded, inputs, **kwargs)


def test_batched_renders_equal_unbatched_ones(
    comparison: dict, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    single = worker_with(app, render_batch_size=1)
    assert single.run_until_idle() == RENDERS
    alone = outputs(app)
    assert {state for state, _, _ in alone.values()} == {"done"}
    assert len({sha for _, sha, _ in alone.values()}) == RENDERS  # the images differ

    with app.state.sessions.begin() as session:  # render them all again, batched
        session.execute(
            update(Render).values(state=RenderState.QUEUED, output_sha256=None, attempts=0)
        )
    batched = worker_with(app, render_batch_size=4)
    spy = Batches(batched.pipeline, waiting=RENDERS)
    monkeypatch.setattr(render_pipeline, "render_batch", spy)
    assert batched.run_until_idle() == RENDERS
    # Really batched, one network at a time: whatever was ready first (one input, or two when
    # both prepare threads finished before the device thread woke), then full batches.
    assert sum(spy.sizes) == RENDERS and max(spy.sizes) == 4 and len(spy.sizes) <= 5
    together = outputs(app)
    assert {rid: sha for rid, (_, sha, _) in together.items()} == {
        rid: sha for rid, (_, sha, _) in alone.items()
    }
    assert batched.timings.snapshot()["device_busy"][1] == RENDERS


class CrashOn(Batches):
    """Kills the executor (SIGKILL, as a crash would) whenever a batch holds the poison input;
    with `once`, only the first batch of more than one input is hit."""

    def __init__(self, pipeline, waiting: int, poison_size: tuple[int, int] | None) -> None:
        super().__init__(pipeline, waiting)
        self.poison_size = poison_size
        self.rendered: list[int] = []  # how many inputs each successful call returned
        self.crashed_at: int | None = None  # which call crashed (without a poison size)

    def call(self, loaded, inputs, **kwargs) -> BatchResult:
        if self.poison_size:
            hit = any(image.size == self.poison_size for image, _ in inputs)
        else:  # the first batch of several inputs after the first call
            hit = self.crashed_at is None and len(self.sizes) > 1 and len(inputs) > 1
            if hit:
                self.crashed_at = len(self.sizes) - 1
        if hit:
            os.kill(loaded.executor.pid, signal.SIGKILL)
        result = render_batch(loaded, inputs, **kwargs)
        self.rendered.append(len(inputs))
        return result


def test_a_crash_mid_batch_loses_nothing_and_renders_nothing_twice(
    comparison: dict, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = worker_with(app, render_batch_size=4)
    spy = CrashOn(worker.pipeline, waiting=RENDERS, poison_size=None)
    monkeypatch.setattr(render_pipeline, "render_batch", spy)
    assert worker.run_until_idle() == RENDERS
    # The crash hit a batch of several; its inputs were then rendered one by one.
    assert spy.crashed_at is not None
    crashed = spy.sizes[spy.crashed_at]
    assert (
        crashed > 1
        and spy.sizes[spy.crashed_at + 1 : spy.crashed_at + 1 + crashed] == [1] * crashed
    )
    after = outputs(app)
    assert {state for state, _, _ in after.values()} == {"done"}  # nothing lost
    assert {attempts for _, _, attempts in after.values()} == {1}  # claimed once each
    assert sum(spy.rendered) == RENDERS  # each input's output made once: nothing twice
    assert worker.pool.loads == 3  # two networks, and the crashed executor replaced once


def test_one_input_that_crashes_its_batch_fails_only_its_own_render(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug = conv_filter(app, tmp_path)
    # The poison photo is the only wide one: a batch of its own size, so batches of the others
    # stay full; the crash is keyed on it.
    samples = [
        make_sample(app, imagegen.distinct_png(n, size=(48, 48)), f"{n}.png") for n in range(4)
    ]
    poison = make_sample(app, imagegen.distinct_png(9, size=(48, 24)), "poison.png")
    compare(client, tokens[Role.VIEWER], slug, ["a", "b"], [*samples, poison])
    worker = worker_with(app, render_batch_size=4)
    spy = CrashOn(worker.pipeline, waiting=10, poison_size=(48, 24))
    monkeypatch.setattr(render_pipeline, "render_batch", spy)
    assert worker.run_until_idle() == 10
    with app.state.sessions() as session:
        rows = session.execute(select(Render.input_sha256, Render.state, Render.error)).all()
    failed = [error for _, state, error in rows if state == RenderState.FAILED]
    assert len(failed) == 2 and all("stopped unexpectedly" in error for error in failed)
    assert sum(state == RenderState.DONE for _, state, _ in rows) == 8  # each version's 4


def test_web_tests_still_come_first(
    comparison: dict,
    client: TestClient,
    app: FastAPI,
    tokens: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorded: list[int] = []
    real_record = render_pipeline.RenderPipeline._record

    def record(self, outcomes):
        recorded.extend(o.render_id for o in outcomes if o.final)
        return real_record(self, outcomes)

    monkeypatch.setattr(render_pipeline.RenderPipeline, "_record", record)
    worker = worker_with(app, render_batch_size=2)
    sent = {}

    def post_once(loaded, inputs, **kwargs):  # a person sends a photo while the job renders
        if not sent:
            sent.update(post_webtest(client, tokens[Role.VIEWER], imagegen.distinct_png(77), "a",
                                     filter=comparison["filter"]).json())  # fmt: skip
            worker.wake.set()
        return render_batch(loaded, inputs, **kwargs)

    monkeypatch.setattr(render_pipeline, "render_batch", post_once)
    assert worker.run_until_idle() == RENDERS + 1
    webtest = client.get(sent["url"], headers=bearer(tokens[Role.VIEWER])).json()
    (render,) = webtest["renders"]
    assert render["state"] == "done" and render["render_url"]
    with app.state.sessions() as session:
        webtest_render = session.scalar(
            select(Render.id).where(Render.claimed_for_kind == "webtest")
        )
    position = recorded.index(webtest_render)
    # Sent during the first batch: only renders already claimed (in flight) may finish first.
    assert position <= worker.pipeline.depth
    assert position < RENDERS  # before the comparison's last render, whatever the depth


def test_a_per_device_worker_claims_only_its_own_work(comparison: dict, app: FastAPI) -> None:
    gpu0 = worker_with(app, device="cuda:0")
    gpu1 = worker_with(app, device="cuda:1")
    assert gpu0.worker_name != gpu1.worker_name
    taken = gpu1.claim_next()  # the second GPU's worker is busy with this one
    assert taken is not None
    assert gpu0.recover() == 0  # a live worker on another device: left alone

    cpu = worker_with(app, device="cpu")
    assert cpu.run_until_idle() == RENDERS - 1  # the others, not gpu1's render
    assert outputs(app)[taken][0] == "running"

    restarted = worker_with(app, device="cuda:1")  # the same device's worker, a new life
    assert restarted.recover() == 1  # its dead predecessor's render is queued again
    assert outputs(app)[taken][0] == "queued"
    assert cpu.run_until_idle() == 1
    assert outputs(app)[taken][0] == "done"


def test_a_claim_past_any_time_limit_is_recovered_by_any_worker(
    comparison: dict, app: FastAPI
) -> None:
    gone = worker_with(app, device="cuda:3")  # a worker on another machine that died
    taken = gone.claim_next()
    other = worker_with(app, device="cpu")
    assert other.recover() == 0  # within the time limit it may still be running
    assert other.recover(stale_after_seconds=0) == 1
    assert outputs(app)[taken][0] == "queued"


def test_the_device_takes_a_web_tests_input_before_waiting_comparison_inputs(
    app: FastAPI,
) -> None:
    from types import SimpleNamespace

    from PIL import Image

    from ganstudio.inference.inputs import NetworkInput

    pipeline = worker_with(app, render_batch_size=4).pipeline
    image = Image.new("RGB", (8, 8))

    def unit(seq: int, *, interactive: bool) -> render_pipeline.Unit:
        inputs = SimpleNamespace(
            network=SimpleNamespace(checkpoint_sha256="n"),
            settings=SimpleNamespace(precision="fp32"),
        )
        flight = render_pipeline.InFlight(seq, inputs, interactive, seq)  # type: ignore[arg-type]
        flight.prepared = SimpleNamespace(inputs=[NetworkInput(image, None)])  # type: ignore[assignment]
        return render_pipeline.Unit(flight, 0)

    pipeline._pending = [unit(n, interactive=False) for n in range(1, 7)]
    pipeline._pending.append(unit(7, interactive=True))  # claimed last, sent by a person
    first = pipeline._next_batch()
    assert first is not None
    assert [u.flight.render_id for u in first] == [7, 1, 2, 3]  # it leads; the batch fills up
    second = pipeline._next_batch()
    assert second is not None and [u.flight.render_id for u in second] == [4, 5, 6]


def test_a_render_whose_rows_cannot_be_read_fails_alone(
    comparison: dict, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = worker_with(app, render_batch_size=2)
    real = worker.render_inputs
    broken: list[int] = []

    def render_inputs(render_id: int):
        if not broken:  # the first claimed: e.g. its version row vanished under it
            broken.append(render_id)
            raise LookupError("no version row")
        return real(render_id)

    monkeypatch.setattr(worker, "render_inputs", render_inputs)
    assert worker.run_until_idle() == RENDERS
    after = outputs(app)
    assert after[broken[0]][0] == "failed"
    assert [state for rid, (state, _, _) in after.items() if rid != broken[0]] == ["done"] * (
        RENDERS - 1
    )
    with app.state.sessions() as session:
        error = session.get(Render, broken[0]).error
    assert "no version row" in error
