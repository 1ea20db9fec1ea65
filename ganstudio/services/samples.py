"""Samples: read, list with filters, edit tags and notes, archive, masks; tags and their counts."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ganstudio.config import Settings
from ganstudio.db.session import rowcount
from ganstudio.db.tables import Sample, SampleSet, SampleSetMember, Tag, User, sample_tags
from ganstudio.services import audit
from ganstudio.services.errors import InvalidInputError, NotFoundError
from ganstudio.storage.blobs import BlobStore
from ganstudio.storage.images import ImageRejectedError, load_mask, png_bytes

MAX_TAG_CHARS = 40
MAX_NOTE_CHARS = 10_000
MAX_PER_PAGE = 500


# --- tags -----------------------------------------------------------------------------------


# Tags the face analysis sets ("face:eyes closed"); QA cannot make tags in this namespace.
SYSTEM_TAG_PREFIX = "face:"
# Where a sample's mask came from (Sample.mask_source).
MASK_UPLOADED, MASK_LANDMARKS = "uploaded", "landmarks"


def is_system_tag(name: str) -> bool:
    return name.startswith(SYSTEM_TAG_PREFIX)


def tag_filter(raw: str | Iterable[str] | None) -> list[str]:
    """Return clean tag names to filter by: QA's tags and system tags alike."""
    return normalize_tags(raw, allow_system=True)


def normalize_tags(raw: str | Iterable[str] | None, *, allow_system: bool = False) -> list[str]:
    """Return clean tag names from "a, B ,c" or a list: trimmed, lower-case, unique, in order.

    Names in the system namespace ("face:…") are refused unless `allow_system` (filters).
    """
    if raw is None:
        return []
    parts = raw.split(",") if isinstance(raw, str) else [p for item in raw for p in item.split(",")]
    names: list[str] = []
    for part in parts:
        name = " ".join(part.split()).lower()
        if not name:
            continue
        if len(name) > MAX_TAG_CHARS:
            raise InvalidInputError(
                f"The tag '{name[:60]}…' is longer than {MAX_TAG_CHARS} characters; shorten it."
            )
        if not allow_system and is_system_tag(name):
            raise InvalidInputError(
                f"The tag '{name[:60]}' starts with '{SYSTEM_TAG_PREFIX}', which is kept for the "
                "tags the face analysis sets by itself; choose a name without that prefix."
            )
        if name not in names:
            names.append(name)
    return names


def tags_named(session: Session, names: Sequence[str], *, create: bool = True) -> list[Tag]:
    """Return the Tag rows for `names`, creating the missing ones when `create`.

    Another transaction may create the same tag between the look and the insert (the worker
    prepares several photos at once, and their face analyses set the same system tags): each
    insert runs in a savepoint, and on a clash the other transaction's tag is used.
    """
    if not names:
        return []
    found = _tags_by_name(session, names)
    if create:
        for name in names:
            if name in found:
                continue
            try:
                with session.begin_nested():
                    tag = Tag(name=name)
                    session.add(tag)
                found[name] = tag
            except IntegrityError:
                found.update(_tags_by_name(session, [name]))
    return [found[name] for name in names if name in found]


def _tags_by_name(session: Session, names: Sequence[str]) -> dict[str, Tag]:
    return {tag.name: tag for tag in session.scalars(select(Tag).where(Tag.name.in_(names)))}


def add_tags(session: Session, *, sample_ids: Sequence[int], names: Sequence[str]) -> int:
    """Put tags on samples (missing links only); return how many links were added."""
    tags = tags_named(session, names)
    if not tags or not sample_ids:
        return 0
    existing = set(
        session.execute(
            select(sample_tags.c.sample_id, sample_tags.c.tag_id).where(
                sample_tags.c.sample_id.in_(sample_ids),
                sample_tags.c.tag_id.in_([t.id for t in tags]),
            )
        )
    )
    rows = [
        {"sample_id": sid, "tag_id": tag.id}
        for sid in sample_ids
        for tag in tags
        if (sid, tag.id) not in existing
    ]
    if rows:
        session.execute(insert(sample_tags), rows)
        _expire_tags(session, sample_ids)
    return len(rows)


def remove_tags(session: Session, *, sample_ids: Sequence[int], names: Sequence[str]) -> int:
    """Take tags off samples; return how many links were removed."""
    tags = tags_named(session, names, create=False)
    if not tags or not sample_ids:
        return 0
    result = session.execute(
        delete(sample_tags).where(
            sample_tags.c.sample_id.in_(sample_ids),
            sample_tags.c.tag_id.in_([t.id for t in tags]),
        )
    )
    _expire_tags(session, sample_ids)
    return rowcount(result)


