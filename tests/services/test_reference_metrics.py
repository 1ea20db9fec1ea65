"""PSNR and SSIM against references: scikit-image's numbers, the size rule, and the worker step."""

import io

import numpy as np
import pytest
from fastapi import FastAPI
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from sqlalchemy import select

from ganstudio.db.tables import ReferenceMetric, Render
from ganstudio.services import reference_metrics
from ganstudio.services import references as references_service
from ganstudio.services.errors import InvalidInputError
from ganstudio.storage.blobs import BlobStoreUnavailableError
from ganstudio.vocabulary import RenderState
from tests.factories import make_sample
from tests.inference.test_render_blob_faults import fail_once


def noisy(size: tuple[int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    noise = rng.normal(0, 25, base.shape)
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_same_size_metrics_equal_scikit_images() -> None:
    render, reference = noisy((64, 48), 1), noisy((64, 48), 2)
    psnr, ssim = reference_metrics.measure(render, reference)
    ours, target = np.asarray(render), np.asarray(reference)
    assert psnr == pytest.approx(peak_signal_noise_ratio(target, ours, data_range=255), abs=1e-9)
    assert ssim == pytest.approx(
        structural_similarity(target, ours, data_range=255, channel_axis=-1), abs=1e-9
    )
    assert 5 < psnr < 40 and 0 < ssim < 1


def test_a_reference_of_another_size_is_resized_to_the_render_with_lanczos() -> None:
    render, reference = noisy((64, 48), 3), noisy((128, 96), 4)  # same aspect, twice the size
    psnr, ssim = reference_metrics.measure(render, reference)
    resized = np.asarray(reference.resize((64, 48), Image.Resampling.LANCZOS))
    ours = np.asarray(render)
    assert psnr == pytest.approx(peak_signal_noise_ratio(resized, ours, data_range=255), abs=1e-9)
    assert ssim == pytest.approx(
        structural_similarity(resized, ours, data_range=255, channel_axis=-1), abs=1e-9
    )
    # Another resampling gives other numbers: the rule is really Lanczos.
    bilinear = np.asarray(reference.resize((64, 48), Image.Resampling.BILINEAR))
    assert ssim != pytest.approx(
        structural_similarity(bilinear, ours, data_range=255, channel_axis=-1), abs=1e-6
    )


def test_identical_images_get_the_capped_psnr_and_ssim_one() -> None:
    image = noisy((32, 32), 5)
    assert reference_metrics.measure(image, image.copy()) == (reference_metrics.PSNR_CAP, 1.0)


def test_a_reference_of_another_shape_is_refused_saying_both_sizes(app: FastAPI) -> None:
    sample_id = make_sample(app, png(noisy((64, 48), 6)), "wide.png")
    with app.state.sessions() as session:
        with pytest.raises(InvalidInputError) as refused:
            references_service.attach_reference(
                session,
                app.state.blobs,
                app.state.settings,
                sample_id=sample_id,
                stream=io.BytesIO(png(noisy((48, 48), 7))),
                actor=None,
            )
        message = refused.value.message
        assert "48×48" in message and "64×48" in message and "more than 2%" in message
        assert "Crop or pad the reference" in message
        # Within 2% (65×48 is 1.6% wider): kept as uploaded, byte for byte.
        data = png(noisy((130, 96), 8))
        references_service.attach_reference(
            session,
            app.state.blobs,
            app.state.settings,
            sample_id=sample_id,
            stream=io.BytesIO(png(noisy((65, 48), 9))),
            actor=None,
        )
        sample = references_service.attach_reference(
            session,
            app.state.blobs,
            app.state.settings,
            sample_id=sample_id,
            stream=io.BytesIO(data),
            actor=None,
        )
        assert app.state.blobs.read_bytes(sample.reference_sha256) == data


def test_shape_problem_tolerates_two_percent() -> None:
    assert references_service.shape_problem((100, 100), (102, 100)) is None
    assert references_service.shape_problem((100, 100), (103, 100)) is not None
    assert references_service.shape_problem((100, 100), (100, 97)) is not None


@pytest.mark.parametrize("store", ["up", "down at first"])
def test_the_worker_step_stores_one_metric_row_per_content_pair(
    app: FastAPI, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A done render of a sample with a reference gets its row; the step then has nothing.
    A blob store that cannot be reached stores no row (no "could not be read" for good): the
    step fails, and the pair is measured once the store answers."""
    sample_image, reference, output = noisy((40, 30), 10), noisy((80, 60), 11), noisy((40, 30), 12)
    sample_id = make_sample(app, png(sample_image), "s.png")
    blobs = app.state.blobs
    output_sha = blobs.put_bytes(png(output)).sha256
    with app.state.sessions() as session:
        sample = references_service.attach_reference(
            session,
            blobs,
            app.state.settings,
            sample_id=sample_id,
            stream=io.BytesIO(png(reference)),
            actor=None,
        )
        reference_sha = sample.reference_sha256
        session.commit()
    version_id = _any_version(app)
    with app.state.sessions.begin() as session:
        session.add(
            Render(
                render_key="k" * 64,
                checkpoint_sha256="c" * 64,
                version_id=version_id,
                input_sha256=sample.sha256,
                settings={},
                state=RenderState.DONE,
                output_sha256=output_sha,
                thumb_sha256=output_sha,
                width=40,
                height=30,
            )
        )
    sessions = app.state.sessions
    if store == "down at first":
        calls = fail_once(monkeypatch, blobs, "read_bytes")
        with pytest.raises(BlobStoreUnavailableError):
            reference_metrics.metrics_step(sessions, blobs, app.state.settings)
        assert calls
        with sessions() as session:
            assert session.scalars(select(ReferenceMetric)).all() == []
    assert reference_metrics.metrics_step(sessions, blobs, app.state.settings) is True
    assert reference_metrics.metrics_step(sessions, blobs, app.state.settings) is False
    with sessions() as session:
        rows = session.scalars(select(ReferenceMetric)).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.output_sha256, row.reference_sha256) == (output_sha, reference_sha)
    expected = reference_metrics.measure(output, reference)
    assert (row.psnr, row.ssim) == pytest.approx(expected)
    assert (row.width, row.height) == (40, 30)


def _any_version(app: FastAPI) -> int:
    from pathlib import Path
    from tempfile import mkdtemp

    from tests import checkpoints as ck
    from tests.factories import make_filter, make_version

    slug = make_filter(app, name="Toon", input_size=64)
    checkpoint = ck.safetensors_file(Path(mkdtemp()) / "v.safetensors", 0)
    return make_version(app, filter_slug=slug, label="v1", checkpoint=checkpoint)


def test_lpips_is_off_without_local_weights_and_says_why(tmp_path) -> None:
    from tests.conftest import make_settings

    off = reference_metrics.lpips_status(make_settings(tmp_path / "d"))
    assert not off.enabled and "GANSTUDIO_LPIPS_WEIGHTS" in off.message
    assert off.message.startswith("LPIPS is off: its network weights are not on this server")
    missing = reference_metrics.lpips_status(
        make_settings(tmp_path / "d", lpips_weights=tmp_path / "nope.pth")
    )
    assert not missing.enabled and "nope.pth" in missing.message
