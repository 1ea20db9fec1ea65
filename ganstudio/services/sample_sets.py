"""Sample sets: ordered, named collections of samples, curated by QA; archived, never deleted."""

from collections.abc import Mapping, Sequence
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
    """Append samples (chosen, or every live sample carrying `tag`) the set lacks; return count.

    The newcomers land in upload order (oldest first), whatever order they were picked in: the
    grid lists newest first, and a set read in upload order is what QA expect to find.
    """
    refuse_if_archived(sample_set)
    ids = samples_service.existing_ids(session, list(dict.fromkeys(sample_ids)))
    if tag:
        names = samples_service.tag_filter(tag)
        tagged = session.scalars(
            select(Sample.id)
            .join(sample_tags, sample_tags.c.sample_id == Sample.id)
            .join(Tag, Tag.id == sample_tags.c.tag_id)
            .where(Tag.name.in_(names), Sample.archived.is_(False))
        )
        ids += [sid for sid in tagged if sid not in ids]
    current = member_ids(session, sample_set=sample_set)
    have = set(current)
    # Ids grow with each stored upload (files of one archive in archive order): id order is
    # upload order.
    new = sorted({sid for sid in ids if sid not in have})
    if new:
        session.execute(
            insert(SampleSetMember),
            [
                {"set_id": sample_set.id, "sample_id": sid, "position": len(current) + i}
                for i, sid in enumerate(new)
            ],
        )
        sample_set.updated_at = utcnow()
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


def reorder(
    session: Session,
    *,
    sample_set: SampleSet,
    positions: Mapping[int, int],
    actor: User | None,
) -> list[int]:
    """Move samples to 1-based positions ({sample id: position}); the others keep their order.

    A page sends the positions of the samples it shows: after a drag, all of them, distinct;
    from the form, maybe one changed number. A sample moved onto a taken position takes it:
    moved up, it goes before the one that was there ("5 → 2" makes it second); moved down,
    after it. Numbers past either end are clamped.
    """
    ids = member_ids(session, sample_set=sample_set)
    members = set(ids)
    strangers = [sid for sid in positions if sid not in members]
    if strangers:
        shown = ", ".join(str(s) for s in strangers[:10])
        raise NotFoundError(
            f"Samples {shown} are not in the set '{sample_set.name}'; reload the set's page."
        )

    def rank(index: int, sid: int) -> tuple[int, int, int]:
        target = max(0, min(len(ids) - 1, positions.get(sid, index + 1) - 1))
        return (target, (target > index) - (target < index), index)

    order = [sid for index, sid in sorted(enumerate(ids), key=lambda pair: rank(*pair))]
    if order == ids:
        refuse_if_archived(sample_set)  # nothing to change, but say so on an archived set
        return ids
    return replace_members(session, sample_set=sample_set, sample_ids=order, actor=actor)


@dataclass(frozen=True)
class BulkOutcome:
    count: int  # samples selected
    message: str  # what was done, in a sentence or a few
    sample_set: SampleSet | None = None  # the set they were added to, if asked


def bulk_update_samples(
    session: Session,
    *,
    sample_ids: Sequence[int],
    actor: User | None,
    add: Sequence[str] | None = None,
    remove: Sequence[str] | None = None,
    archived: bool | None = None,
    set_ref: str | None = None,
) -> BulkOutcome:
    """Tag, untag, archive or restore many samples, and/or add them to a set (made if new).

    The grid's bulk actions and the API's bulk update both come here. It lives with sets, not
    in services/samples.py, because adding to a set needs this module, which imports that one.
    """
    ids = samples_service.existing_ids(session, list(dict.fromkeys(sample_ids)))
    if not ids:
        raise InvalidInputError("Select at least one sample first (tick the boxes on the grid).")
    add_names = samples_service.normalize_tags(add or [])
    remove_names = samples_service.normalize_tags(remove or [])
    if (add is not None and not add_names) or (remove is not None and not remove_names):
        raise InvalidInputError("Type the tag(s) to add or remove, separated by commas.")
    if set_ref is not None and not set_ref.strip():
        raise InvalidInputError("Pick a set, or type a new set's name, to add samples to.")
    if not (add_names or remove_names or archived is not None or set_ref):
        raise InvalidInputError(
            "Say what to do with the selected samples: tags to add or remove, archive or "
            "restore, or a set to add them to."
        )
    said: list[str] = []
    if add_names:
        samples_service.add_tags(session, sample_ids=ids, names=add_names)
        said.append(f"Tagged {len(ids)} sample(s) with {', '.join(add_names)}.")
    if remove_names:
        samples_service.remove_tags(session, sample_ids=ids, names=remove_names)
        said.append(f"Removed {', '.join(remove_names)} from {len(ids)} sample(s).")
    if archived is not None:
        for sample in session.scalars(select(Sample).where(Sample.id.in_(ids))):
            sample.archived = archived
        said.append(f"{'Archived' if archived else 'Restored'} {len(ids)} sample(s).")
    audit.record(
        session,
        actor=actor,
        action="sample.bulk_update",
        subject_type="sample",
        subject_id=",".join(map(str, ids[:20])),
        count=len(ids),
        add=add_names,
        remove=remove_names,
        archived=archived,
    )
    target = None
    if set_ref:
        target = resolve_set(session, ref=set_ref, actor=actor, create_missing=True)
        added = add_samples(session, sample_set=target, sample_ids=ids, actor=actor)
        said.append(f"Added {added} sample(s) to the set '{target.name}'.")
    session.flush()
    return BulkOutcome(len(ids), " ".join(said), target)


@dataclass
class SetSummary:
    sample_set: SampleSet
    count: int = 0
    covers: list[str] = field(default_factory=list)  # thumbnail sha256s, in set order
    sample_ids: list[int] = field(default_factory=list)  # in set order; only from summarize()


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
    """Return one set's count, covers and sample ids."""
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
    return SetSummary(sample_set, len(ids), covers, ids)


def all_sets(session: Session, *, include_archived: bool = False) -> list[SampleSet]:
    """Return sets for pickers (name order)."""
    stmt = select(SampleSet).order_by(func.lower(SampleSet.name))
    if not include_archived:
        stmt = stmt.where(SampleSet.archived.is_(False))
    return list(session.scalars(stmt))
