"""Record who wrote what, and when; tell it back as sentences with links (activity feeds)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, or_, select
from sqlalchemy.orm import Session, joinedload

from ganstudio.db.tables import (
    AuditEvent,
    Comparison,
    Filter,
    Job,
    Sample,
    SampleSet,
    User,
    Version,
)
from ganstudio.text import plural


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    subject_type: str,
    subject_id: str | int,
    **detail: Any,
) -> AuditEvent:
    """Add an audit event to the session's transaction (it commits with the write it records)."""
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        detail=detail,
    )
    session.add(event)
    return event


def recent_events(session: Session, *, limit: int = 50) -> list[AuditEvent]:
    """Return the newest audit events with their actors."""
    query = (
        select(AuditEvent)
        .options(joinedload(AuditEvent.actor))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def events_for_filter(session: Session, *, filter_id: int, limit: int = 20) -> list[AuditEvent]:
    """Return the newest comments, votes and version changes of one filter."""
    version_ids = select(cast(Version.id, String)).where(Version.filter_id == filter_id)
    comparison_ids = select(cast(Comparison.id, String)).where(Comparison.filter_id == filter_id)
    query = (
        select(AuditEvent)
        .options(joinedload(AuditEvent.actor))
        .where(
            or_(
                and_(AuditEvent.subject_type == "version", AuditEvent.subject_id.in_(version_ids)),
                and_(AuditEvent.action == "comment.add", AuditEvent.subject_id.in_(comparison_ids)),
                and_(AuditEvent.subject_type == "filter", AuditEvent.subject_id == str(filter_id)),
            )
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class FeedItem:
    """One line of an activity feed: when, who, what (a sentence) and where to look (a link)."""

    at: datetime
    actor: str
    text: str
    href: str | None


@dataclass
class _Names:
    """Names the sentences need, loaded for a whole feed at once (a few queries, not one a row)."""

    filters_by_slug: dict[str, Filter] = field(default_factory=dict)
    filters_by_id: dict[int, Filter] = field(default_factory=dict)
    versions: dict[int, Version] = field(default_factory=dict)
    comparisons: dict[int, Comparison] = field(default_factory=dict)
    sets: dict[int, SampleSet] = field(default_factory=dict)
    samples: dict[int, str] = field(default_factory=dict)  # id → file name
    # The reader's own web tests in the feed: job id → its address (`public_id`).
    own_webtests: dict[int, str] = field(default_factory=dict)

    def sample_name(self, id_: object) -> str:
        return self.samples.get(_int(id_)) or f"sample #{id_}"

    def filter_name(self, *, slug: object = None, id_: object = None) -> str:
        found = self.filters_by_slug.get(str(slug)) if slug else self.filters_by_id.get(_int(id_))
        return found.name if found else str(slug or "a deleted filter")

    def filter_href(self, *, slug: object = None, id_: object = None, tail: str = "") -> str | None:
        found = self.filters_by_slug.get(str(slug)) if slug else self.filters_by_id.get(_int(id_))
        return f"/filters/{found.slug}{tail}" if found else None


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _load_names(session: Session, events: list[AuditEvent], reader: User | None = None) -> _Names:
    def ids(*types: str, key: str | None = None) -> set[int]:
        found = set()
        for e in events:
            if e.subject_type in types:
                found.add(_int(e.subject_id))
            if key and key in (e.detail or {}):
                found.add(_int(e.detail[key]))
        return found - {0}

    names = _Names()
    slugs = {str(e.detail["filter"]) for e in events if "filter" in (e.detail or {})}
    filter_ids = ids("filter", key="filter_id")
    version_ids = ids("version")
    comparison_ids = ids("comparison", key="comparison")
    set_ids = ids("sample_set")
    sample_ids = ids("sample")
    if version_ids:
        names.versions = {
            v.id: v for v in session.scalars(select(Version).where(Version.id.in_(version_ids)))
        }
        filter_ids |= {v.filter_id for v in names.versions.values()}
    if comparison_ids:
        names.comparisons = {
            c.id: c
            for c in session.scalars(select(Comparison).where(Comparison.id.in_(comparison_ids)))
        }
        filter_ids |= {c.filter_id for c in names.comparisons.values()}
    if set_ids:
        names.sets = {
            s.id: s for s in session.scalars(select(SampleSet).where(SampleSet.id.in_(set_ids)))
        }
    if sample_ids:
        query = select(Sample.id, Sample.filename).where(Sample.id.in_(sample_ids))
        # Not dict(result): a Result has keys() (its columns), so dict() would index it by them.
        names.samples = {row.id: row.filename for row in session.execute(query)}
    own_job_ids = {
        _int(e.subject_id)
        for e in events
        if e.action == "webtest.create" and reader is not None and e.actor_id == reader.id
    } - {0}
    if own_job_ids and reader is not None:
        jobs = select(Job.id, Job.public_id).where(
            Job.id.in_(own_job_ids), Job.created_by_id == reader.id, Job.public_id.is_not(None)
        )
        names.own_webtests = {row.id: str(row.public_id) for row in session.execute(jobs)}
    if slugs or filter_ids:
        for f in session.scalars(
            select(Filter).where(or_(Filter.slug.in_(slugs), Filter.id.in_(filter_ids)))
        ):
            names.filters_by_slug[f.slug] = f
            names.filters_by_id[f.id] = f
    return names


def describe(event: AuditEvent, names: _Names) -> tuple[str, str | None]:
    """Return what `event` did as a sentence (after the actor's name) and a link to look at.

    The one mapping from audit events to words: every activity feed (home, filter, users)
    shows events through it, so a new kind of event is described once, here.
    """
    d = event.detail or {}
    subject = _int(event.subject_id)
    action = event.action
    if action == "comparison.create":
        comparison = names.comparisons.get(subject)
        versions = plural(len(d.get("versions") or []), "version")
        of = names.filter_name(slug=d.get("filter"))
        text = f"compared {versions} of {of} on {plural(_int(d.get('samples', 0)), 'sample')}"
        return text, f"/c/{comparison.slug}" if comparison else None
    if action == "analysis.create":
        versions = plural(len(d.get("versions") or []), "version")
        of = names.filter_name(slug=d.get("filter"))
        what = "the attention" if d.get("kind") == "gradcam" else "the feature maps"
        samples = plural(_int(d.get("samples", 0)), "sample")
        return f"analysed {what} of {versions} of {of} on {samples}", f"/analyses/{subject}"
    if action in ("comment.add", "pick.set"):
        comparison = names.comparisons.get(subject)
        title = f"“{comparison.title}”" if comparison else "a comparison"
        verb = "commented on" if action == "comment.add" else "picked a version on"
        return f"{verb} {title}", f"/c/{comparison.slug}" if comparison else None
    if action in ("comment.edit", "comment.delete"):
        comparison = names.comparisons.get(_int(d.get("comparison")))
        verb = "edited a comment" if action == "comment.edit" else "deleted a comment"
        return verb, f"/c/{comparison.slug}" if comparison else None
    if action.startswith("version."):
        version = names.versions.get(subject)
        label = version.label if version else d.get("label", f"version {subject}")
        of = (
            names.filter_name(id_=version.filter_id)
            if version
            else names.filter_name(slug=d.get("filter"))
        )
        href = f"/versions/{subject}" if version else None
        if action == "version.push":
            return f"pushed {label} to {of}", href
        if action == "version.status":
            return f"moved {label} of {of} from {d.get('from')} to {d.get('to')}", href
        if action == "version.notes":
            return f"edited the notes of {label} of {of}", href
        if action == "version.precision_check":
            return f"asked to measure {label} of {of} in {d.get('precision')} against fp32", href
    if action == "webtest.create":
        tested = d.get("versions") or []
        of = names.filter_name(slug=d.get("filter"))
        # A web test's photo is private to its owner: the owner's line links the test (while
        # it lasts), anyone else's the filter.
        own = names.own_webtests.get(subject)
        return (
            f"web-tested a photo with {plural(len(tested), 'version')} of {of}",
            f"/webtest?test={own}" if own else names.filter_href(slug=d.get("filter")),
        )
    if action == "arena.vote":
        return (
            f"voted in the {names.filter_name(id_=subject)} arena",
            names.filter_href(id_=subject, tail="/leaderboard"),
        )
    if action.startswith("filter."):
        name, href = names.filter_name(id_=subject), names.filter_href(id_=subject)
        verb = {
            "filter.create": "created the filter",
            "filter.update": "changed the settings of",
            "filter.archive": "archived the filter",
            "filter.unarchive": "restored the filter",
        }.get(action, f"{action} on")
        return f"{verb} {name}", href
    if event.subject_type == "sample_set":
        sample_set = names.sets.get(subject)
        name = sample_set.name if sample_set else d.get("name", f"set {subject}")
        href = f"/sets/{subject}" if sample_set else None
        if action == "set.add":
            return f"added {plural(_int(d.get('count', 0)), 'sample')} to the set {name}", href
        if action == "set.samples":
            return f"changed the samples of the set {name}", href
        if action == "set.mask_job":
            return f"started making eye masks for the set {name}", href
        verb = "created" if action == "set.create" else "edited"
        return f"{verb} the sample set {name}", href
    if action == "sample.create":
        return f"added the sample {d.get('filename', subject)}", f"/samples/{subject}"
    if action in ("sample.update", "sample.mask"):
        what = "the mask of " if action == "sample.mask" else ""
        return f"edited {what}{names.sample_name(subject)}", f"/samples/{subject}"
    if action in ("sample.reference", "sample.reference_remove"):
        verb = "removed" if action == "sample.reference_remove" else "attached"
        return f"{verb} the reference image of {names.sample_name(subject)}", f"/samples/{subject}"
    if action == "sample.mask_generate":
        name = names.sample_name(subject)
        return f"made the eye mask of {name} from its landmarks", f"/samples/{subject}"
    if action == "sample.bulk_update":
        return f"edited {plural(_int(d.get('count', 0)), 'sample')}", "/samples"
    if action == "tag.rename":
        return f"renamed the tag {d.get('old')} to {d.get('new')}", None
    if action == "user.create":
        return f"added the account {d.get('name')} ({d.get('role')})", None
    if action == "user.update":
        return "changed an account", None
    if action in ("token.create", "token.revoke"):
        return ("created" if action == "token.create" else "revoked") + " an API token", None
    return f"{action.replace('.', ' ')} ({event.subject_type} {event.subject_id})", None


def feed(session: Session, events: list[AuditEvent], reader: User | None = None) -> list[FeedItem]:
    """Return `events` as feed lines: sentences with links, the names loaded in a few queries.

    With `reader`, lines about the reader's own private things (web tests) link to them.
    """
    names = _load_names(session, events, reader)
    items = []
    for event in events:
        text, href = describe(event, names)
        actor = event.actor.name if event.actor else "system"
        items.append(FeedItem(at=event.at, actor=actor, text=text, href=href))
    return items
