"""JSON shapes of filters and their versions."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ganstudio.vocabulary import Pipeline, VersionStatus
from ganstudio.web.params import Int64


class FilterCreate(BaseModel):
    name: str = Field(max_length=120, examples=["Anime face"])
    slug: str | None = Field(None, max_length=63, description="made from the name when omitted")
    description: str = Field("", max_length=5000)
    pipeline: Pipeline = Pipeline.FULL
    input_size: Int64 = Field(512, description="longest side, in pixels, fed to the network")


class FilterUpdate(BaseModel):
    name: str | None = Field(None, max_length=120)
    description: str | None = Field(None, max_length=5000)
    pipeline: Pipeline | None = None
    input_size: Int64 | None = None


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


class CheckpointInfo(BaseModel):
    sha256: str
    filename: str
    size: int
    format: str
    url: str


class VersionStats(BaseModel):
    param_count: int
    gflops_512: float | None
    latency_ms_512: float = Field(description="median CPU latency at 512×512 on the server")


class VersionRef(BaseModel):
    id: int
    label: str


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
    input_channels: int
    checkpoint: CheckpointInfo
    stats: VersionStats
    created_at: datetime
    created_by: str | None
    url: str


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
