"""JSON shapes of filters and their versions."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import File, Form, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from ganstudio.db.tables import Filter, PrecisionCheck, Version, VersionStatusChange
from ganstudio.inference.render_spec import DEFAULT_MARGIN, FaceSettings
from ganstudio.services import training_metrics
from ganstudio.services.filters import FilterSummary
from ganstudio.services.precision import Effective, VersionPrecision
from ganstudio.services.versions import PushRequest
from ganstudio.vocabulary import Pipeline, PrecisionCheckState, VersionStatus
from ganstudio.web.params import Int64
from ganstudio.web.schemas import shaped

FaceChoice = Literal["all", "largest"]
PrecisionChoice = Literal["fp32", "bf16", "fp16"]
ReducedChoice = Literal["bf16", "fp16"]
PRECISION_HELP = (
    "the precision of its renders: fp32, or bf16/fp16 as an opt-in that each version follows "
    "only once it was measured against fp32 on the demo set (until then it renders in fp32)"
)
FACES_HELP = "face filters: convert every face found (the largest first) or only the largest"
MARGIN_HELP = "face filters: crop side over the face box's larger side (1.8: the whole head)"
ALIGN_HELP = "face filters: turn each crop so the eyes are level"
METRICS_HELP = (
    "the training run's numbers as a JSON object of name → number, e.g. "
    f'{training_metrics.EXAMPLE}, or nested as {{"step": N, "metrics": {{…}}}}; '
    f"finite numbers only, at most {training_metrics.MAX_METRICS} names of "
    f"{training_metrics.MAX_NAME} characters"
)


def face_settings_public(filter_: Filter) -> dict[str, object]:
    """A filter's face options as its renders use them (the defaults where unset)."""
    face = FaceSettings.from_options(filter_.face_options)
    return {"faces": face.faces, "margin": face.margin, "align": face.align}


class FilterCreate(BaseModel):
    name: str = Field(max_length=120, examples=["Anime face"])
    slug: str | None = Field(None, max_length=63, description="made from the name when omitted")
    description: str = Field("", max_length=5000)
    pipeline: Pipeline = Pipeline.FULL
    input_size: Int64 = Field(512, description="longest side, in pixels, fed to the network")
    faces: FaceChoice | None = Field(None, description=FACES_HELP)
    margin: float | None = Field(None, gt=0, le=8, description=MARGIN_HELP)
    align: bool | None = Field(None, description=ALIGN_HELP)
    precision: PrecisionChoice | None = Field(None, description=PRECISION_HELP)


class FilterUpdate(BaseModel):
    archived: bool | None = Field(None, description="true hides it from lists and pickers")
    name: str | None = Field(None, max_length=120)
    description: str | None = Field(None, max_length=5000)
    pipeline: Pipeline | None = None
    input_size: Int64 | None = None
    faces: FaceChoice | None = Field(None, description=FACES_HELP)
    margin: float | None = Field(None, gt=0, le=8, description=MARGIN_HELP)
    align: bool | None = Field(None, description=ALIGN_HELP)
    precision: PrecisionChoice | None = Field(None, description=PRECISION_HELP)


@dataclass
class VersionPush:
    """The multipart form that pushes a version: the API's and the page's are one form.

    Fields left empty ("" from a page) mean "not given", as omitted ones do (see PushRequest).
    """

    checkpoint: Annotated[UploadFile, File(description="safetensors, TorchScript or state dict")]
    label: Annotated[str, Form(max_length=64)]
    parent: Annotated[str | None, Form(max_length=64, description="parent's label")] = None
    branch: Annotated[str | None, Form(max_length=64)] = None
    notes: Annotated[str, Form(max_length=20_000)] = ""
    architecture: Annotated[str | None, Form(max_length=64)] = None
    config: Annotated[str | None, Form(max_length=20_000, description="JSON object")] = None
    metrics: Annotated[str | None, Form(description=METRICS_HELP)] = None

    def push_request(self) -> PushRequest:
        """What the developer sent with the checkpoint, for the versions service."""
        return shaped(PushRequest, self, config_json=self.config, metrics_json=self.metrics)


class FilterPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str
    description: str
    pipeline: Pipeline
    input_size: int
    created_at: datetime
    version_count: int = 0
    production: str | None = Field(None, description="label of the production version")
    url: str = ""
    archived: bool = Field(False, description="hidden from lists and pickers")
    archived_at: datetime | None = None
    faces: FaceChoice = Field("all", description=FACES_HELP)
    margin: float = Field(DEFAULT_MARGIN, description=MARGIN_HELP)
    align: bool = Field(True, description=ALIGN_HELP)
    precision: PrecisionChoice = Field("fp32", description=PRECISION_HELP)


class CheckpointInfo(BaseModel):
    sha256: str
    filename: str
    size: int
    format: str
    url: str


