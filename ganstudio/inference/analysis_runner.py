"""The worker's side of analyses: run one claimed item (an attention map or feature maps).

The render worker claims analysis items after renders (runner.RenderWorker.analysis_step) and
runs each here, in the same warm executors as renders: the network input is what a render of
that version gets (RenderWorker.network_inputs), the target region is drawn at the photo's
size and mapped into that input the same way, and the engine (inference/networks.py:
attention_of, features_of) runs inside the version's sandboxed executor. The images (an
overlay, a feature grid) are made here and stored as blobs.
"""

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ganstudio.analysis import images
from ganstudio.analysis.regions import (
    BOX,
    EYES,
    FACE,
    NO_FACE,
    Region,
    box_mask,
    full_mask,
    region_share,
)
from ganstudio.faces.face import Face
from ganstudio.inference import networks
from ganstudio.inference.errors import describe_error, first_line
from ganstudio.inference.executor import (
    ExecutorError,
    ExecutorRefusedError,
    ExecutorTimeoutError,
)
from ganstudio.inference.formats import CheckpointError
from ganstudio.inference.inputs import NetworkInput
from ganstudio.inference.networks import NetworkSpec
from ganstudio.inference.render_spec import RenderError
from ganstudio.services import analyses as analyses_service
from ganstudio.services import faces as faces_service
from ganstudio.services import renders as renders_service
from ganstudio.services.errors import ServiceError
from ganstudio.storage.blobs import BlobStoreUnavailableError
from ganstudio.storage.images import png_bytes
from ganstudio.text import plural
from ganstudio.vocabulary import AnalysisKind, AnalysisState

if TYPE_CHECKING:
    from ganstudio.inference.runner import RenderInputs, RenderWorker

log = logging.getLogger(__name__)

NO_FACE_CROP = analyses_service.NO_FACE_CROP  # also given at once where the faces are known
FLAT = "the region's output does not depend on the input here, so the map is empty"


