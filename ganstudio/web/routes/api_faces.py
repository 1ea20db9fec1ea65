"""API: a sample's faces, eye masks from landmarks (one sample or a whole set), re-analysis."""

from typing import Annotated

from fastapi import APIRouter, Query

from ganstudio.services import faces as faces_service
from ganstudio.services import sample_sets as sets_service
from ganstudio.services import samples as samples_service
from ganstudio.web.deps import BlobsDep, QAUser, SessionDep, ViewerUser
from ganstudio.web.params import RowId
from ganstudio.web.schemas.faces import (
    FacesPublic,
    MaskJobPublic,
    MaskJobRequest,
    MaskJobStarted,
    Reanalyse,
    Reanalysed,
)
from ganstudio.web.schemas.samples import SampleDetail

router = APIRouter(prefix="/api/v1", tags=["faces"])


@router.get("/samples/{id}/faces")
def read_sample_faces(id: RowId, db: SessionDep, user: ViewerUser) -> FacesPublic:
    """The faces found in the sample (`state: pending` until a worker has analysed it)."""
    sample = samples_service.get_sample(db, sample_id=id)
    return FacesPublic.of(faces_service.faces_view(db, sample=sample))


@router.post("/samples/{id}/mask/generate")
def generate_sample_mask(
    id: RowId,
    db: SessionDep,
    blobs: BlobsDep,
    user: QAUser,
    overwrite: Annotated[bool, Query(description="replace a mask uploaded by hand")] = False,
) -> SampleDetail:
    """Make the sample's eye mask from its face landmarks (409 while the analysis is pending
    or a hand-made mask is in the way; 422 when no face was found)."""
    sample = samples_service.get_sample(db, sample_id=id)
    faces_service.generate_mask(db, blobs, sample=sample, overwrite=overwrite, actor=user)
    db.commit()
    return SampleDetail.of(samples_service.get_sample(db, sample_id=id))


@router.post("/sets/{id}/masks")
def generate_set_masks(
    id: RowId, db: SessionDep, user: QAUser, body: MaskJobRequest | None = None
) -> MaskJobStarted:
    """Queue eye masks for every sample of the set (hand-made masks kept unless `overwrite`);
    follow it at `GET /api/v1/mask-jobs/{job.id}`."""
    sample_set = sets_service.get_set(db, set_id=id)
    overwrite = body.overwrite if body is not None else False
    job = faces_service.start_mask_job(db, sample_set=sample_set, overwrite=overwrite, actor=user)
    db.commit()
    return MaskJobStarted(job=MaskJobPublic.of(job))


@router.get("/mask-jobs/{id}")
def read_mask_job(id: RowId, db: SessionDep, user: ViewerUser) -> MaskJobPublic:
    """An eye-mask job's progress: generated, kept (hand-made), failed (with errors)."""
    return MaskJobPublic.of(faces_service.get_mask_job(db, job_id=id))


@router.post("/faces/reanalyse")
def reanalyse_faces(db: SessionDep, user: QAUser, body: Reanalyse | None = None) -> Reanalysed:
    """Run the face analysis again: for `samples`, or (none given) every photo whose analysis
    was made by another detector or did not finish. Workers redo them in the background."""
    samples = body.samples if body is not None else None
    dropped = faces_service.reanalyse(db, sample_ids=samples, actor=user)
    db.commit()
    return Reanalysed(dropped=dropped)
