"""Faces in the library: one analysis per image content and detector, system tags, eye masks.

The face library (`ganstudio.faces`) is only ever called from a worker (never in a request):
`analyse_blob` runs it, `store_analysis` records the result and the sample's system tags.
Everything here reaches the library through `faces.<name>` so tests can put fakes in its place.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ganstudio import faces
from ganstudio.config import Settings
from ganstudio.db.base import utcnow
from ganstudio.db.tables import FaceAnalysis, Job, JobItem, MaskJob, Render, Sample, SampleSet, User
from ganstudio.services import audit
from ganstudio.services import samples as samples_service
from ganstudio.services.errors import ConflictError, InvalidInputError, NotFoundError
from ganstudio.storage.blobs import BlobStore, BlobStoreUnavailableError
from ganstudio.storage.images import ImageRejectedError, load_rgb, png_bytes
from ganstudio.vocabulary import JobKind

# Analysis states (a missing row is "pending").
PENDING, DONE, FAILED, UNAVAILABLE = "pending", "done", "failed", "unavailable"

# System tags: set by the analysis only (QA's tags cannot start with SYSTEM_TAG_PREFIX).
TAG_NO_FACE = f"{samples_service.SYSTEM_TAG_PREFIX}no face"
TAG_ONE_FACE = f"{samples_service.SYSTEM_TAG_PREFIX}one face"
TAG_SEVERAL_FACES = f"{samples_service.SYSTEM_TAG_PREFIX}several faces"
TAG_EYES_CLOSED = f"{samples_service.SYSTEM_TAG_PREFIX}eyes closed"
SYSTEM_TAGS = (TAG_NO_FACE, TAG_ONE_FACE, TAG_SEVERAL_FACES, TAG_EYES_CLOSED)

# The eye mask made from landmarks (sample masks and 4-channel renders without a mask).
MASK_MARGIN = 0.35
MASK_FEATHER = 0.0
NO_FACE_MASK = (
    "No face was found in this photo, so no eye mask can be made from landmarks; "
    "upload a mask by hand (the sample page's Mask box), or leave this photo out of 4-channel "
    "versions."
)


def landmarks_mask_key() -> str:
    """What decides a landmarks mask's pixels besides the image: part of a render's key."""
    return f"landmarks {faces.DETECTOR} margin={MASK_MARGIN} feather={MASK_FEATHER}"


# --- reading ----------------------------------------------------------------------------------


def analysis_of(session: Session, image_sha256: str) -> FaceAnalysis | None:
    """Return the current detector's analysis of an image, or None while it is pending."""
    return analyses_of(session, [image_sha256]).get(image_sha256)


def analyses_of(session: Session, image_sha256s: Sequence[str]) -> dict[str, FaceAnalysis]:
    """The current detector's analyses of these images, by image (pending ones are absent)."""
    rows = session.scalars(
        select(FaceAnalysis).where(
            FaceAnalysis.image_sha256.in_(list(image_sha256s)),
            FaceAnalysis.detector == faces.DETECTOR,
        )
    )
    return {row.image_sha256: row for row in rows}


def faces_of(row: FaceAnalysis) -> list[faces.Face]:
    """Return the faces of a finished analysis."""
    if row.state != DONE or not row.faces:
        return []
    return list(faces.FaceAnalysis.from_json(row.faces).faces)


@dataclass(frozen=True)
class FacesView:
    state: str
    detector: str
    faces: list[dict[str, Any]]
    error: str = ""


def faces_view(session: Session, *, sample: Sample) -> FacesView:
    """Return the API view of a sample's faces: pending until analysed, then the stored JSON."""
    row = analysis_of(session, sample.sha256)
    if row is None:
        return FacesView(PENDING, faces.DETECTOR, [])
    stored = row.faces or {}
    return FacesView(row.state, row.detector, list(stored.get("faces", [])), row.error)


# --- analysing (workers only) -----------------------------------------------------------------


