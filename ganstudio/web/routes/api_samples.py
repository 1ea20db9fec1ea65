"""API: upload, list, read and edit samples; masks; tags with counts."""

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile

from ganstudio.services import references as references_service
from ganstudio.services import sample_sets as sets_service
from ganstudio.services import samples as samples_service
from ganstudio.services.sample_uploads import ingest_uploads
from ganstudio.web.deps import BlobsDep, QAUser, SessionDep, SettingsDep, ViewerUser
from ganstudio.web.params import PageNumber, PerPage, RowId
from ganstudio.web.schemas import Page
from ganstudio.web.schemas.samples import (
    ArchivedFilter,
    BulkUpdated,
    PairsResult,
    SampleDetail,
    SamplePublic,
    SamplesBulkUpdate,
    SampleUpdate,
    SetRef,
    TagPublic,
    TagRename,
    UploadResult,
)

router = APIRouter(prefix="/api/v1", tags=["samples"])


@router.post("/samples")
def create_samples(
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    user: QAUser,
    files: Annotated[list[UploadFile], File(description="images and/or .zip archives")],
    tags: Annotated[str, Form(max_length=2000, description="comma-separated")] = "",
    sample_set: Annotated[str, Form(alias="set", max_length=200, description="id or name")] = "",
) -> UploadResult:
    """Upload images or .zip archives; each file is created, found existing, or rejected."""
    outcome, target = ingest_uploads(
        db,
        blobs,
        settings,
        files=[(f.file, f.filename or "") for f in files],
        tags=tags,
        set_ref=sample_set,
        actor=user,
    )
    db.commit()
    return UploadResult.of(outcome, target)


@router.post("/samples/pairs")
def create_sample_pairs(
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    user: QAUser,
    file: Annotated[UploadFile, File(description="a .zip with input/NAME and target/NAME")],
    tags: Annotated[str, Form(max_length=2000, description="comma-separated")] = "",
    sample_set: Annotated[str, Form(alias="set", max_length=200, description="id or name")] = "",
) -> PairsResult:
    """Upload samples with their references: `input/` and `target/` files paired by name.

    Matched inputs go in as `POST /samples` would take them, each with its target as its
    reference; unmatched names are listed (`inputs_without_target`, `targets_without_input`).
    """
    outcome, target = references_service.ingest_pairs(
        db,
        blobs,
        settings,
        stream=file.file,
        filename=file.filename or "",
        tags=tags,
        set_ref=sample_set,
        actor=user,
    )
    db.commit()
    return PairsResult.of_pairs(outcome, target)


@router.get("/samples")
def read_samples(
    db: SessionDep,
    user: ViewerUser,
    tag: Annotated[list[str], Query(description="repeat or comma-separate: all must match")] = [],  # noqa: B006
    sample_set: Annotated[str | None, Query(alias="set", description="set id or name")] = None,
    q: Annotated[str, Query(max_length=200, description="part of the file name")] = "",
    archived: ArchivedFilter = "false",
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> Page[SamplePublic]:
    """List samples, newest first (or in set order when `set` is given)."""
    query = samples_service.SampleQuery(
        tags=tuple(samples_service.tag_filter(tag)),
        sample_set=sets_service.resolve_set(db, ref=sample_set, actor=None) if sample_set else None,
        q=q.strip(),
        archived=samples_service.archived_choice(archived),
    )
    items, total = samples_service.list_samples(db, query=query, page=page, per_page=per_page)
    return Page(
        items=[SamplePublic.of(s) for s in items], total=total, page=page, per_page=per_page
    )


@router.get("/samples/{id}")
def read_sample(id: RowId, db: SessionDep, user: ViewerUser) -> SampleDetail:
    """Return one sample with its tags, sets and mask."""
    return SampleDetail.of(samples_service.get_sample(db, sample_id=id))


@router.patch("/samples/{id}")
def update_sample(id: RowId, body: SampleUpdate, db: SessionDep, user: QAUser) -> SampleDetail:
    """Edit tags (replace, add, remove), the note, or archive/restore (never delete)."""
    sample = samples_service.get_sample(db, sample_id=id)
    samples_service.update_sample(
        db,
        sample=sample,
        actor=user,
        tags=body.tags,
        add=body.add_tags,
        remove=body.remove_tags,
        note=body.note,
        archived=body.archived,
    )
    db.commit()
    return SampleDetail.of(samples_service.get_sample(db, sample_id=id))


@router.put("/samples/{id}/mask")
def put_sample_mask(
    id: RowId,
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    user: QAUser,
    mask: Annotated[UploadFile, File(description="grayscale image of the sample's size")],
) -> SampleDetail:
    """Attach or replace the sample's mask (any image; stored as 8-bit grayscale PNG)."""
    samples_service.attach_mask(db, blobs, settings, sample_id=id, stream=mask.file, actor=user)
    db.commit()
    return SampleDetail.of(samples_service.get_sample(db, sample_id=id))


@router.put("/samples/{id}/reference")
def put_sample_reference(
    id: RowId,
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    user: QAUser,
    reference: Annotated[UploadFile, File(description="the target image: the sample's shape")],
) -> SampleDetail:
    """Attach or replace the sample's reference (target) image, kept as uploaded.

    Its aspect ratio must be within 2% of the sample's (else 422 saying both sizes); PSNR and
    SSIM then compare each render with it, resized to the render's size with Lanczos.
    """
    references_service.attach_reference(
        db, blobs, settings, sample_id=id, stream=reference.file, actor=user
    )
    db.commit()
    return SampleDetail.of(samples_service.get_sample(db, sample_id=id))


@router.delete("/samples/{id}/reference")
def delete_sample_reference(id: RowId, db: SessionDep, user: QAUser) -> SampleDetail:
    """Take the reference off the sample (metrics already computed stay stored)."""
    references_service.remove_reference(db, sample_id=id, actor=user)
    db.commit()
    return SampleDetail.of(samples_service.get_sample(db, sample_id=id))


@router.post("/samples/bulk")
def bulk_update_samples(body: SamplesBulkUpdate, db: SessionDep, user: QAUser) -> BulkUpdated:
    """Tag, untag, archive or restore many samples at once, and/or add them to a set."""
    outcome = sets_service.bulk_update_samples(
        db,
        sample_ids=body.ids,
        actor=user,
        add=body.add_tags or None,
        remove=body.remove_tags or None,
        archived=body.archived,
        set_ref=str(body.set) if body.set is not None else None,
    )
    db.commit()
    return BulkUpdated(
        updated=outcome.count,
        message=outcome.message,
        set=SetRef.of(outcome.sample_set) if outcome.sample_set else None,
    )


@router.get("/tags")
def read_tags(db: SessionDep, user: ViewerUser) -> list[TagPublic]:
    """List every tag with how many live samples carry it."""
    return [TagPublic(name=t.name, count=t.count) for t in samples_service.tag_counts(db)]


@router.patch("/tags/{name:path}")  # a tag may hold a "/"
def rename_tag(name: str, body: TagRename, db: SessionDep, user: QAUser) -> TagPublic:
    """Rename a tag on every sample; renaming onto an existing tag merges them."""
    tag = samples_service.rename_tag(db, name=name, new_name=body.name, actor=user)
    db.commit()
    counts = {t.name: t.count for t in samples_service.tag_counts(db)}
    return TagPublic(name=tag.name, count=counts.get(tag.name, 0))
