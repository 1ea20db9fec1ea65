"""Sample sets: ordered, named collections of samples, curated by QA; archived, never deleted."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ganstudio.db.base import parse_id, utcnow
from ganstudio.db.tables import Sample, SampleSet, SampleSetMember, Tag, User, sample_tags
from ganstudio.services import audit
from ganstudio.services import samples as samples_service
from ganstudio.services.errors import ConflictError, InvalidInputError, NotFoundError

MAX_NAME_CHARS = 80
MAX_DESCRIPTION_CHARS = 5_000
COVER_COUNT = 4


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInputError("Give the sample set a name, e.g. 'closed eyes'.")
    if len(cleaned) > MAX_NAME_CHARS:
        raise InvalidInputError(f"A set name has at most {MAX_NAME_CHARS} characters.")
    if cleaned.isdigit():
        raise InvalidInputError("A set name needs a letter (plain numbers are read as set ids).")
    return cleaned


def _check_free(session: Session, name: str, *, other_than: int | None = None) -> None:
    # lower() on both sides: SQLite folds only ASCII, so Python's str.lower() would miss "À".
    clash = session.scalar(select(SampleSet).where(func.lower(SampleSet.name) == func.lower(name)))
    if clash is not None and clash.id != other_than:
        raise ConflictError(
            f"A sample set named '{clash.name}' already exists (id {clash.id}); pick another name."
        )


def create_set(
    session: Session, *, name: str, description: str = "", actor: User | None
) -> SampleSet:
    """Create an empty sample set."""
    name = _clean_name(name)
    _check_free(session, name)
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidInputError(f"A description has at most {MAX_DESCRIPTION_CHARS:,} characters.")
    sample_set = SampleSet(
        name=name, description=description.strip(), created_by_id=actor.id if actor else None
    )
    session.add(sample_set)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="set.create",
        subject_type="sample_set",
        subject_id=sample_set.id,
        name=name,
    )
    return sample_set


def get_set(session: Session, *, set_id: int) -> SampleSet:
    sample_set = session.get(SampleSet, set_id)
    if sample_set is None:
        raise NotFoundError(f"There is no sample set {set_id}. See /sets for the list.")
    return sample_set


def resolve_set(
    session: Session, *, ref: str, actor: User | None, create_missing: bool = False
) -> SampleSet:
    """Find a set by id ("12") or name (any case); create it by that name when asked."""
    ref = ref.strip()
    if ref.isdigit():  # a number names an id, never a set (see _clean_name)
        set_id = parse_id(ref)
        if set_id is None:
            raise NotFoundError(f"There is no sample set {ref[:30]}. See /sets for the list.")
        return get_set(session, set_id=set_id)
    found = session.scalar(
        select(SampleSet).where(func.lower(SampleSet.name) == func.lower(" ".join(ref.split())))
    )
    if found is not None:
        return found
    if create_missing:
        return create_set(session, name=ref, actor=actor)
    raise NotFoundError(f"No sample set is named '{ref[:80]}'. Create it first on /sets.")


def update_set(
    session: Session,
    *,
    sample_set: SampleSet,
    actor: User | None,
    name: str | None = None,
    description: str | None = None,
    archived: bool | None = None,
) -> SampleSet:
    """Rename, describe, archive or restore a set."""
    changes: dict[str, object] = {}
    if name is not None and name.strip() != sample_set.name:
        name = _clean_name(name)
        _check_free(session, name, other_than=sample_set.id)
        changes["name"] = [sample_set.name, name]
        sample_set.name = name
    if description is not None and description.strip() != sample_set.description:
        if len(description) > MAX_DESCRIPTION_CHARS:
            raise InvalidInputError(
                f"A description has at most {MAX_DESCRIPTION_CHARS:,} characters."
            )
        sample_set.description = description.strip()
        changes["description"] = True
    if archived is not None and archived != sample_set.archived:
        sample_set.archived = archived
        changes["archived"] = archived
    if changes:
        audit.record(
            session,
            actor=actor,
            action="set.update",
            subject_type="sample_set",
            subject_id=sample_set.id,
            **changes,
        )
    session.flush()
    return sample_set


def member_ids(session: Session, *, sample_set: SampleSet) -> list[int]:
    """Return the set's sample ids in order."""
    return list(
        session.scalars(
            select(SampleSetMember.sample_id)
            .where(SampleSetMember.set_id == sample_set.id)
            .order_by(SampleSetMember.position)
        )
    )


def refuse_if_archived(sample_set: SampleSet) -> None:
    if sample_set.archived:
        raise ConflictError(
            f"The sample set '{sample_set.name}' is archived; restore it before changing it."
        )


def replace_members(
    session: Session, *, sample_set: SampleSet, sample_ids: Sequence[int], actor: User | None
) -> list[int]:
    """Make the set hold exactly `sample_ids`, in that order."""
    refuse_if_archived(sample_set)
    ids = list(sample_ids)
    if len(set(ids)) != len(ids):
        raise InvalidInputError("A sample can be in a set only once; remove the repeated ids.")
    samples_service.existing_ids(session, ids)
    before = member_ids(session, sample_set=sample_set)
    session.execute(delete(SampleSetMember).where(SampleSetMember.set_id == sample_set.id))
    if ids:
        session.execute(
            insert(SampleSetMember),
            [
                {"set_id": sample_set.id, "sample_id": sid, "position": pos}
                for pos, sid in enumerate(ids)
            ],
        )
    sample_set.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="set.samples",
        subject_type="sample_set",
        subject_id=sample_set.id,
        before=len(before),
        after=len(ids),
    )
    return ids


