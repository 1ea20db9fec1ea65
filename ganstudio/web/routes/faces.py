"""Pages: eye masks from landmarks (one sample, a whole set with live progress)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ganstudio.services import faces as faces_service
from ganstudio.services import sample_sets as sets_service
from ganstudio.services import samples as samples_service
from ganstudio.services.errors import ServiceError
from ganstudio.web.deps import BlobsDep, QAUser, SessionDep, ViewerUser
from ganstudio.web.forms import refused, saved
from ganstudio.web.params import RowId
from ganstudio.web.schemas.faces import MaskJobPublic

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.post("/samples/{id}/mask/generate")
def generate_sample_mask(
    request: Request,
    id: RowId,
    db: SessionDep,
    blobs: BlobsDep,
    user: QAUser,
    overwrite: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Make the sample's eye mask from its face landmarks."""
    sample = samples_service.get_sample(db, sample_id=id)
    try:
        faces_service.generate_mask(
            db, blobs, sample=sample, overwrite=overwrite == "true", actor=user
        )
    except ServiceError as exc:
        return refused(request, db, exc, f"/samples/{id}")
    return saved(request, db, "Eye mask generated from the face landmarks.", f"/samples/{id}")


@router.post("/sets/{id}/masks")
def generate_set_masks(
    request: Request,
    id: RowId,
    db: SessionDep,
    user: QAUser,
    overwrite: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Queue eye masks for the set's samples; the set page shows the progress."""
    sample_set = sets_service.get_set(db, set_id=id)
    try:
        faces_service.start_mask_job(
            db, sample_set=sample_set, overwrite=overwrite == "true", actor=user
        )
    except ServiceError as exc:
        return refused(request, db, exc, f"/sets/{id}")
    return saved(request, db, "Generating eye masks; progress below.", f"/sets/{id}", level="info")


@router.get("/sets/{id}/mask-job")
def read_set_mask_job(request: Request, id: RowId, db: SessionDep, user: ViewerUser) -> Response:
    """The set's latest eye-mask job's progress (polled by the set page while it runs)."""
    sample_set = sets_service.get_set(db, set_id=id)
    job = faces_service.latest_mask_job(db, set_id=sample_set.id)
    return request.app.state.pages.render(
        request,
        "sets/_mask_job.html",
        {"sample_set": sample_set, "mask_job": MaskJobPublic.of(job) if job else None},
    )
