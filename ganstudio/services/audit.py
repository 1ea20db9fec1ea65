"""Record who wrote what, and when."""

from typing import Any

from sqlalchemy import select
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
