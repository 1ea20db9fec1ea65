"""Pages: sample sets — list with covers, one set's ordered samples, and QA's edits."""

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from ganstudio.services import faces as faces_service
from ganstudio.services import sample_sets as sets_service
from ganstudio.services import samples as samples_service
from ganstudio.services.errors import InvalidInputError
from ganstudio.web.deps import QAUser, SessionDep, ViewerUser
from ganstudio.web.forms import saved
from ganstudio.web.pagination import pager
from ganstudio.web.params import Int64, PageNumber, RowId
from ganstudio.web.schemas.faces import MaskJobPublic

router = APIRouter(tags=["pages"], include_in_schema=False)
SET_PAGE = 200
SETS_PAGE = 100


@router.get("/sets")
def read_sets(
    request: Request,
    db: SessionDep,
    user: ViewerUser,
    archived: Annotated[str, Query(max_length=10)] = "false",
    page: PageNumber = 1,
) -> Response:
    """List sample sets with counts and a few cover thumbnails."""
    show_archived = archived == "true"
    summaries, total = sets_service.list_sets(
        db, archived=show_archived, page=page, per_page=SETS_PAGE
    )
    return request.app.state.pages.render(
        request,
        "sets/list.html",
        {
            "summaries": summaries,
            **pager(
                page=page,
                total=total,
                per_page=SETS_PAGE,
                base_query="archived=true" if show_archived else "",
            ),
            "show_archived": show_archived,
        },
    )


@router.post("/sets")
def create_set(
    request: Request,
    db: SessionDep,
    user: QAUser,
    name: Annotated[str, Form(max_length=200)],
    description: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Create an empty set and open it."""
    sample_set = sets_service.create_set(db, name=name, description=description, actor=user)
    return saved(
        request,
        db,
        f"Created the set '{sample_set.name}'. Add samples from the grid or by tag.",
        f"/sets/{sample_set.id}",
        level="info",
    )


@router.get("/sets/{id}")
def read_set(
    request: Request,
    id: RowId,
    db: SessionDep,
    user: ViewerUser,
    page: PageNumber = 1,
) -> Response:
    """Show a set's samples in order, with QA's controls to reorder, remove and add."""
    sample_set = sets_service.get_set(db, set_id=id)
    job = faces_service.latest_mask_job(db, set_id=sample_set.id)
    members, total = samples_service.list_samples(
        db,
        query=samples_service.SampleQuery(sample_set=sample_set, archived=None),
        page=page,
        per_page=SET_PAGE,
    )
    return request.app.state.pages.render(
        request,
        "sets/detail.html",
        {
            "sample_set": sample_set,
            "members": members,
            **pager(page=page, total=total, per_page=SET_PAGE),
            "offset": (page - 1) * SET_PAGE,
            "tag_counts": samples_service.tag_counts(db),
            "mask_job": MaskJobPublic.of(job) if job else None,
        },
    )


# The set page's edit form and its archive button: each sends just the fields it edits.
@router.post("/sets/{id}")
@router.post("/sets/{id}/archive")
def update_set(
    request: Request,
    id: RowId,
    db: SessionDep,
    user: QAUser,
    name: Annotated[str | None, Form(max_length=200)] = None,
    description: Annotated[str | None, Form(max_length=5000)] = None,
    archived: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """Rename and describe a set, or archive or restore it (sets are never deleted)."""
    sample_set = sets_service.get_set(db, set_id=id)
    sets_service.update_set(
        db,
        sample_set=sample_set,
        actor=user,
        name=name,
        description=description,
        archived=None if archived is None else archived == "true",
    )
    if archived is None:
        message = "Saved."
    else:
        word = "Archived" if sample_set.archived else "Restored"
        message = f"{word} the set '{sample_set.name}'."
    return saved(request, db, message, f"/sets/{id}")


@router.post("/sets/{id}/add")
def add_to_set(
    request: Request,
    id: RowId,
    db: SessionDep,
    user: QAUser,
    tag: Annotated[str, Form(max_length=200)] = "",
    ids: Annotated[list[RowId], Form()] = [],  # noqa: B006
) -> Response:
    """Append every live sample with a tag (or chosen ids) that the set lacks."""
    if not tag.strip() and not ids:
        raise InvalidInputError("Pick a tag whose samples should join the set.")
    sample_set = sets_service.get_set(db, set_id=id)
    added = sets_service.add_samples(db, sample_set=sample_set, sample_ids=ids, tag=tag, actor=user)
    return saved(request, db, f"Added {added} sample(s).", f"/sets/{id}")


@router.post("/sets/{id}/order")
def reorder_set(
    request: Request,
    id: RowId,
    db: SessionDep,
    user: QAUser,
    sample_id: Annotated[list[RowId], Form()] = [],  # noqa: B006
    position: Annotated[list[Int64], Form()] = [],  # noqa: B006
) -> Response:
    """Move samples to the typed positions (the page's drag and drop sends them all)."""
    if not sample_id or len(sample_id) != len(position):
        raise InvalidInputError(
            "Send each sample's new position (a number, 1 is first); reload the set's page."
        )
    sample_set = sets_service.get_set(db, set_id=id)
    sets_service.reorder(
        db,
        sample_set=sample_set,
        positions=dict(zip(sample_id, position, strict=True)),
        actor=user,
    )
    return saved(request, db, "Saved the order.", f"/sets/{id}")


@router.post("/sets/{id}/remove")
def remove_from_set(
    request: Request,
    id: RowId,
    db: SessionDep,
    user: QAUser,
    sample_id: Annotated[RowId, Form()],
) -> Response:
    """Take a sample out of the set (it stays in the library)."""
    sample_set = sets_service.get_set(db, set_id=id)
    sets_service.refuse_if_archived(sample_set)
    sets_service.remove_samples(db, sample_set=sample_set, sample_ids=[sample_id], actor=user)
    return saved(request, db, f"Removed sample {sample_id} from the set.", f"/sets/{id}")
