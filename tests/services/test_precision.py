"""Reduced precision as a per-filter opt-in: a version renders in bf16/fp16 only once measured."""

import io
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from ganstudio.db.base import utcnow
from ganstudio.db.tables import Filter, PrecisionCheck, Render, Sample, Version
from ganstudio.inference.render_spec import PipelineSettings, render_key
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import filters as filters_service
from ganstudio.services import precision as precision_service
from ganstudio.services import webtests as webtests_service
from ganstudio.services.errors import InvalidInputError
from ganstudio.vocabulary import PrecisionCheckState
from tests import checkpoints as ck
from tests import imagegen
from tests.factories import make_filter, make_sample, make_version


@pytest.fixture
def bench(app: FastAPI, tmp_path: Path) -> dict[str, int]:
    """A filter `toon` with versions v1 and v2 and three samples (no comparison yet)."""
    slug = make_filter(app, name="Toon", input_size=64)
    ids = {}
    for seed, label in enumerate(("v1", "v2")):
        checkpoint = ck.safetensors_file(tmp_path / f"{label}.safetensors", seed)
        ids[label] = make_version(app, filter_slug=slug, label=label, checkpoint=checkpoint)
    for n in range(3):
        make_sample(app, imagegen.distinct_png(n), f"s{n}.png")
    return ids


def toon(session: Session) -> Filter:
    return filters_service.get_filter(session, slug="toon")


def versions_of(session: Session) -> list[Version]:
    return list(session.scalars(select(Version).order_by(Version.id)))


def compare(session: Session, title: str = "first look") -> list[Render]:
    samples = list(session.scalars(select(Sample).order_by(Sample.id)))
    comparisons_service.create_comparison(
        session,
        filter_=toon(session),
        versions=versions_of(session),
        samples=samples,
        title=title,
        actor=None,
    )
    session.flush()
    return list(session.scalars(select(Render).order_by(Render.id)))


def finish(session: Session, check: PrecisionCheck, state: str = "done") -> None:
    values: dict[str, object] = {"state": state}
    if state == "done":
        values.update(max_diff=3, mean_diff=0.25, samples=3, inputs=3, device="cpu")
    else:
        values.update(error="the network failed in bf16")
    precision_service.finish_check(session, check_id=check.id, values=values)
    session.expire_all()


def test_fp32_leaves_render_keys_as_they_were_and_bf16_keys_renders_apart() -> None:
    fp32 = PipelineSettings(pipeline="full", input_size=64)
    assert "precision" not in fp32.as_dict()  # renders keyed before precision existed match
    assert fp32.as_dict() == {"pipeline": "full", "input_size": 64, "revision": 1}
    bf16 = replace(fp32, precision="bf16")
    assert bf16.as_dict()["precision"] == "bf16"
    assert PipelineSettings(**bf16.as_dict()) == bf16  # read back from a render's row
    key = {"checkpoint_sha256": "c" * 64, "input_sha256": "i" * 64, "mask_sha256": None}
    assert render_key(**key, settings=fp32) != render_key(**key, settings=bf16)
    with pytest.raises(ValueError, match="precision"):
        PipelineSettings(pipeline="full", input_size=64, precision="fp8")


def test_without_a_measurement_versions_render_in_fp32_and_say_why(
    app: FastAPI, bench: dict[str, int]
) -> None:
    with app.state.sessions() as session:
        filters_service.update_filter(session, filter_=toon(session), actor=None, precision="bf16")
        used = precision_service.effective_precisions(
            session, filter_=toon(session), versions=versions_of(session)
        )
        assert {e.used for e in used.values()} == {"fp32"}
        assert used[bench["v1"]].reason == (
            "bf16 is being measured for v1: renders in fp32 until then"
        )
        # No check at all (e.g. removed): "not measured yet".
        for check in session.scalars(select(PrecisionCheck)):
            session.delete(check)
        session.flush()
        used = precision_service.effective_precisions(
            session, filter_=toon(session), versions=versions_of(session)
        )
        assert used[bench["v1"]].reason == ("bf16 not measured yet for v1: renders in fp32")
        renders = compare(session)
        assert renders and all("precision" not in r.settings for r in renders)