class AnalysisError(RuntimeError):
    """The item failed; the message says why (shown on its cell). `reason`: a code pages act on
    (analyses_service.NO_FACE: a note, not an error)."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


def step(worker: "RenderWorker") -> bool:
    """Claim and run the next queued analysis item; return whether there was one."""
    with worker.sessions.begin() as session:
        item_id = analyses_service.claim_next_item(session, worker_id=worker.worker_id)
    if item_id is None:
        return False
    run_item(worker, item_id)
    return True


def run_item(worker: "RenderWorker", item_id: int) -> AnalysisState:
    """Run one claimed item and record its result, or the reason it failed."""
    with worker.sessions() as session:
        work = analyses_service.item_work(session, item_id=item_id)
        cached = analyses_service.cached_result(session, cache_key=work.cache_key)
    values: dict[str, Any]
    if cached is not None:  # made by another item while this one waited: no work
        values = {**cached, "state": AnalysisState.DONE, "error": ""}
    else:
        try:
            values = _compute(worker, work)
            values.update(state=AnalysisState.DONE, error="")
        except BlobStoreUnavailableError:
            raise  # not the item's fault: the worker gives its claims back and waits
        except (AnalysisError, RenderError, CheckpointError, ExecutorError) as exc:
            values = {
                "state": AnalysisState.FAILED,
                "error": first_line(str(exc)),
                "reason": exc.reason if isinstance(exc, AnalysisError) else None,
            }
        except Exception as exc:  # the job goes on whatever happens to one item
            log.warning("Analysis item %s failed: %s", item_id, describe_error(exc), exc_info=True)
            values = {"state": AnalysisState.FAILED, "error": describe_error(exc)}
    with worker.sessions.begin() as session:
        analyses_service.finish_item(session, item_id=item_id, values=values)
    return AnalysisState(values["state"])


def _render_inputs(work: analyses_service.ItemWork) -> "RenderInputs":
    from ganstudio.inference.runner import RenderInputs

    version = work.version
    settings = renders_service.render_settings(
        version=version, mask_sha256=work.sample_mask_sha256, settings=work.settings
    )
    mask, missing = renders_service.version_mask(
        version=version, mask_sha256=work.sample_mask_sha256, settings=settings
    )
    if missing and not settings.eye_mask:
        raise AnalysisError(missing)
    return RenderInputs(
        network=NetworkSpec.of(version),
        input_channels=version.input_channels,
        input_sha256=work.sample_sha256,
        mask_sha256=mask,
        settings=settings,
    )


def _compute(worker: "RenderWorker", work: analyses_service.ItemWork) -> dict[str, Any]:
    inputs = _render_inputs(work)
    prepared = worker.network_inputs(inputs)
    if not prepared.inputs:  # a face filter on a photo without a face
        raise AnalysisError(NO_FACE_CROP, analyses_service.NO_FACE)
    count = len(prepared.inputs)
    if work.settings.face is not None and work.face >= count:
        raise AnalysisError(
            f"This photo has {plural(count, 'face')} that this filter converts, so there is no "
            f"face {work.face + 1}; pick a face from 1 to {count}."
        )
    # The chosen face's crop (0: the largest), or the whole photo.
    one = prepared.inputs[work.face if work.settings.face is not None else 0]
    warm = worker.pool.get(
        inputs.network, lambda: worker.blobs.read_bytes(inputs.network.checkpoint_sha256)
    )
    limit = worker.settings.render_time_limit_seconds
    try:
        with worker.pool.discarding(inputs.network.checkpoint_sha256):
            if work.kind == AnalysisKind.FEATURES:
                return _features(worker, warm, one, work, limit)
            region = _region_in_input(worker, work, prepared.photo, prepared.faces, one)
            return _attention(worker, warm, one, region, work, limit)
    except ExecutorTimeoutError:
        raise AnalysisError(
            f"The analysis took longer than the {limit:.0f} s limit, so it was stopped; this "
            "version is too slow to analyse at this size."
        ) from None
    except ExecutorRefusedError as exc:
        raise AnalysisError(f"The analysis failed on this image: {exc}") from None


def _attention(
    worker: "RenderWorker",
    warm: Any,
    one: NetworkInput,
    region: np.ndarray,
    work: analyses_service.ItemWork,
    limit: float,
) -> dict[str, Any]:
    result = networks.attention_of(
        warm, one.image, one.mask, region, layer=work.layer, timeout=limit
    )
    heat = np.asarray(result.heatmap, dtype=np.float32)
    if heat.shape != region.shape:
        raise AnalysisError(
            f"The engine returned a {heat.shape} map for a {region.shape} input; report this."
        )
    share = region_share(heat, region)
    overlay = images.heat_overlay(one.image, heat, region)
    notes = [n for n in (result.note, FLAT if share is None else "") if n]
    return {
        "method": result.method,
        "layer": result.layer,
        "region_share": share,
        "map_sha256": worker.blobs.put_bytes(png_bytes(overlay)).sha256,
        "raw_sha256": worker.blobs.put_bytes(png_bytes(images.heat_raw(heat))).sha256,
        "note": "; ".join(notes) or None,
    }


def _features(
    worker: "RenderWorker",
    warm: Any,
    one: NetworkInput,
    work: analyses_service.ItemWork,
    limit: float,
) -> dict[str, Any]:
    result = networks.features_of(
        warm,
        one.image,
        one.mask,
        layer=work.layer,
        top=analyses_service.TOP_CHANNELS,
        timeout=limit,
    )
    if not result.channels:
        raise AnalysisError(f"The layer {result.layer} gave no channels to show.")
    grid = images.feature_grid([(c.index, c.pixels) for c in result.channels])
    return {
        "method": "features",
        "layer": result.layer,
        "region_share": None,
        "grid_sha256": worker.blobs.put_bytes(png_bytes(grid)).sha256,
        "map_sha256": None,
        "note": None,
    }


def _region_in_input(
    worker: "RenderWorker",
    work: analyses_service.ItemWork,
    photo: Image.Image,
    found: list[Face],
    one: NetworkInput,
) -> np.ndarray:
    """The target region at the photo's size, mapped into the network's input like the photo."""
    layer = Image.fromarray(
        photo_region(worker, work.region, work.sample_sha256, photo, found, face=work.face)
    )
    placed = np.asarray(one.place(layer), dtype=np.float32)
    placed = np.clip(placed, 0, 1)
    if not placed.any():
        raise AnalysisError(
            f"{work.region.words.capitalize()} lies outside what this version sees of the photo "
            "(its face crop); choose another region."
        )
    return placed


def photo_region(
    worker: "RenderWorker",
    region: Region,
    image_sha256: str,
    photo: Image.Image,
    found: list[Face],
    *,
    face: int = 0,
) -> np.ndarray:
    """The region as a (height, width) float32 mask of the photo (0..1); `face` picks the face
    box of region "face" (0: the largest)."""
    size = photo.size
    if region.kind == BOX:
        assert region.box is not None
        return box_mask(size, region.box)
    if region.kind not in (EYES, FACE):
        return full_mask(size)
    with worker.sessions.begin() as session:
        row = faces_service.analyse_and_store(
            session, worker.blobs, image_sha256, settings=worker.settings
        )
        faces = found or faces_service.faces_of(row)
        if not faces:
            raise AnalysisError(NO_FACE, analyses_service.NO_FACE)
        if face >= len(faces):
            count = len(faces)
            raise AnalysisError(
                f"This photo has {plural(count, 'face')}, so there is no face {face + 1}; pick "
                f"a face from 1 to {count}."
            )
        if region.kind == FACE:
            return box_mask(size, faces[face].box)  # stored largest first
        try:
            eyes = faces_service.landmarks_mask(row, size)
        except ServiceError as exc:
            raise AnalysisError(f"No eye region: {exc}") from None
    return np.asarray(eyes, dtype=np.float32) / 255.0
