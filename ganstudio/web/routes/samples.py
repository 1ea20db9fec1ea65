"""Pages: the sample grid, uploading, one sample, bulk actions, tags."""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from ganstudio.services import faces as faces_service
from ganstudio.services import references as references_service
from ganstudio.services import sample_sets as sets_service
from ganstudio.services import samples as samples_service
from ganstudio.services.errors import InvalidInputError, ServiceError
from ganstudio.services.sample_uploads import ingest_uploads
from ganstudio.storage.images import BROWSER_FORMATS
from ganstudio.web.deps import BlobsDep, QAUser, SessionDep, SettingsDep, ViewerUser
from ganstudio.web.forms import refused, saved
from ganstudio.web.pagination import pager
from ganstudio.web.params import PageNumber, RowId
from ganstudio.web.urls import local_url

router = APIRouter(tags=["pages"], include_in_schema=False)
GRID_PAGE = 60


@router.get("/samples")
def read_samples(
    request: Request,
    db: SessionDep,
    user: ViewerUser,
    tag: Annotated[list[str], Query()] = [],  # noqa: B006
    sample_set: Annotated[str, Query(alias="set", max_length=200)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    archived: Annotated[str, Query(max_length=10)] = "false",
    page: PageNumber = 1,
) -> Response:
    """Show the thumbnail grid with filters and bulk actions."""
    tags = samples_service.tag_filter(tag)
    chosen_set = sets_service.resolve_set(db, ref=sample_set, actor=None) if sample_set else None
    query = samples_service.SampleQuery(
        tags=tuple(tags),
        sample_set=chosen_set,
        q=q.strip(),
        archived=samples_service.archived_choice(archived),
    )
    items, total = samples_service.list_samples(db, query=query, page=page, per_page=GRID_PAGE)
    filters = [("tag", t) for t in tags] + [
        (key, value)
        for key, value in (("set", sample_set), ("q", q.strip()), ("archived", archived))
        if value and not (key == "archived" and value == "false")
    ]

    def tag_url(name: str) -> str:
        chosen = [t for t in tags if t != name] if name in tags else [*tags, name]
        kept = [(k, v) for k, v in filters if k != "tag"]
        return "/samples?" + urlencode([("tag", t) for t in chosen] + kept)

    return request.app.state.pages.render(
        request,
        "samples/grid.html",
        {
            "samples": items,
            **pager(page=page, total=total, per_page=GRID_PAGE, base_query=urlencode(filters)),
            "tags": tags,
            "tag_counts": samples_service.tag_counts(db),
            "sets": sets_service.all_sets(db),
            "chosen_set": chosen_set,
            "q": q,
            "archived": archived,
            "filters_query": urlencode(filters),
            "filtered": bool(filters),
            "tag_url": tag_url,
            "here": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        },
    )


@router.get("/samples/upload")
def read_upload(
    request: Request,
    db: SessionDep,
    user: QAUser,
    sample_set: Annotated[str, Query(alias="set")] = "",
) -> Response:
    """Show the drop zone: drag images or .zip archives here (or pick them)."""
    return request.app.state.pages.render(
        request,
        "samples/upload.html",
        {"sets": sets_service.all_sets(db), "chosen_set": sample_set},
    )


@router.post("/samples/upload")
def create_samples(
    request: Request,
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    user: QAUser,
    files: Annotated[list[UploadFile], File()],
    tags: Annotated[str, Form(max_length=2000)] = "",
    sample_set: Annotated[str, Form(alias="set", max_length=200)] = "",
) -> Response:
    """Upload from the plain form (without JavaScript) and show each file's result."""
    outcome, target = ingest_uploads(
        db,
        blobs,
        settings,
        files=[(f.file, f.filename or "") for f in files if f.filename],
        tags=tags,
        set_ref=sample_set,
        actor=user,
    )
    db.commit()
    return request.app.state.pages.render(
        request, "samples/upload_result.html", {"outcome": outcome, "sample_set": target}
    )


@router.post("/samples/upload/pairs")
def create_sample_pairs(
    request: Request,
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    user: QAUser,
    file: Annotated[UploadFile, File()],
    tags: Annotated[str, Form(max_length=2000)] = "",
    sample_set: Annotated[str, Form(alias="set", max_length=200)] = "",
) -> Response:
    """Upload a zip of input/ and target/ pairs and show what happened to each file."""
    try:
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
    except ServiceError as exc:
        return refused(request, db, exc, "/samples/upload#pairs")
    db.commit()
    return request.app.state.pages.render(
        request,
        "samples/upload_result.html",
        {"outcome": outcome.upload, "pairs": outcome, "sample_set": target},
    )


@router.post("/samples/bulk")
def bulk_update_samples(
    request: Request,
    db: SessionDep,
    user: QAUser,
    action: Annotated[str, Form(max_length=20)],
    ids: Annotated[list[RowId], Form()] = [],  # noqa: B006
    tags: Annotated[str, Form(max_length=2000)] = "",
    sample_set: Annotated[str, Form(alias="set", max_length=200)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=2000)] = "/samples",
) -> Response:
    """Apply one action to the selected samples: tag, untag, archive, restore, add to a set."""
    if action not in ("tag", "untag", "archive", "restore", "add_to_set"):
        raise InvalidInputError(
            f"Unknown action '{action[:20]}'; choose tag, untag, archive, restore or add_to_set."
        )
    outcome = sets_service.bulk_update_samples(
        db,
        sample_ids=ids,
        actor=user,
        add=[tags] if action == "tag" else None,
        remove=[tags] if action == "untag" else None,
        archived={"archive": True, "restore": False}.get(action),
        set_ref=sample_set if action == "add_to_set" else None,
    )
    if outcome.sample_set is not None:  # show the set they joined
        url = f"/sets/{outcome.sample_set.id}"
    else:
        url = local_url(next_url, "/samples")
    return saved(request, db, outcome.message, url)


