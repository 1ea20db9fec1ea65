"""JSON shapes of faces: a sample's analysis, re-analysis, eye-mask jobs."""

from typing import Any

from pydantic import BaseModel, Field

from ganstudio.db.tables import MaskJob
from ganstudio.services import faces as faces_service
from ganstudio.web.params import RowId


class FacePublic(BaseModel):
    box: list[float] = Field(description="[x, y, w, h] in the photo's displayed pixels")
    score: float
    landmarks: dict[str, Any] = Field(
        description="left_eye, right_eye, nose, mouth …: lists of [x, y] points"
    )
    eyes_open: dict[str, float] = Field(description="left, right: eyelid gap over eye width")


class FacesPublic(BaseModel):
    state: str = Field(description="pending, done, failed or unavailable")
    detector: str
    faces: list[FacePublic]
    error: str = ""

    @classmethod
    def of(cls, view: faces_service.FacesView) -> "FacesPublic":
        return cls(
            state=view.state,
            detector=view.detector,
            faces=[FacePublic.model_validate(face) for face in view.faces],
            error=view.error,
        )


class Reanalyse(BaseModel):
    samples: list[RowId] | None = Field(
        None, max_length=10_000, description="these samples (all their analyses); none: all"
    )


class Reanalysed(BaseModel):
    dropped: int = Field(description="analyses forgotten; workers run them again")


class MaskJobRequest(BaseModel):
    overwrite: bool = Field(False, description="replace masks uploaded by hand too")


class MaskJobPublic(BaseModel):
    id: int
    set_id: int
    status: str = Field(description="queued, running, done or failed")
    overwrite: bool
    total: int
    done: int = Field(description="masks generated")
    kept: int = Field(description="hand-made masks left as they were")
    failed: int
    errors: list[dict[str, Any]]

    @classmethod
    def of(cls, job: MaskJob) -> "MaskJobPublic":
        return cls(
            id=job.id,
            set_id=job.set_id,
            status=faces_service.mask_job_status(job),
            overwrite=job.overwrite,
            total=len(job.sample_ids),
            done=job.done,
            kept=job.kept,
            failed=job.failed,
            errors=list(job.errors),
        )

    @property
    def percent(self) -> int:
        handled = self.done + self.kept + self.failed
        return round(100 * handled / self.total) if self.total else 100


class MaskJobStarted(BaseModel):
    job: MaskJobPublic
