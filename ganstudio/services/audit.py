"""Record who wrote what, and when."""

from typing import Any

from sqlalchemy import String, and_, cast, or_, select
from sqlalchemy.orm import Session, joinedload

from ganstudio.db.tables import AuditEvent, User


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
    from ganstudio.db.tables import Comparison, Version

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
