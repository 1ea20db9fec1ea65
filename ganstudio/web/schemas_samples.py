"""JSON shapes of the sample library API: samples, tags, sample sets, upload results."""

from datetime import datetime

from pydantic import BaseModel, Field

from ganstudio.db.tables import Sample, SampleSet
from ganstudio.services.sample_sets import SetSummary
from ganstudio.web.params import RowId


def blob_url(sha256: str | None) -> str | None:
    return f"/blobs/{sha256}" if sha256 else None


class SetRef(BaseModel):
    id: int
    name: str
    archived: bool


class SamplePublic(BaseModel):
    id: int
    sha256: str
    filename: str
    format: str
    mode: str = Field(description="Pillow mode as uploaded (RGB, CMYK, I;16, P, RGBA …)")
    width: int = Field(description="after EXIF orientation")
    height: int
    size_bytes: int
    tags: list[str]
    note: str
    archived: bool
    created_at: datetime
    image_url: str = Field(description="the original bytes, as uploaded")
    thumbnail_url: str = Field(description="a WebP thumbnail, longest side 320 px")
    mask_url: str | None = Field(description="the grayscale mask (8-bit PNG), if any")

    @classmethod
    def of(cls, sample: Sample) -> "SamplePublic":
        return cls(
            id=sample.id,
            sha256=sample.sha256,
            filename=sample.filename,
            format=sample.format,
            mode=sample.mode,
            width=sample.width,
            height=sample.height,
            size_bytes=sample.size_bytes,
            tags=[t.name for t in sample.tags],
            note=sample.note,
            archived=sample.archived,
            created_at=sample.created_at,
            image_url=f"/blobs/{sample.sha256}",
            thumbnail_url=f"/blobs/{sample.thumb_sha256}",
            mask_url=blob_url(sample.mask_sha256),
        )


class SampleDetail(SamplePublic):
    sets: list[SetRef]

    @classmethod
    def of(cls, sample: Sample) -> "SampleDetail":
        sets = sorted(
            (
                SetRef(id=m.sample_set.id, name=m.sample_set.name, archived=m.sample_set.archived)
                for m in sample.memberships
            ),
            key=lambda ref: ref.name.lower(),
        )
        return cls(**SamplePublic.of(sample).model_dump(), sets=sets)


class SampleUpdate(BaseModel):
    tags: list[str] | None = Field(None, description="replace all tags with these")
    add_tags: list[str] = Field(default_factory=list, max_length=100)
    remove_tags: list[str] = Field(default_factory=list, max_length=100)
    note: str | None = Field(None, max_length=10_000)
    archived: bool | None = None


class SamplesBulkUpdate(BaseModel):
    ids: list[RowId] = Field(min_length=1, max_length=10_000)
    add_tags: list[str] = Field(default_factory=list, max_length=100)
    remove_tags: list[str] = Field(default_factory=list, max_length=100)
    archived: bool | None = None


class UploadAccepted(BaseModel):
    id: int
    filename: str


class UploadRejected(BaseModel):
    filename: str
    reason: str


class UploadResult(BaseModel):
    created: list[UploadAccepted]
    existing: list[UploadAccepted] = Field(description="same bytes already stored; tags added")
    rejected: list[UploadRejected]
    set: SetRef | None = None


class TagPublic(BaseModel):
    name: str
    count: int = Field(description="live (not archived) samples carrying it")


class TagRename(BaseModel):
    name: str = Field(max_length=200, description="the new name; an existing name merges")


class SetCreate(BaseModel):
    name: str = Field(max_length=200, examples=["closed eyes"])
    description: str = Field("", max_length=5_000)


class SetUpdate(BaseModel):
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=5_000)
    archived: bool | None = None


class SetMembers(BaseModel):
    sample_ids: list[RowId] = Field(max_length=100_000, description="the set's samples, in order")


class SetAdd(BaseModel):
    sample_ids: list[RowId] = Field(default_factory=list, max_length=100_000)
    tag: str | None = Field(None, max_length=200, description="add every live sample with it")


class SetPublic(BaseModel):
    id: int
    name: str
    description: str
    archived: bool
    sample_count: int
    cover_urls: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, summary: SetSummary) -> "SetPublic":
        s: SampleSet = summary.sample_set
        return cls(
            id=s.id,
            name=s.name,
            description=s.description,
            archived=s.archived,
            sample_count=summary.count,
            cover_urls=[f"/blobs/{sha}" for sha in summary.covers],
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class SetDetail(SetPublic):
    sample_ids: list[int] = Field(description="in the set's order")
