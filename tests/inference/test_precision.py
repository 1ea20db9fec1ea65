"""Precision checks in a real executor: bf16 against fp32 differs a little, fp32 not at all, and
the worker's measurement lets a version's renders run in bf16."""

from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from ganstudio.config import Settings
from ganstudio.db.tables import PrecisionCheck, Render, Sample, Version
from ganstudio.demo import DEMO_CHECKPOINTS_DIR
from ganstudio.inference import precision_runner
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import filters as filters_service
from ganstudio.services import precision as precision_service
from ganstudio.storage.blobs import BlobStoreUnavailableError
from ganstudio.vocabulary import PrecisionCheckState, RenderState
from tests import imagegen
from tests.factories import make_filter, make_sample, make_version
from tests.inference.test_batches import loaded, photo
from tests.inference.test_render_blob_faults import fail_once


def test_bf16_differs_from_fp32_by_a_little_and_fp32_from_itself_not_at_all(
    settings: Settings, tmp_path: Path, sandboxed: None
) -> None:
    network = loaded(settings, tmp_path)  # a small TorchScript conv net: its output follows x
    try:
        batch = [(photo(seed, (48, 40)), None) for seed in range(3)]
        bf16 = precision_runner.difference(network, batch, precision="bf16", timeout=60)
        assert bf16.inputs == 3 and bf16.values == 3 * 48 * 40 * 3
        assert bf16.largest > 0 and bf16.mean > 0
        assert bf16.largest >= bf16.mean
        assert bf16.largest < 64  # a rounding difference, not another image
        same = precision_runner.difference(network, batch, precision="fp32", timeout=60)
        assert (same.largest, same.mean, same.inputs) == (0, 0.0, 3)
    finally:
        network.executor.close()


def compare(app: FastAPI, title: str) -> dict[int, dict]:
    """Make a comparison of every version on every sample; return its renders' settings by id."""
    with app.state.sessions() as session:
        comparisons_service.create_comparison(
            session,
            filter_=filters_service.get_filter(session, slug="toon"),
            versions=list(session.scalars(select(Version).order_by(Version.id))),
            samples=list(session.scalars(select(Sample).order_by(Sample.id))),
            title=title,
            actor=None,
        )
        session.commit()
        return {r.id: r.settings for r in session.scalars(select(Render))}


def test_the_worker_measures_a_version_on_the_demo_set_and_its_renders_then_use_it(
    app: FastAPI,
) -> None:
    precision = "bf16"
    # A trained demo checkpoint: a freshly initialised tiny U-Net's output is almost flat.
    slug = make_filter(app, name="Toon", input_size=64)
    version_id = make_version(
        app, filter_slug=slug, label="v1", checkpoint=DEMO_CHECKPOINTS_DIR / "v1.safetensors"
    )
    for n in range(3):
        make_sample(app, imagegen.distinct_png(n, size=(56, 40)), f"s{n}.png")
    before = compare(app, "first look")  # the demo set: this comparison's samples
    assert len(before) == 3 and all("precision" not in s for s in before.values())

    with app.state.sessions() as session:
        filter_ = filters_service.get_filter(session, slug=slug)
        filters_service.update_filter(session, filter_=filter_, actor=None, precision=precision)
        session.commit()
    worker = app.state.worker
    assert worker.precision_step()
    assert not worker.precision_step()  # one check: v1's

    with app.state.sessions() as session:
        check = session.scalars(select(PrecisionCheck)).one()
        assert check.state == PrecisionCheckState.DONE, check.error
        assert check.version_id == version_id and check.precision == precision
        assert check.samples == 3 and check.inputs == 3
        assert check.max_diff is not None and check.mean_diff is not None
        assert check.max_diff > 0 and check.max_diff >= check.mean_diff > 0
        assert check.set_name == "the 3 samples of the comparison “first look”"
        assert check.device == "cpu" and check.measured_at is not None
        used = precision_service.effective_precision(
            session,
            filter_=filters_service.get_filter(session, slug=slug),
            version=session.get(Version, version_id),
        )
        assert used.used == precision and used.reason == ""

    after = {i: s for i, s in compare(app, "in bf16").items() if i not in before}
    assert len(after) == 3 and all(s["precision"] == precision for s in after.values())
    assert worker.run_until_idle() == 6  # fp32 and bf16 renders: different renders
    with app.state.sessions() as session:
        states = set(session.scalars(select(Render.state)))
    assert states == {RenderState.DONE}


def test_a_check_the_blob_store_failed_is_given_back_not_failed(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unreachable store is not the version's fault: the worker's step fails, the check goes
    back to the queue (not `failed`, not left `running` for half an hour), then is measured."""
    slug = make_filter(app, name="Toon", input_size=64)
    make_version(
        app, filter_slug=slug, label="v1", checkpoint=DEMO_CHECKPOINTS_DIR / "v1.safetensors"
    )
    make_sample(app, imagegen.distinct_png(0, size=(56, 40)), "s0.png")
    compare(app, "first look")
    with app.state.sessions() as session:
        filter_ = filters_service.get_filter(session, slug=slug)
        filters_service.update_filter(session, filter_=filter_, actor=None, precision="bf16")
        session.commit()
    worker = app.state.worker
    calls = fail_once(monkeypatch, worker.blobs, "read_bytes")
    with pytest.raises(BlobStoreUnavailableError):
        worker.precision_step()
    assert calls
    assert worker.release_own_claims() == 1  # as the serving loop does after a failed step
    with app.state.sessions() as session:
        check = session.scalars(select(PrecisionCheck)).one()
        assert (check.state, check.worker_id, check.error) == (PrecisionCheckState.QUEUED, None, "")
    assert worker.precision_step()
    with app.state.sessions() as session:
        check = session.scalars(select(PrecisionCheck)).one()
        assert check.state == PrecisionCheckState.DONE and check.samples == 1, check.error