def test_a_measured_version_renders_in_bf16_and_an_unmeasured_one_in_fp32(
    app: FastAPI, bench: dict[str, int]
) -> None:
    with app.state.sessions() as session:
        fp32_renders = compare(session, "before")
        filters_service.update_filter(session, filter_=toon(session), actor=None, precision="bf16")
        checks = {c.version_id: c for c in session.scalars(select(PrecisionCheck))}
        assert set(checks) == {bench["v1"], bench["v2"]}  # queued for every version
        finish(session, checks[bench["v1"]])
        finish(session, checks[bench["v2"]], "failed")
        used = precision_service.effective_precisions(
            session, filter_=toon(session), versions=versions_of(session)
        )
        assert used[bench["v1"]].used == "bf16"
        assert used[bench["v2"]].used == "fp32"
        assert used[bench["v2"]].reason.startswith("bf16 could not be measured for v2")

        new = [r for r in compare(session, "after") if r not in fp32_renders]
        # Only v1 renders again, in bf16 (its own renders, keyed apart); v2's fp32 ones are reused.
        assert {r.version_id for r in new} == {bench["v1"]}
        assert all(r.settings["precision"] == "bf16" for r in new)
        assert all("precision" not in r.settings for r in fp32_renders)
        # A web test renders the same way.
        photo = io.BytesIO(imagegen.distinct_png(9))
        webtest = webtests_service.start_webtest(
            session,
            blobs=app.state.blobs,
            settings=app.state.settings,
            photo=photo,
            filename="p.png",
            versions=versions_of(session),
            actor=None,
        )
        settings = {item.version.id: item.render.settings for item in webtest.renders}
        assert settings[bench["v1"]]["precision"] == "bf16"
        assert "precision" not in settings[bench["v2"]]

        # Back to fp32: every version renders in fp32 again, whatever was measured.
        filters_service.update_filter(session, filter_=toon(session), actor=None, precision="fp32")
        used = precision_service.effective_precisions(
            session, filter_=toon(session), versions=versions_of(session)
        )
        assert {e.used for e in used.values()} == {"fp32"}


def test_opting_in_queues_each_version_once_and_measure_queues_again(
    app: FastAPI, bench: dict[str, int]
) -> None:
    with app.state.sessions() as session:
        filter_ = toon(session)
        filters_service.update_filter(session, filter_=filter_, actor=None, precision="bf16")
        filters_service.update_filter(session, filter_=filter_, actor=None, precision="bf16")
        assert session.query(PrecisionCheck).count() == 2  # pending ones are not doubled
        v1 = session.get(Version, bench["v1"])
        assert v1 is not None
        first = session.scalars(
            select(PrecisionCheck).where(PrecisionCheck.version_id == v1.id)
        ).one()
        finish(session, first)
        # Opting in again keeps a measurement; Measure queues a fresh one, and the old one
        # counts until it is done.
        filters_service.update_filter(session, filter_=filter_, actor=None, precision="bf16")
        assert session.query(PrecisionCheck).count() == 2
        again = precision_service.measure_again(session, version=v1, precision="bf16", actor=None)
        assert again.id != first.id and again.state == PrecisionCheckState.QUEUED
        assert precision_service.effective_precision(session, filter_=filter_, version=v1).reduced
        with pytest.raises(InvalidInputError, match="measure bf16 or fp16"):
            precision_service.measure_again(session, version=v1, precision="fp32", actor=None)
        with pytest.raises(InvalidInputError, match="not a precision"):
            filters_service.update_filter(session, filter_=filter_, actor=None, precision="fp8")


def test_a_check_is_claimed_once_and_a_dead_workers_check_again(
    app: FastAPI, bench: dict[str, int]
) -> None:
    with app.state.sessions() as session:
        filters_service.update_filter(session, filter_=toon(session), actor=None, precision="bf16")
        session.commit()
        first = precision_service.claim_next_check(session, worker_id="a")
        second = precision_service.claim_next_check(session, worker_id="b")
        assert first is not None and second is not None and first != second
        assert precision_service.claim_next_check(session, worker_id="c") is None
        later = utcnow() + precision_service.STALE_AFTER + timedelta(seconds=1)
        assert precision_service.claim_next_check(session, worker_id="c", now=later) == first


def test_the_demo_set_is_the_first_comparisons_first_samples(
    app: FastAPI, bench: dict[str, int]
) -> None:
    with app.state.sessions() as session:
        assert precision_service.demo_set(session, filter_=toon(session)).missing
        compare(session, "first look")
        compare(session, "later")
        demo = precision_service.demo_set(session, filter_=toon(session))
        assert len(demo.samples) == 3
        assert demo.name == "the 3 samples of the comparison “first look”"


def test_a_filter_without_a_comparison_fails_its_check_saying_what_to_do(
    app: FastAPI, bench: dict[str, int]
) -> None:
    from ganstudio.inference import precision_runner

    with app.state.sessions() as session:
        filters_service.update_filter(session, filter_=toon(session), actor=None, precision="bf16")
        session.commit()
    assert precision_runner.step(app.state.worker)
    with app.state.sessions() as session:
        failed = session.scalars(
            select(PrecisionCheck).where(PrecisionCheck.state == PrecisionCheckState.FAILED)
        ).one()
        assert "Toon has no comparison yet" in failed.error
        assert "make a comparison of Toon" in failed.error
        used = precision_service.effective_precision(
            session, filter_=toon(session), version=session.get(Version, failed.version_id)
        )
        assert used.used == "fp32" and "could not be measured" in used.reason
