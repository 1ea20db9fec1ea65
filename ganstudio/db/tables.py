"""Typed tables. Every write records who did it and when (audit_events, created_by)."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ganstudio.db.base import BLOB_REF, Base, UTCDateTime, utcnow
from ganstudio.roles import Role
from ganstudio.vocabulary import Pipeline, VersionStatus, enum_values


class User(Base):
    """A person (or a script's account) who signs in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)  # lower-case sign-in name
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=enum_values)
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped to sign out every browser of this user (password change, deactivation).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    tokens: Mapped[list["ApiToken"]] = relationship(
        back_populates="user", lazy="raise", cascade="all, delete-orphan"
    )


class ApiToken(Base):
    """A bearer token for scripts and the CLI; only its sha256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(80))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists so a token can be told apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens", lazy="raise")


class AuditEvent(Base):
    """One write: who did what to which thing, and when."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(64))  # "user.create", "token.revoke", …
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship(lazy="raise")


class Filter(Base):
    """One product filter (e.g. "Anime"): a family of versions judged together."""

    __tablename__ = "filters"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    pipeline: Mapped[Pipeline] = mapped_column(
        Enum(Pipeline, native_enum=False, length=16, values_callable=enum_values)
    )
    input_size: Mapped[int] = mapped_column(Integer)  # longest side fed to the network
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Version(Base):
    """One immutable checkpoint of a filter; notes and status may change, the weights never."""

    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("filter_id", "label"),
        UniqueConstraint("filter_id", "checkpoint_sha256"),
        Index("ix_versions_filter_created", "filter_id", "created_at"),
        Index("ix_versions_filter_branch", "filter_id", "branch"),
        Index("ix_versions_filter_status", "filter_id", "status"),
        # At most one production version per filter, whatever the code above it does.
        Index(
            "uq_versions_one_production",
            "filter_id",
            unique=True,
            sqlite_where=text("status = 'production'"),
            postgresql_where=text("status = 'production'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    filter_id: Mapped[int] = mapped_column(ForeignKey("filters.id", ondelete="RESTRICT"))
    label: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("versions.id", ondelete="RESTRICT"), index=True
    )
    branch: Mapped[str] = mapped_column(String(64), default="main")
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[VersionStatus] = mapped_column(
        Enum(VersionStatus, native_enum=False, length=16, values_callable=enum_values),
        default=VersionStatus.CANDIDATE,
    )
    checkpoint_sha256: Mapped[str] = mapped_column(String(64), info=BLOB_REF)
    checkpoint_filename: Mapped[str] = mapped_column(String(255))
    checkpoint_size: Mapped[int] = mapped_column(BigInteger)
    checkpoint_format: Mapped[str] = mapped_column(String(16))  # safetensors, torchscript, …
    architecture: Mapped[str | None] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    input_channels: Mapped[int] = mapped_column(Integer)
    param_count: Mapped[int] = mapped_column(BigInteger)
    gflops_512: Mapped[float | None] = mapped_column(Float)
    latency_ms_512: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    filter: Mapped[Filter] = relationship(lazy="raise")
    parent: Mapped["Version | None"] = relationship(remote_side=[id], lazy="raise")
    created_by: Mapped[User | None] = relationship(lazy="raise")


class VersionStatusChange(Base):
    """Every change of a version's status, with who and when."""

    __tablename__ = "version_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("versions.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(500), default="")

    actor: Mapped[User | None] = relationship(lazy="raise")