def _expire_tags(session: Session, sample_ids: Sequence[int]) -> None:
    wanted = set(sample_ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Sample) and obj.id in wanted:
            session.expire(obj, ["tags"])


@dataclass(frozen=True)
class TagCount:
    name: str
    count: int  # samples (not archived) carrying it


def tag_counts(session: Session) -> list[TagCount]:
    """Return every tag with how many live samples carry it, most used first."""
    query = (
        select(Tag.name, func.count(Sample.id))
        .select_from(Tag)
        .outerjoin(sample_tags, sample_tags.c.tag_id == Tag.id)
        .outerjoin(Sample, (Sample.id == sample_tags.c.sample_id) & Sample.archived.is_(False))
        .group_by(Tag.id)
        .order_by(func.count(Sample.id).desc(), Tag.name)
    )
    return [TagCount(name, count) for name, count in session.execute(query)]


def rename_tag(session: Session, *, name: str, new_name: str, actor: User | None) -> Tag:
    """Rename a tag everywhere; renaming onto an existing tag merges the two."""
    old_names = normalize_tags(name)  # "a,b" names two tags, so no one tag has that name
    new_names = normalize_tags(new_name)
    if not new_names:
        raise InvalidInputError("Give the tag a new name (letters, digits, spaces, dashes).")
    target_name = new_names[0]
    tag = None
    if len(old_names) == 1:
        tag = session.scalar(select(Tag).where(Tag.name == old_names[0]))
    if tag is None:
        raise NotFoundError(f"No tag is named '{name[:60]}'. See the tags page for the list.")
    if target_name == tag.name:
        return tag
    target = session.scalar(select(Tag).where(Tag.name == target_name))
    if target is None:
        tag.name = target_name
    else:  # merge: move the links that the target lacks, then drop the old tag
        tagged = select(sample_tags.c.sample_id).where(sample_tags.c.tag_id == target.id)
        session.execute(
            sample_tags.update()
            .where(sample_tags.c.tag_id == tag.id, sample_tags.c.sample_id.not_in(tagged))
            .values(tag_id=target.id)
        )
        session.execute(delete(sample_tags).where(sample_tags.c.tag_id == tag.id))
        session.delete(tag)
        tag = target
    session.flush()
    session.expire_all()
    audit.record(
        session,
        actor=actor,
        action="tag.rename",
        subject_type="tag",
        subject_id=tag.id,
        old=old_names[0],
        new=target_name,
    )
    return tag


# --- reading --------------------------------------------------------------------------------


ARCHIVED_CHOICES: dict[str, bool | None] = {"false": False, "true": True, "all": None}


def archived_choice(value: str) -> bool | None:
    """Read an `archived` filter: "false" (live only), "true" (archived only), "all" (None)."""
    return ARCHIVED_CHOICES.get(value, False)


@dataclass(frozen=True)
class SampleQuery:
    """What to list: every field narrows the list; empty means no filter."""

    tags: tuple[str, ...] = ()  # samples carrying all of these
    sample_set: SampleSet | None = None  # members of this set, in the set's order
    q: str = ""  # part of the file name
    archived: bool | None = False  # None: both


def _filtered(query: SampleQuery) -> Select[Sample]:
    stmt = select(Sample)
    if query.archived is not None:
        stmt = stmt.where(Sample.archived.is_(query.archived))
    if query.q:
        pattern = "%" + query.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(Sample.filename.ilike(pattern, escape="\\"))
    if query.tags:
        carrying_all = (
            select(sample_tags.c.sample_id)
            .join(Tag, Tag.id == sample_tags.c.tag_id)
            .where(Tag.name.in_(query.tags))
            .group_by(sample_tags.c.sample_id)
            .having(func.count() == len(query.tags))
        )
        stmt = stmt.where(Sample.id.in_(carrying_all))
    if query.sample_set is not None:
        stmt = stmt.join(SampleSetMember, SampleSetMember.sample_id == Sample.id).where(
            SampleSetMember.set_id == query.sample_set.id
        )
    return stmt


