"""JSON shapes of the sample library API: samples, tags, upload results."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ganstudio.db.tables import Sample, SampleSet
from ganstudio.services.references import PairsOutcome
from ganstudio.services.sample_uploads import UploadOutcome
from ganstudio.web.params import RowId
from ganstudio.web.schemas import shaped
from ganstudio.web.urls import blob_url

ArchivedFilter = Literal["false", "true", "all"]


class SetRef(BaseModel):
    id: int
    name: str
    archived: bool

    @classmethod
    def of(cls, sample_set: SampleSet) -> "SetRef":
        return cls(id=sample_set.id, name=sample_set.name, archived=sample_set.archived)


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
    mask_source: Literal["uploaded", "landmarks"] | None = Field(
        description="uploaded: by hand; landmarks: generated from the face analysis"
    )
    reference_url: str | None = Field(
        None, description="the reference (target) image metrics compare renders with, if any"
    )

    @classmethod
    def of(cls, sample: Sample) -> "SamplePublic":
        return shaped(
            SamplePublic,
            sample,
            tags=[t.name for t in sample.tags],
            image_url=blob_url(sample.sha256),
            thumbnail_url=blob_url(sample.thumb_sha256),
            mask_url=blob_url(sample.mask_sha256),
            reference_url=blob_url(sample.reference_sha256),
        )


class SampleDetail(SamplePublic):
    sets: list[SetRef]

    @classmethod
    def of(cls, sample: Sample) -> "SampleDetail":
        sets = sorted(
            (SetRef.of(m.sample_set) for m in sample.memberships),
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
    set: str | RowId | None = Field(
        None, description="also add the samples to this set (id or name; made if new)"
    )


class BulkUpdated(BaseModel):
    updated: int = Field(description="how many samples were selected")
    message: str = Field(description="what was done")
    set: SetRef | None = Field(None, description="the set the samples were added to")


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

    @classmethod
    def of(cls, outcome: UploadOutcome, sample_set: SampleSet | None) -> "UploadResult":
        return cls(
            created=[UploadAccepted(id=a.id, filename=a.filename) for a in outcome.created],
            existing=[UploadAccepted(id=a.id, filename=a.filename) for a in outcome.existing],
            rejected=[
                UploadRejected(filename=r.filename, reason=r.reason) for r in outcome.rejected
            ],
            set=SetRef.of(sample_set) if sample_set is not None else None,
        )


class TagPublic(BaseModel):
    name: str
    count: int = Field(description="live (not archived) samples carrying it")


class TagRename(BaseModel):
    name: str = Field(max_length=200, description="the new name; an existing name merges")


class PairsResult(UploadResult):
    references: list[UploadAccepted] = Field(
        description="samples that got their reference: the sample's id, the target's name"
    )
    inputs_without_target: list[str] = Field(description="input/ files with no target of the name")
    targets_without_input: list[str] = Field(description="target/ files with no input of the name")

    @classmethod
    def of_pairs(cls, outcome: PairsOutcome, sample_set: SampleSet | None) -> "PairsResult":
        return cls(
            **UploadResult.of(outcome.upload, sample_set).model_dump(),
            references=[UploadAccepted(id=a.id, filename=a.filename) for a in outcome.references],
            inputs_without_target=outcome.inputs_without_target,
            targets_without_input=outcome.targets_without_input,
        )
