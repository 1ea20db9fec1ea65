"""The comparison viewer's faces: overlays for any row, and, for face filters, face crops (what
each version saw and made) cut with the render's own crop rule (ganstudio/faces/crops.py).

The crops come from the stored analysis (the one the sample page shows), which is the same
detector on the same pixels as the renderer's own, and the render's stored FaceSettings (margin,
alignment, which faces): so the input crop is what the network was given.
"""

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from sqlalchemy.orm import Session

from ganstudio import faces
from ganstudio.config import Settings
from ganstudio.db.tables import Comparison, Render
from ganstudio.faces.crops import Crop, cut, face_crop
from ganstudio.inference.render_spec import FaceSettings, PipelineSettings
from ganstudio.services import faces as faces_service
from ganstudio.services.comparison_views import RowView, read_row
from ganstudio.services.errors import ConflictError, NotFoundError, ServiceError
from ganstudio.storage.blobs import BlobStore
from ganstudio.storage.images import load_rgb, png_bytes
from ganstudio.vocabulary import RenderState

CACHE_ENTRIES = 128  # crop PNGs (a few hundred KiB at most each), keyed by what decides them
_cache: OrderedDict[str, bytes] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class CropFace:
    """One face of a face-crop view: its landmarks in crop pixels, and its images' URLs."""

    index: int
    landmarks: dict[str, list[list[float]]]
    corners: list[list[float]]  # the crop's square in the photo's pixels (it may be turned)
    input_url: str
    output_urls: dict[str, str]  # version id → URL (every column; a render not done answers 409)


@dataclass(frozen=True)
class RowFaces:
    """What the viewer shows of a row's faces."""

    state: str  # the analysis: pending, done, failed, unavailable
    detector: str
    count: int
    error: str
    faces_url: str  # the analysis in photo pixels (boxes, landmarks), for the overlay
    mask_sha256: str | None  # the sample's own mask (uploaded or generated)
    landmarks_mask_url: str | None  # else the eye mask made from the landmarks, when it has faces
    crop_size: int | None = None  # face filters only: the network's input side
    crop_faces: list[CropFace] = field(default_factory=list)


@dataclass(frozen=True)
class CropImage:
    data: bytes
    etag: str


def face_settings_of(render: Render) -> tuple[PipelineSettings, FaceSettings] | None:
    """Return a render's pipeline and face settings; None for a whole-image render."""
    settings = PipelineSettings(**render.settings)
    return (settings, settings.face) if settings.face is not None else None


def chosen_faces(found: list[faces.Face], face: FaceSettings) -> list[faces.Face]:
    """The faces the renderer converts (the analysis lists the largest first)."""
    return found[:1] if face.faces == "largest" else found[: face.max_faces]


def crop_landmarks(one: faces.Face, crop: Crop, size: int) -> dict[str, list[list[float]]]:
    """Return a face's landmarks in the pixels of its `size`×`size` crop."""
    a, b, c, d, e, f = crop.from_image(size)
    return {
        name: [[round(a * x + b * y + c, 1), round(d * x + e * y + f, 1)] for x, y in points]
        for name, points in one.landmarks.items()
    }


def _crop_of(one: faces.Face, face: FaceSettings, index: int) -> Crop:
    try:
        return face_crop(one, margin=face.margin, align=face.align)
    except ValueError as exc:
        raise NotFoundError(
            f"Face {index + 1} of this photo has no usable landmarks ({exc}), so it has no crop."
        ) from None


def row_faces(session: Session, *, comparison: Comparison, row: RowView) -> RowFaces:
    """Return the viewer's face view of a row: the analysis state and, for a face filter, each
    converted face's landmarks in crop pixels and its crop images' URLs."""
    sample = row.sample
    analysis = faces_service.analysis_of(session, sample.sha256)
    view = faces_service.faces_view(session, sample=sample)
    found = faces_service.faces_of(analysis) if analysis is not None else []
    base = f"/c/{comparison.slug}/faces/{sample.id}"
    settings = face_settings_of(row.cells[0].render) if row.cells else None
    crop_size: int | None = None
    crop_faces: list[CropFace] = []
    if settings is not None:
        pipeline, face = settings
        crop_size = pipeline.input_size
        for index, one in enumerate(chosen_faces(found, face)):
            try:
                crop = face_crop(one, margin=face.margin, align=face.align)
            except ValueError:
                continue  # the renderer fails such a photo; its cells say why
            crop_faces.append(
                CropFace(
                    index=index,
                    landmarks=crop_landmarks(one, crop, crop_size),
                    corners=[[round(x, 1), round(y, 1)] for x, y in crop.corners()],
                    input_url=f"{base}/{index}/input.png",
                    output_urls={
                        str(c.version_id): f"{base}/{index}/{c.version_id}.png" for c in row.cells
                    },
                )
            )
    return RowFaces(
        state=view.state,
        detector=view.detector,
        count=len(found),
        error=view.error,
        faces_url=f"/api/v1/samples/{sample.id}/faces",
        mask_sha256=sample.mask_sha256,
        landmarks_mask_url=f"{base}/eye-mask.png" if found and not sample.mask_sha256 else None,
        crop_size=crop_size,
        crop_faces=crop_faces,
    )


