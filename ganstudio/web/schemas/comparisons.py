"""JSON shapes of comparisons, renders and jobs."""

from datetime import datetime

from pydantic import BaseModel, Field

from ganstudio.vocabulary import JobKind, JobStatus, RenderState, VersionStatus
from ganstudio.web.params import RowId


class JobPublic(BaseModel):
    id: int
    kind: JobKind
    title: str
    status: JobStatus
    total: int
    done: int
    failed: int
    running: int
    queued: int
    percent: int
    errors: list[dict[str, object]] = Field(description="failed renders and why (first 50)")
    created_at: datetime


class ComparisonCreate(BaseModel):
    filter: str = Field(description="the filter's slug")
    versions: list[str | RowId] | None = Field(
        None, description="2–8 labels or ids; default: production + newest of each branch"
    )
    set: str | RowId | None = Field(None, description="a sample set's id or name")
    samples: list[RowId] | None = Field(None, description="sample ids, instead of a set")
    tags: list[str] | str | None = Field(None, description="only samples with all these tags")
    title: str = Field("", max_length=200)


class ComparisonCreated(BaseModel):
    id: int
    slug: str
    url: str
    title: str
    job: JobPublic


class ColumnPublic(BaseModel):
    id: int
    label: str
    branch: str
    status: VersionStatus


class RowPublic(BaseModel):
    id: int
    filename: str
    input_url: str
    thumb_url: str


class CellPublic(BaseModel):
    version_id: int
    sample_id: int
    state: RenderState
    error: str | None
    render_url: str | None
    thumb_url: str | None
    duration_ms: float | None


class ComparisonPublic(BaseModel):
    id: int
    slug: str
    url: str
    title: str
    filter: str
    created_at: datetime
    created_by: str | None
    versions: list[ColumnPublic]
    samples: list[RowPublic]
    cells: list[CellPublic]
    job: JobPublic | None
