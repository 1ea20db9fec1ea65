"""API: sample sets — create, list, read, rename, describe, archive, and their ordered samples."""

from fastapi import APIRouter, status

from ganstudio.services import sample_sets as sets_service
from ganstudio.services import samples as samples_service
from ganstudio.web.deps import QAUser, SessionDep, ViewerUser
from ganstudio.web.params import PageNumber, PerPage, RowId
from ganstudio.web.schemas import Page
from ganstudio.web.schemas.samples import ArchivedFilter
from ganstudio.web.schemas.sets import (
    SetAdd,
    SetCreate,
    SetDetail,
    SetMembers,
    SetPublic,
    SetReorder,
    SetUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["sample sets"])


@router.post("/sets", status_code=status.HTTP_201_CREATED)
def create_set(body: SetCreate, db: SessionDep, user: QAUser) -> SetDetail:
    """Create an empty sample set."""
    sample_set = sets_service.create_set(
        db, name=body.name, description=body.description, actor=user
    )
    db.commit()
    return SetDetail.of(sets_service.summarize(db, sample_set=sample_set))


@router.get("/sets")
def read_sets(
    db: SessionDep,
    user: ViewerUser,
    archived: ArchivedFilter = "false",
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> Page[SetPublic]:
    """List sample sets by name, with sample counts and cover thumbnails."""
    summaries, total = sets_service.list_sets(
        db, archived=samples_service.archived_choice(archived), page=page, per_page=per_page
    )
    return Page(
        items=[SetPublic.of(s) for s in summaries], total=total, page=page, per_page=per_page
    )


@router.get("/sets/{id}")
def read_set(id: RowId, db: SessionDep, user: ViewerUser) -> SetDetail:
    """Return one set with its sample ids in order."""
    return SetDetail.of(sets_service.summarize(db, sample_set=sets_service.get_set(db, set_id=id)))


@router.patch("/sets/{id}")
def update_set(id: RowId, body: SetUpdate, db: SessionDep, user: QAUser) -> SetDetail:
    """Rename, describe, archive or restore a set (sets are never deleted)."""
    sample_set = sets_service.get_set(db, set_id=id)
    sets_service.update_set(
        db,
        sample_set=sample_set,
        actor=user,
        name=body.name,
        description=body.description,
        archived=body.archived,
    )
    db.commit()
    return SetDetail.of(sets_service.summarize(db, sample_set=sample_set))


@router.put("/sets/{id}/samples")
def replace_set_samples(id: RowId, body: SetMembers, db: SessionDep, user: QAUser) -> SetDetail:
    """Make the set hold exactly these samples, in this order (add, remove, reorder)."""
    sample_set = sets_service.get_set(db, set_id=id)
    sets_service.replace_members(db, sample_set=sample_set, sample_ids=body.sample_ids, actor=user)
    db.commit()
    return SetDetail.of(sets_service.summarize(db, sample_set=sample_set))


@router.post("/sets/{id}/samples")
def add_set_samples(id: RowId, body: SetAdd, db: SessionDep, user: QAUser) -> SetDetail:
    """Append samples (by id, or every live sample with a tag) that the set lacks.

    They land in upload order (oldest first), after the set's samples.
    """
    sample_set = sets_service.get_set(db, set_id=id)
    sets_service.add_samples(
        db, sample_set=sample_set, sample_ids=body.sample_ids, tag=body.tag, actor=user
    )
    db.commit()
    return SetDetail.of(sets_service.summarize(db, sample_set=sample_set))


@router.post("/sets/{id}/samples/order")
def reorder_set_samples(id: RowId, body: SetReorder, db: SessionDep, user: QAUser) -> SetDetail:
    """Move samples to new positions (1 is first); the others keep their order around them."""
    sample_set = sets_service.get_set(db, set_id=id)
    sets_service.reorder(
        db,
        sample_set=sample_set,
        positions={move.sample_id: move.position for move in body.moves},
        actor=user,
    )
    db.commit()
    return SetDetail.of(sets_service.summarize(db, sample_set=sample_set))