def list_samples(
    session: Session, *, query: SampleQuery, page: int = 1, per_page: int = 60
) -> tuple[list[Sample], int]:
    """Return one page of samples (tags loaded) and how many match in all."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    stmt = _filtered(query)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = (SampleSetMember.position,) if query.sample_set is not None else (Sample.id.desc(),)
    rows = session.scalars(
        stmt.options(selectinload(Sample.tags))
        .order_by(*order)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), total


def get_sample(session: Session, *, sample_id: int) -> Sample:
    """Return one sample with its tags and its sets (in name order) loaded."""
    sample = session.scalar(
        select(Sample)
        .where(Sample.id == sample_id)
        .options(
            selectinload(Sample.tags),
            selectinload(Sample.memberships).selectinload(SampleSetMember.sample_set),
        )
        .execution_options(populate_existing=True)
    )
    if sample is None:
        raise NotFoundError(
            f"There is no sample {sample_id}; browse /samples to find the one you want."
        )
    return sample


def find_by_sha256(session: Session, sha256: str) -> Sample | None:
    return session.scalar(select(Sample).where(Sample.sha256 == sha256))


def existing_ids(session: Session, sample_ids: Sequence[int]) -> list[int]:
    """Return `sample_ids` in order, refusing any that is not a sample."""
    found = set(session.scalars(select(Sample.id).where(Sample.id.in_(sample_ids))))
    missing = [sid for sid in sample_ids if sid not in found]
    if missing:
        shown = ", ".join(str(m) for m in missing[:10])
        raise NotFoundError(f"These sample ids do not exist: {shown}. Reload and select again.")
    return list(sample_ids)


# --- editing --------------------------------------------------------------------------------


def update_sample(
    session: Session,
    *,
    sample: Sample,
    actor: User | None,
    tags: Sequence[str] | None = None,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    note: str | None = None,
    archived: bool | None = None,
) -> Sample:
    """Edit a sample: replace or add/remove tags, set the note, archive or restore."""
    changes: dict[str, object] = {}
    if tags is not None:
        current = [
            t.name
            for t in session.scalars(
                select(Tag).join(sample_tags).where(sample_tags.c.sample_id == sample.id)
            )
        ]
        # System tags stay as the analysis set them: sending back the ones the sample has (a
        # read-modify-write of its tags) is fine; any other one is refused by normalize_tags.
        wanted = normalize_tags(
            t for t in tags if " ".join(t.split()).lower() not in current or not is_system_tag(t)
        )
        remove = [*remove, *[n for n in current if n not in wanted and not is_system_tag(n)]]
        add = [*add, *wanted]
    if add:
        added = normalize_tags(add)
        if add_tags(session, sample_ids=[sample.id], names=added):
            changes["added_tags"] = added
    if remove:
        removed = normalize_tags(remove)
        if remove_tags(session, sample_ids=[sample.id], names=removed):
            changes["removed_tags"] = removed
    if note is not None:
        if len(note) > MAX_NOTE_CHARS:
            raise InvalidInputError(f"The note is longer than {MAX_NOTE_CHARS:,} characters.")
        sample.note = note.replace("\r\n", "\n")
        changes["note"] = True
    if archived is not None and archived != sample.archived:
        sample.archived = archived
        changes["archived"] = archived
    if changes:
        audit.record(
            session,
            actor=actor,
            action="sample.update",
            subject_type="sample",
            subject_id=sample.id,
            **changes,
        )
    session.flush()
    return sample


def set_mask(
    session: Session,
    blobs: BlobStore,
    *,
    sample: Sample,
    stream: BinaryIO,
    max_pixels: int,
    max_bytes: int,
    actor: User | None,
) -> Sample:
    """Attach (or replace) a grayscale mask of the sample's size, stored as an 8-bit PNG."""
    stream.seek(0, 2)
    if stream.tell() > max_bytes:
        raise InvalidInputError(
            f"The mask is larger than the {max_bytes // (1024 * 1024)} MiB image limit."
        )
    try:
        mask = load_mask(stream, max_pixels=max_pixels)
    except ImageRejectedError as exc:
        raise InvalidInputError(f"The mask was refused: {exc}.") from None
    except OSError as exc:
        raise InvalidInputError(f"The mask was refused: its data is corrupt ({exc}).") from None
    if mask.size != (sample.width, sample.height):
        raise InvalidInputError(
            f"The mask is {mask.width}×{mask.height} but the sample is "
            f"{sample.width}×{sample.height}; a mask must be exactly the sample's size."
        )
    stored = blobs.put_bytes(png_bytes(mask))
    sample.mask_sha256 = stored.sha256
    sample.mask_source = MASK_UPLOADED
    audit.record(
        session,
        actor=actor,
        action="sample.mask",
        subject_type="sample",
        subject_id=sample.id,
        mask_sha256=stored.sha256,
    )
    session.flush()
    return sample


def attach_mask(
    session: Session,
    blobs: BlobStore,
    settings: Settings,
    *,
    sample_id: int,
    stream: BinaryIO,
    actor: User | None,
) -> Sample:
    """Attach (or replace) an uploaded mask on a sample, under the library's image limits."""
    sample = get_sample(session, sample_id=sample_id)
    return set_mask(
        session,
        blobs,
        sample=sample,
        stream=stream,
        max_pixels=settings.max_image_pixels,
        max_bytes=settings.max_image_bytes,
        actor=actor,
    )