def next_unanalysed(session: Session) -> str | None:
    """Return an image (a sample first, then a web-test photo) the current detector has not
    analysed yet; None when every one is."""
    analysed = select(FaceAnalysis.image_sha256).where(FaceAnalysis.detector == faces.DETECTOR)
    sha = session.scalar(
        select(Sample.sha256)
        .where(Sample.sha256.not_in(analysed))
        .order_by(Sample.archived, Sample.id.desc())
        .limit(1)
    )
    if sha is not None:
        return sha
    return session.scalar(
        select(Render.input_sha256)
        .join(JobItem, JobItem.render_id == Render.id)
        .join(Job, Job.id == JobItem.job_id)
        .where(Job.kind == JobKind.WEBTEST, Render.input_sha256.not_in(analysed))
        .order_by(Render.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class AnalysisResult:
    state: str
    stored: dict[str, Any] | None  # faces.FaceAnalysis.to_json()
    error: str
    found: list[faces.Face]


def analyse_blob(blobs: BlobStore, image_sha256: str, *, settings: Settings) -> AnalysisResult:
    """Run the face library on a stored image (EXIF-transposed, under the pixel limit).

    Never raises for the image's sake: a bad image or a failing detector is a stored result,
    so a worker does not retry the same photo forever.
    """
    try:
        image = load_rgb(blobs.read_bytes(image_sha256), max_pixels=settings.max_image_pixels)
    except BlobStoreUnavailableError:
        raise  # the store's fault, not the photo's (an OSError too): tried again, not recorded
    except (ImageRejectedError, OSError) as exc:
        return AnalysisResult(FAILED, None, _short(f"The image was not decoded: {exc}"), [])
    try:
        analysis = faces.analyse_image(image, max_faces=faces.MAX_FACES)
    except faces.FaceAnalysisUnavailableError as exc:
        return AnalysisResult(UNAVAILABLE, None, _short(str(exc)), [])
    except NotImplementedError:
        return AnalysisResult(
            UNAVAILABLE, None, "Face analysis is not built into this install yet.", []
        )
    except Exception as exc:  # the detector's own failure on this photo: recorded, not retried
        return AnalysisResult(FAILED, None, _short(f"The face detector failed: {exc!r}"), [])
    return AnalysisResult(DONE, analysis.to_json(), "", list(analysis.faces))


def store_analysis(session: Session, image_sha256: str, result: AnalysisResult) -> bool:
    """Record an analysis (once: another worker may have been first) and the system tags of
    the sample with that image; return whether this call stored it."""
    try:
        with session.begin_nested():
            session.add(
                FaceAnalysis(
                    image_sha256=image_sha256,
                    detector=faces.DETECTOR,
                    state=result.state,
                    faces=result.stored,
                    error=result.error,
                )
            )
    except IntegrityError:
        return False
    sample = samples_service.find_by_sha256(session, image_sha256)
    if sample is not None and result.state == DONE:
        set_system_tags(session, sample_id=sample.id, names=system_tags(result.found))
    return True


def analyse_and_store(
    session: Session, blobs: BlobStore, image_sha256: str, *, settings: Settings
) -> FaceAnalysis:
    """Return the current analysis of an image, analysing it now when it is missing."""
    row = analysis_of(session, image_sha256)
    if row is None:
        store_analysis(session, image_sha256, analyse_blob(blobs, image_sha256, settings=settings))
        row = analysis_of(session, image_sha256)
    assert row is not None
    return row


def system_tags(found: Sequence[faces.Face]) -> list[str]:
    """Return the system tags an analysis gives a photo."""
    names = [TAG_NO_FACE if not found else TAG_ONE_FACE if len(found) == 1 else TAG_SEVERAL_FACES]
    if any(faces.eyes_closed(face) for face in found):
        names.append(TAG_EYES_CLOSED)
    return names


def set_system_tags(session: Session, *, sample_id: int, names: Sequence[str]) -> None:
    """Make a sample's system tags exactly `names` (QA's own tags are left alone)."""
    stale = [n for n in SYSTEM_TAGS if n not in names]
    samples_service.remove_tags(session, sample_ids=[sample_id], names=stale)
    samples_service.add_tags(session, sample_ids=[sample_id], names=list(names))


def reanalyse(session: Session, *, sample_ids: Sequence[int] | None, actor: User | None) -> int:
    """Forget analyses so workers run them again: those of other detectors and the ones that
    did not finish (all images, or only `sample_ids`'); return how many were dropped."""
    stale = (FaceAnalysis.detector != faces.DETECTOR) | (FaceAnalysis.state != DONE)
    stmt = delete(FaceAnalysis)
    if sample_ids is not None:
        ids = samples_service.existing_ids(session, list(dict.fromkeys(sample_ids)))
        shas = select(Sample.sha256).where(Sample.id.in_(ids))
        stmt = stmt.where(FaceAnalysis.image_sha256.in_(shas))  # every row of these: fresh
    else:
        stmt = stmt.where(stale)
    dropped = session.execute(stmt).rowcount  # type: ignore[attr-defined]
    audit.record(
        session,
        actor=actor,
        action="faces.reanalyse",
        subject_type="sample",
        subject_id="all" if sample_ids is None else "some",
        samples=list(sample_ids) if sample_ids is not None else "all",
        dropped=dropped,
    )
    return int(dropped or 0)


# --- eye masks --------------------------------------------------------------------------------


def landmarks_mask(row: FaceAnalysis | None, size: tuple[int, int]) -> Image.Image:
    """Return the eye mask of an analysed photo, or raise why there is none (409 / 422)."""
    if row is None:
        raise ConflictError(
            "The face analysis of this photo is still pending (a worker runs it in the "
            "background); try again in a minute."
        )
    if row.state != DONE:
        raise InvalidInputError(
            f"The face analysis of this photo did not finish ({row.state}: {row.error}); "
            "upload a mask by hand, or ask an admin to re-run the analysis."
        )
    found = faces_of(row)
    if not found:
        raise InvalidInputError(NO_FACE_MASK)
    mask = faces.eye_mask(size, found, margin=MASK_MARGIN, feather=MASK_FEATHER)
    return mask.convert("L")


def generate_mask(
    session: Session,
    blobs: BlobStore,
    *,
    sample: Sample,
    overwrite: bool,
    actor: User | None,
    row: FaceAnalysis | None = None,
) -> Sample:
    """Store the eye mask from the sample's landmarks as its mask (source "landmarks").

    A hand-made mask stays unless `overwrite` (409 otherwise).
    """
    if sample.mask_source == samples_service.MASK_UPLOADED and not overwrite:
        raise ConflictError(
            "This sample has a mask uploaded by hand, which generating would replace; "
            "pass overwrite=true (or tick “replace hand-made masks”) to replace it."
        )
    row = row if row is not None else analysis_of(session, sample.sha256)
    mask = landmarks_mask(row, (sample.width, sample.height))
    stored = blobs.put_bytes(png_bytes(mask))
    sample.mask_sha256 = stored.sha256
    sample.mask_source = samples_service.MASK_LANDMARKS
    audit.record(
        session,
        actor=actor,
        action="sample.mask_generate",
        subject_type="sample",
        subject_id=sample.id,
        mask_sha256=stored.sha256,
        detector=faces.DETECTOR,
    )
    session.flush()
    return sample


def start_mask_job(
    session: Session, *, sample_set: SampleSet, overwrite: bool, actor: User | None
) -> MaskJob:
    """Queue eye-mask generation for a set's samples (a worker runs it, with progress)."""
    from ganstudio.services import sample_sets as sets_service  # sample_sets imports samples

    ids = sets_service.member_ids(session, sample_set=sample_set)
    if not ids:
        raise InvalidInputError("This set has no samples; add samples, then generate masks.")
    job = MaskJob(
        set_id=sample_set.id,
        overwrite=overwrite,
        sample_ids=list(ids),
        created_by_id=actor.id if actor else None,
        errors=[],
    )
    session.add(job)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="set.mask_job",
        subject_type="sample_set",
        subject_id=sample_set.id,
        job=job.id,
        overwrite=overwrite,
    )
    return job


def get_mask_job(session: Session, *, job_id: int) -> MaskJob:
    job = session.get(MaskJob, job_id)
    if job is None:
        raise NotFoundError(
            f"No mask job with id {job_id}; the id comes back from POST /api/v1/sets/{{id}}/masks."
        )
    return job


def mask_job_status(job: MaskJob) -> str:
    if job.finished_at is None:
        return "running" if job.position else "queued"
    return "failed" if job.sample_ids and job.failed == len(job.sample_ids) else "done"


MAX_JOB_ERRORS = 50


def mask_job_step(session: Session, blobs: BlobStore, *, settings: Settings) -> bool:
    """Handle one sample of the oldest unfinished mask job; return whether there was one."""
    # The job's row stays locked until the caller commits this step: on PostgreSQL another
    # worker skips to the next job instead of handling the same sample and losing one of the
    # two updates of the job's counts (SQLite, one writer at a time, renders no FOR UPDATE).
    job = session.scalar(
        select(MaskJob)
        .where(MaskJob.finished_at.is_(None))
        .order_by(MaskJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if job is None:
        return False
    if job.position >= len(job.sample_ids):
        job.finished_at = utcnow()
        return True
    sample_id = job.sample_ids[job.position]
    sample = session.get(Sample, sample_id)
    error = ""
    if sample is None:
        error = "the sample no longer exists"
    elif sample.mask_source == samples_service.MASK_UPLOADED and not job.overwrite:
        job.kept += 1
    else:
        row = analyse_and_store(session, blobs, sample.sha256, settings=settings)
        try:
            generate_mask(session, blobs, sample=sample, overwrite=True, actor=None, row=row)
            job.done += 1
        except (ConflictError, InvalidInputError) as exc:
            error = str(exc)
    if error:
        job.failed += 1
        if len(job.errors) < MAX_JOB_ERRORS:
            name = sample.filename if sample is not None else ""
            job.errors = [*job.errors, {"sample_id": sample_id, "filename": name, "error": error}]
    job.position += 1
    if job.position >= len(job.sample_ids):
        job.finished_at = utcnow()
    return True


def _short(text: str) -> str:
    return " ".join(text.split())[:500]


def latest_mask_job(session: Session, *, set_id: int) -> MaskJob | None:
    """Return the set's newest mask job (the set page shows its progress)."""
    return session.scalar(
        select(MaskJob).where(MaskJob.set_id == set_id).order_by(MaskJob.id.desc()).limit(1)
    )