def add_samples(
    session: Session,
    *,
    sample_set: SampleSet,
    sample_ids: Sequence[int] = (),
    tag: str | None = None,
    actor: User | None,
) -> int:
    """Append samples (chosen, or every live sample carrying `tag`) the set lacks; return count."""
    refuse_if_archived(sample_set)
    ids = samples_service.existing_ids(session, list(dict.fromkeys(sample_ids)))
    if tag:
        names = samples_service.normalize_tags(tag)
        tagged = session.scalars(
            select(Sample.id)
            .join(sample_tags, sample_tags.c.sample_id == Sample.id)
            .join(Tag, Tag.id == sample_tags.c.tag_id)
            .where(Tag.name.in_(names), Sample.archived.is_(False))
            .order_by(Sample.id)
        )
        ids += [sid for sid in tagged if sid not in ids]
    current = member_ids(session, sample_set=sample_set)
    have = set(current)
    new = [sid for sid in ids if sid not in have]
    if new:
        session.execute(
            insert(SampleSetMember),
            [
                {"set_id": sample_set.id, "sample_id": sid, "position": len(current) + i}
                for i, sid in enumerate(new)
            ],
        )
        audit.record(
            session,
            actor=actor,
            action="set.add",
            subject_type="sample_set",
            subject_id=sample_set.id,
            count=len(new),
            tag=tag,
        )
    session.flush()
    return len(new)


def remove_samples(
    session: Session, *, sample_set: SampleSet, sample_ids: Sequence[int], actor: User | None
) -> int:
    """Take samples out of the set (they stay in the library); return how many left."""
    current = member_ids(session, sample_set=sample_set)
    drop = set(sample_ids)
    kept = [sid for sid in current if sid not in drop]
    if len(kept) != len(current):
        replace_members(session, sample_set=sample_set, sample_ids=kept, actor=actor)
    return len(current) - len(kept)


def move_sample(
    session: Session, *, sample_set: SampleSet, sample_id: int, offset: int, actor: User | None
) -> list[int]:
    """Move one sample `offset` places (−1 up, +1 down), clamped to the ends."""
    ids = member_ids(session, sample_set=sample_set)
    if sample_id not in ids:
        raise NotFoundError(f"Sample {sample_id} is not in the set '{sample_set.name}'.")
    index = ids.index(sample_id)
    target = max(0, min(len(ids) - 1, index + offset))
    ids.insert(target, ids.pop(index))
    return replace_members(session, sample_set=sample_set, sample_ids=ids, actor=actor)


@dataclass
class SetSummary:
    sample_set: SampleSet
    count: int = 0
    covers: list[str] = field(default_factory=list)  # thumbnail sha256s, in set order


def list_sets(
    session: Session, *, archived: bool | None = False, page: int = 1, per_page: int = 50
) -> tuple[list[SetSummary], int]:
    """Return one page of sets (name order) with sample counts and cover thumbnails."""
    stmt = select(SampleSet)
    if archived is not None:
        stmt = stmt.where(SampleSet.archived.is_(archived))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page, per_page = max(1, page), max(1, min(per_page, 500))
    rows = list(
        session.scalars(
            stmt.order_by(func.lower(SampleSet.name)).offset((page - 1) * per_page).limit(per_page)
        )
    )
    summaries = {s.id: SetSummary(s) for s in rows}
    if summaries:
        counts = session.execute(
            select(SampleSetMember.set_id, func.count())
            .where(SampleSetMember.set_id.in_(summaries))
            .group_by(SampleSetMember.set_id)
        )
        for set_id, count in counts:
            summaries[set_id].count = count
        covers = session.execute(
            select(SampleSetMember.set_id, Sample.thumb_sha256)
            .join(Sample, Sample.id == SampleSetMember.sample_id)
            .where(SampleSetMember.set_id.in_(summaries), SampleSetMember.position < COVER_COUNT)
            .order_by(SampleSetMember.set_id, SampleSetMember.position)
        )
        for set_id, thumb in covers:
            summaries[set_id].covers.append(thumb)
    return list(summaries.values()), total


def summarize(session: Session, *, sample_set: SampleSet) -> SetSummary:
    """Return one set's count and covers."""
    ids = member_ids(session, sample_set=sample_set)
    covers = list(
        session.scalars(
            select(Sample.thumb_sha256)
            .join(SampleSetMember, SampleSetMember.sample_id == Sample.id)
            .where(SampleSetMember.set_id == sample_set.id)
            .order_by(SampleSetMember.position)
            .limit(COVER_COUNT)
        )
    )
    return SetSummary(sample_set, len(ids), covers)


def all_sets(session: Session, *, include_archived: bool = False) -> list[SampleSet]:
    """Return sets for pickers (name order)."""
    stmt = select(SampleSet).order_by(func.lower(SampleSet.name))
    if not include_archived:
        stmt = stmt.where(SampleSet.archived.is_(False))
    return list(session.scalars(stmt))