def _analysed_faces(session: Session, sha256: str) -> list[faces.Face]:
    analysis = faces_service.analysis_of(session, sha256)
    if analysis is None:
        raise NotFoundError(
            "The face analysis of this photo is still pending (a worker runs it in the "
            "background); reload the viewer in a minute."
        )
    if analysis.state != faces_service.DONE:
        raise NotFoundError(
            f"The face analysis of this photo did not finish ({analysis.state}: "
            f"{analysis.error}); ask an admin to re-run it."
        )
    return faces_service.faces_of(analysis)


def _cached(key: dict[str, Any], make: Any) -> CropImage:
    etag = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    with _cache_lock:
        data = _cache.get(etag)
        if data is not None:
            _cache.move_to_end(etag)
            return CropImage(data, etag)
    data = make()
    with _cache_lock:
        _cache[etag] = data
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return CropImage(data, etag)


def crop_image(
    session: Session,
    blobs: BlobStore,
    *,
    comparison: Comparison,
    sample_id: int,
    face_index: int,
    version_id: int | None,
    settings: Settings,
) -> CropImage:
    """Return face `face_index`'s crop at the network's input size: of the input (what the
    versions saw) when `version_id` is None, else of that version's output (what it made)."""
    row = read_row(session, comparison=comparison, sample_id=sample_id)
    if version_id is None:
        cell = row.cells[0]
    else:
        match = [c for c in row.cells if c.version_id == version_id]
        if not match:
            raise NotFoundError(
                f"Version {version_id} is not a column of this comparison; open the crops from "
                "the comparison's viewer."
            )
        cell = match[0]
    render = cell.render
    found_settings = face_settings_of(render)
    if found_settings is None:
        raise NotFoundError(
            "This comparison's filter converts the whole image (pipeline 'full'): only face "
            "filters have face crops. Use the side-by-side view."
        )
    pipeline, face = found_settings
    chosen = chosen_faces(_analysed_faces(session, row.sample.sha256), face)
    if not chosen:
        raise NotFoundError("No face was found in this photo, so it has no face crops.")
    if face_index >= len(chosen):
        raise NotFoundError(
            f"This photo has {len(chosen)} converted face{'s' if len(chosen) != 1 else ''} "
            f"(numbered 0 to {len(chosen) - 1}); there is no face {face_index}."
        )
    one = chosen[face_index]
    crop = _crop_of(one, face, face_index)
    if version_id is None:
        source = row.sample.sha256
    elif render.state != RenderState.DONE or not render.output_sha256:
        raise ConflictError(
            f"This version's render is {render.state.value}, so it has no output to crop yet; "
            "the viewer shows the crop once it is done."
        )
    else:
        source = render.output_sha256
    size = pipeline.input_size
    key = {"source": source, "face": one.to_json(), "crop": [face.margin, face.align], "size": size}

    def make() -> bytes:
        image = load_rgb(blobs.read_bytes(source), max_pixels=settings.max_image_pixels)
        if image.size != (row.sample.width, row.sample.height):  # landmarks are in its pixels
            image = image.resize((row.sample.width, row.sample.height), Image.Resampling.BICUBIC)
        return png_bytes(cut(image, crop, size))

    return _cached(key, make)


def eye_mask_image(session: Session, *, comparison: Comparison, sample_id: int) -> CropImage:
    """Return the row's eye mask made from its landmarks (the one 4-channel renders use)."""
    row = read_row(session, comparison=comparison, sample_id=sample_id)
    sample = row.sample
    analysis = faces_service.analysis_of(session, sample.sha256)
    key = {"mask": faces_service.landmarks_mask_key(), "image": sample.sha256}
    size = (sample.width, sample.height)
    try:
        return _cached(key, lambda: png_bytes(faces_service.landmarks_mask(analysis, size)))
    except ServiceError as exc:  # pending, failed, or no face: nothing to show, and why
        raise NotFoundError(str(exc)) from None