@router.get("/samples/{id}")
def read_sample(request: Request, id: RowId, db: SessionDep, user: ViewerUser) -> Response:
    """Show one sample: full image, metadata, tags, sets, mask and note."""
    sample = samples_service.get_sample(db, sample_id=id)
    memberships = sorted(sample.memberships, key=lambda m: m.sample_set.name.lower())
    return request.app.state.pages.render(
        request,
        "samples/detail.html",
        {
            "sample": sample,
            "memberships": memberships,
            "displayable": sample.format in BROWSER_FORMATS,
            "sets": sets_service.all_sets(db),
            "faces": faces_service.faces_view(db, sample=sample),
            "reference_rule": references_service.SIZE_RULE,
        },
    )


# One route for the sample page's small forms: each sends just the field it edits.
@router.post("/samples/{id}/tags")
@router.post("/samples/{id}/tags/remove")
@router.post("/samples/{id}/note")
@router.post("/samples/{id}/archive")
def edit_sample(
    request: Request,
    id: RowId,
    db: SessionDep,
    user: QAUser,
    tags: Annotated[str, Form(max_length=2000, description="comma-separated, to add")] = "",
    tag: Annotated[str, Form(max_length=200, description="one tag to take off")] = "",
    note: Annotated[str | None, Form(max_length=10_000)] = None,
    archived: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """Add tags, take one off, save the note, or archive (hide from the grid) or restore.

    Samples are never deleted.
    """
    sample = samples_service.get_sample(db, sample_id=id)
    samples_service.update_sample(
        db,
        sample=sample,
        actor=user,
        add=[tags] if tags else (),
        remove=[tag] if tag else (),
        note=note,
        archived=None if archived is None else archived == "true",
    )
    if note is not None:
        message = "Note saved."
    elif archived is not None:
        message = "Archived." if sample.archived else "Restored."
    else:  # tags show on the page itself
        message = None
    return saved(request, db, message, f"/samples/{id}")


@router.post("/samples/{id}/mask")
def upload_sample_mask(
    request: Request,
    id: RowId,
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    user: QAUser,
    mask: Annotated[UploadFile, File()],
) -> Response:
    """Attach or replace the sample's grayscale mask."""
    samples_service.attach_mask(db, blobs, settings, sample_id=id, stream=mask.file, actor=user)
    return saved(request, db, "Mask saved.", f"/samples/{id}")


@router.post("/samples/{id}/reference")
def upload_sample_reference(
    request: Request,
    id: RowId,
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    user: QAUser,
    reference: Annotated[UploadFile, File()],
) -> Response:
    """Attach or replace the sample's reference image (refused, with why, if misshapen)."""
    try:
        references_service.attach_reference(
            db, blobs, settings, sample_id=id, stream=reference.file, actor=user
        )
    except InvalidInputError as exc:
        return refused(request, db, exc, f"/samples/{id}")
    return saved(
        request,
        db,
        "Reference saved; the worker measures the renders against it.",
        f"/samples/{id}",
    )


@router.post("/samples/{id}/reference/remove")
def remove_sample_reference(request: Request, id: RowId, db: SessionDep, user: QAUser) -> Response:
    """Take the reference off the sample."""
    references_service.remove_reference(db, sample_id=id, actor=user)
    return saved(request, db, "Reference removed.", f"/samples/{id}")


@router.get("/tags")
def read_tags(request: Request, db: SessionDep, user: ViewerUser) -> Response:
    """List tags with counts; QA can rename (or merge) them."""
    return request.app.state.pages.render(
        request,
        "samples/tags.html",
        {"tag_counts": samples_service.tag_counts(db), "is_system": samples_service.is_system_tag},
    )


@router.post("/tags/rename")
def rename_tag(
    request: Request,
    db: SessionDep,
    user: QAUser,
    name: Annotated[str, Form(max_length=200)],
    new_name: Annotated[str, Form(max_length=200)],
) -> Response:
    """Rename a tag everywhere (onto an existing name: merge)."""
    tag = samples_service.rename_tag(db, name=name, new_name=new_name, actor=user)
    return saved(request, db, f"Renamed the tag to '{tag.name}'.", "/tags")
