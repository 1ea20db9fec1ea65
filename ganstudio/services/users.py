"""Accounts, sign-in and API tokens."""

import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ganstudio.db.base import utcnow
from ganstudio.db.tables import ApiToken, User
from ganstudio.roles import Role
from ganstudio.services import audit, user_sessions
from ganstudio.services.errors import (
    BusyError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from ganstudio.services.passwords import (
    MIN_PASSWORD_LENGTH,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from ganstudio.services.throttle import SignInThrottle

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
TOKEN_PREFIX = "gst_"  # noqa: S105 - a marker, not a secret
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)  # last_used_at is a hint; don't write every request


class SignInError(InvalidInputError):
    """Wrong name or password (deliberately not saying which)."""

    status_code = 401


def normalise_name(name: str) -> str:
    """Return the canonical sign-in name, or raise with what a valid name looks like."""
    cleaned = name.strip().lower()
    if not NAME_RE.match(cleaned):
        raise InvalidInputError(
            f"'{name[:60]}' is not a valid user name: use 2-40 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return cleaned


def parse_role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInputError(f"'{role[:40]}' is not a role; choose one of: {choices}.") from None


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters."
        )


def get_user(session: Session, *, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name.strip().lower()))
    if user is None:
        raise NotFoundError(f"No user named '{name[:60]}'. The users page lists every account.")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def create_user(
    session: Session,
    *,
    name: str,
    role: Role | str,
    password: str | None = None,
    actor: User | None,
) -> tuple[User, str]:
    """Create an account; return it with its password (generated when none was given)."""
    name = normalise_name(name)
    role = parse_role(role) if isinstance(role, str) else role
    if password is None or password == "":
        password = generate_password()
    _check_password(password)
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise ConflictError(f"A user named '{name}' already exists; choose another name.")
    user = User(
        name=name,
        role=role,
        password_hash=hash_password(password),
        created_by_id=actor.id if actor else None,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        subject_type="user",
        subject_id=user.id,
        name=name,
        role=role.value,
    )
    return user, password


def update_user(
    session: Session,
    *,
    user: User,
    actor: User | None,
    role: Role | str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change a user's role, active flag or password; each change is audited."""
    changes: dict[str, object] = {}
    if role is not None:
        new_role = parse_role(role) if isinstance(role, str) else role
        if new_role != user.role:
            _keep_one_admin(session, user=user, losing_admin=new_role != Role.ADMIN)
            changes["role"] = [user.role.value, new_role.value]
            user.role = new_role
    if active is not None and active != user.active:
        if not active:
            _keep_one_admin(session, user=user, losing_admin=True)
        changes["active"] = active
        user.active = active
        user_sessions.end_sessions_of(session, user=user)
    if password:
        _check_password(password)
        user.password_hash = hash_password(password)
        user_sessions.end_sessions_of(session, user=user)  # whoever knew the old one is out
        changes["password_changed"] = True
    if changes:
        audit.record(
            session,
            actor=actor,
            action="user.update",
            subject_type="user",
            subject_id=user.id,
            **changes,
        )
    return user


def change_own_password(
    session: Session, *, user: User, current_password: str, new_password: str
) -> User:
    """Change `user`'s password after checking the current one."""
    if not verify_password(user.password_hash, current_password):
        raise InvalidInputError("The current password is wrong; type it again.")
    return update_user(session, user=user, actor=user, password=new_password)


def _keep_one_admin(session: Session, *, user: User, losing_admin: bool) -> None:
    if not losing_admin or user.role != Role.ADMIN or not user.active:
        return
    admins = session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active)
    )
    if (admins or 0) <= 1:
        raise ConflictError(
            f"'{user.name}' is the last active admin; make another user admin first."
        )


def authenticate(
    session: Session, *, name: str, password: str, address: str, throttle: SignInThrottle
) -> User:
    """Return the user whose name and password match, or raise a SignInError.

    Raises TooManyAttemptsError when `throttle` holds the name or `address` back, and
    BusyError when too many passwords are being checked at once.
    """
    key = name.strip().lower()
    attempt = throttle.reserve(name=key, address=address)  # a failure until proven right
    user = session.scalar(select(User).where(User.name == key))
    try:
        with throttle.checking_slot():
            ok = verify_password(user.password_hash if user else None, password)
    except BusyError:
        attempt.cancel()
        raise
    if user is None or not ok or not user.active:
        raise SignInError(
            "Wrong user name or password (or the account is deactivated). Check both and try "
            "again; an admin can reset a forgotten password."
        )
    attempt.succeeded()
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_sign_in_at = utcnow()
    return user


def _token_sha256(token: str) -> str:
    # Tokens carry 256 random bits, so a plain sha256 is enough (no slow hash needed).
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, *, user: User, label: str, actor: User | None
) -> tuple[ApiToken, str]:
    """Create an API token for `user`; return it with the plaintext, which is shown only once."""
    label = label.strip() or "token"
    if len(label) > 80:
        raise InvalidInputError("The token label is too long: use at most 80 characters.")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        label=label,
        token_sha256=_token_sha256(plaintext),
        prefix=plaintext[:10],
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="token.create",
        subject_type="api_token",
        subject_id=token.id,
        user=user.name,
        label=label,
    )
    return token, plaintext


def list_tokens(session: Session, *, user: User) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    return list(session.scalars(query))


def revoke_token(session: Session, *, user: User, token_id: int, actor: User) -> ApiToken:
    """Revoke one of `user`'s tokens; revoking twice is harmless."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFoundError(f"No API token {token_id} for '{user.name}'.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="token.revoke",
            subject_type="api_token",
            subject_id=token.id,
            user=user.name,
        )
    return token


def user_for_token(session: Session, *, token: str) -> User | None:
    """Return the active user an unrevoked token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    # One query for the token and its user: every API request asks this.
    found = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_sha256 == _token_sha256(token))
    ).first()
    if found is None:
        return None
    row, user = found
    if row.revoked_at is not None or not user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > TOKEN_TOUCH_INTERVAL:
        row.last_used_at = now
    return user
