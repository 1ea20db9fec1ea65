"""Browser sessions kept on the server: the cookie holds only a random token.

A session is live while it is not revoked, was used within the idle limit, is younger than the
absolute maximum age, and its user is active. Signing out revokes it; a password change or a
deactivation revokes every session of the user.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from ganstudio.db.base import utcnow
from ganstudio.db.tables import User, UserSession
from ganstudio.services.errors import NotFoundError

SEEN_REFRESH = timedelta(seconds=60)  # last_seen_at is for the idle limit; don't write each hit
USER_AGENT_LENGTH = 200


class SessionEndedError(Exception):
    """The token names no live session; the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SessionLimits:
    idle_seconds: int
    max_age_seconds: int


def _token_sha256(token: str) -> str:
    # Tokens carry 256 random bits, so a plain sha256 is enough (no slow hash needed).
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session,
    *,
    user: User,
    limits: SessionLimits,
    user_agent: str = "",
    address: str = "",
) -> tuple[UserSession, str]:
    """Start a session for `user`; return it with the token its cookie carries."""
    now = utcnow()
    # Rows that can never be live again are dropped here, so the table stays small.
    session.execute(
        delete(UserSession).where(
            or_(
                UserSession.created_at < now - timedelta(seconds=limits.max_age_seconds),
                UserSession.last_seen_at < now - timedelta(seconds=limits.idle_seconds),
            )
        )
    )
    token = secrets.token_urlsafe(32)
    user_session = UserSession(
        user_id=user.id,
        token_sha256=_token_sha256(token),
        created_at=now,
        last_seen_at=now,
        user_agent=user_agent[:USER_AGENT_LENGTH],
        address=address[:64],
    )
    session.add(user_session)
    session.flush()
    return user_session, token


def live_session(
    session: Session, *, token: str, limits: SessionLimits, now: datetime | None = None
) -> UserSession:
    """Return the live session `token` names, or raise SessionEndedError saying why not."""
    now = now or utcnow()
    # The user rides along in the same query (every signed-in request asks this); it lands in
    # the session's identity map, so callers' `session.get(User, …)` costs no second query.
    found = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_sha256 == _token_sha256(token))
    ).first()
    row, user = found if found is not None else (None, None)
    if row is None or row.revoked_at is not None:
        raise SessionEndedError("You were signed out. Sign in again.")
    if now - row.last_seen_at > timedelta(seconds=limits.idle_seconds):
        raise SessionEndedError("Your session has expired. Sign in again.")
    if now - row.created_at > timedelta(seconds=limits.max_age_seconds):
        days = max(1, round(limits.max_age_seconds / 86400))
        raise SessionEndedError(
            f"Sessions end {days} day(s) after signing in, however busy. Sign in again."
        )
    if user is None or not user.active:
        raise SessionEndedError("You were signed out (the account changed). Sign in again.")
    return row


def touch_session(user_session: UserSession, *, now: datetime | None = None) -> None:
    """Note that the session was used (at most once a minute, so reads rarely write)."""
    now = now or utcnow()
    if now - user_session.last_seen_at > SEEN_REFRESH:
        user_session.last_seen_at = now


def end_session(session: Session, *, token: str) -> None:
    """Revoke the session `token` names; ending an ended session is harmless."""
    session.execute(
        update(UserSession)
        .where(UserSession.token_sha256 == _token_sha256(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def end_sessions_of(session: Session, *, user: User, keep_id: int | None = None) -> int:
    """Revoke every session of `user` (but `keep_id`); return how many were live."""
    query = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
    )
    if keep_id is not None:
        query = query.where(UserSession.id != keep_id)
    return session.execute(query.values(revoked_at=utcnow())).rowcount  # type: ignore[attr-defined]


def end_session_of(session: Session, *, user: User, session_id: int) -> UserSession:
    """Revoke one of `user`'s sessions by id."""
    row = session.get(UserSession, session_id)
    if row is None or row.user_id != user.id:
        raise NotFoundError(
            f"No session {session_id} of '{user.name}'; the account page lists them."
        )
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def list_live_sessions(session: Session, *, user: User, limits: SessionLimits) -> list[UserSession]:
    """Return `user`'s live sessions, most recently used first."""
    now = utcnow()
    query = (
        select(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.revoked_at.is_(None),
            UserSession.last_seen_at >= now - timedelta(seconds=limits.idle_seconds),
            UserSession.created_at >= now - timedelta(seconds=limits.max_age_seconds),
        )
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    return list(session.scalars(query))