class VersionStats(BaseModel):
    param_count: int
    gflops_512: float | None
    latency_ms_512: float = Field(
        description="median CPU latency at 512×512, measured once at push on the server's CPU "
        "(may include load from other work at that moment)"
    )


class VersionRef(BaseModel):
    id: int
    label: str


class PrecisionCheckPublic(BaseModel):
    """A measurement of the version in bf16/fp16 against fp32 on its filter's demo set."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    precision: ReducedChoice
    state: PrecisionCheckState = Field(description="queued, running, done or failed")
    max_diff: int | None = Field(
        description="the largest difference of an output pixel from fp32, 0–255"
    )
    mean_diff: float | None = Field(description="the mean difference from fp32, 0–255")
    samples: int = Field(description="demo samples measured")
    inputs: int = Field(description="network inputs compared (face filters: each face crop)")
    set_name: str = Field(description="the demo set it was measured on")
    device: str = Field(description="where it ran, e.g. cpu or cuda:0")
    error: str = Field(description="why it failed (state failed)")
    created_at: datetime
    measured_at: datetime | None


class RenderPrecisionPublic(BaseModel):
    chosen: PrecisionChoice = Field(description="the filter's precision")
    used: PrecisionChoice = Field(description="what this version's renders run in")
    reason: str = Field(description="why `used` is fp32 though the filter chose bf16/fp16")


class PrecisionCheckCreate(BaseModel):
    precision: ReducedChoice = Field(description="the reduced precision to measure against fp32")


class VersionPublic(BaseModel):
    id: int
    filter: str
    label: str
    parent: VersionRef | None
    branch: str
    notes: str
    status: VersionStatus
    architecture: str | None
    config: dict[str, Any]
    metrics: dict[str, int | float] = Field(
        description="the training run's numbers pushed with it ({} when none)"
    )
    input_channels: int
    checkpoint: CheckpointInfo
    stats: VersionStats
    created_at: datetime
    created_by: str | None
    url: str
    render_precision: RenderPrecisionPublic | None = Field(
        None, description="the precision its renders use under the filter's choice, and why"
    )
    precision_checks: list[PrecisionCheckPublic] = Field(
        default_factory=list,
        description="its newest measurements in bf16/fp16 against fp32, newest first",
    )


class VersionUpdate(BaseModel):
    notes: str | None = Field(None, max_length=20_000)
    status: VersionStatus | None = None
    reason: str = Field("", max_length=500, description="why the status changed")


class StatusChangePublic(BaseModel):
    from_status: VersionStatus | None
    to_status: VersionStatus
    at: datetime
    by: str | None
    reason: str


def filter_public(
    filter_: Filter, *, version_count: int = 0, production: str | None = None
) -> FilterPublic:
    return FilterPublic.model_validate(filter_).model_copy(
        update={
            "version_count": version_count,
            "production": production,
            "url": f"/filters/{filter_.slug}",
            "archived": filter_.archived_at is not None,
            **face_settings_public(filter_),
        }
    )


def summary_public(summary: FilterSummary) -> FilterPublic:
    return filter_public(
        summary.filter, version_count=summary.version_count, production=summary.production_label
    )


def precision_check_public(check: PrecisionCheck) -> PrecisionCheckPublic:
    return PrecisionCheckPublic.model_validate(check)


def render_precision_public(effective: Effective) -> RenderPrecisionPublic:
    return shaped(RenderPrecisionPublic, effective)


def version_public(
    version: Version, filter_slug: str, precision: VersionPrecision | None = None
) -> VersionPublic:
    """Shape a version (with parent and created_by loaded) for the API; `precision`: its
    Precision section (services/precision.version_precisions)."""
    return VersionPublic(
        id=version.id,
        filter=filter_slug,
        label=version.label,
        parent=VersionRef(id=version.parent.id, label=version.parent.label)
        if version.parent
        else None,
        branch=version.branch,
        notes=version.notes,
        status=version.status,
        architecture=version.architecture,
        config=version.config,
        metrics=version.training_metrics,
        input_channels=version.input_channels,
        checkpoint=CheckpointInfo(
            sha256=version.checkpoint_sha256,
            filename=version.checkpoint_filename,
            size=version.checkpoint_size,
            format=version.checkpoint_format,
            url=f"/api/v1/versions/{version.id}/checkpoint",
        ),
        stats=VersionStats(
            param_count=version.param_count,
            gflops_512=version.gflops_512,
            latency_ms_512=version.latency_ms_512,
        ),
        created_at=version.created_at,
        created_by=version.created_by.name if version.created_by else None,
        url=f"/versions/{version.id}",
        render_precision=render_precision_public(precision.effective) if precision else None,
        precision_checks=[precision_check_public(c) for c in precision.checks] if precision else [],
    )


def status_change_public(change: VersionStatusChange) -> StatusChangePublic:
    return StatusChangePublic(
        from_status=change.from_status,
        to_status=change.to_status,
        at=change.at,
        by=change.actor.name if change.actor else None,
        reason=change.reason,
    )
