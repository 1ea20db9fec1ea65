"""Typed tables. Every write records who did it and when (audit_events, created_by)."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ganstudio.db.base import BLOB_REF, Base, Sha256, UTCDateTime, utcnow
from ganstudio.roles import Role
from ganstudio.vocabulary import (
    AnalysisKind,
    AnalysisState,
    JobKind,
    Pipeline,
    PrecisionCheckState,
    RenderState,
    VersionStatus,
    VoteOutcome,
    WorkerState,
    enum_values,
)


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


class UserSession(Base):
    """A signed-in browser; its cookie holds a random token, of which only the sha256 is kept."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Shown on the account page so people can tell their browsers apart.
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(64), default="")

    user: Mapped[User] = relationship(lazy="raise")


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
    # Face filters: {faces, margin, align}; {} = the defaults (render_spec.FaceSettings).
    face_options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The precision its renders ask for (render_spec.PRECISION_CHOICES): "fp32", or "bf16"/"fp16"
    # as an opt-in that a version only follows once it was measured (services/precision.py).
    precision: Mapped[str] = mapped_column(String(8), default="fp32", server_default="fp32")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Archived filters are hidden from lists and pickers; never deleted (their votes, versions
    # and comparisons stay readable).
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
    # The training run's numbers pushed with it (name → number, e.g. step, fid, loss_g); {} if none.
    training_metrics: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
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
    from_status: Mapped[VersionStatus | None] = mapped_column(
        Enum(VersionStatus, native_enum=False, length=16, values_callable=enum_values)
    )
    to_status: Mapped[VersionStatus] = mapped_column(
        Enum(VersionStatus, native_enum=False, length=16, values_callable=enum_values)
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(500), default="")

    actor: Mapped[User | None] = relationship(lazy="raise")


sample_tags = Table(
    "sample_tags",
    Base.metadata,
    Column("sample_id", ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Sample(Base):
    """One test image, stored once by the sha256 of its original bytes."""

    __tablename__ = "samples"
    __table_args__ = (Index("ix_samples_archived_id", "archived", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(Sha256(), unique=True, info=BLOB_REF)
    filename: Mapped[str] = mapped_column(String(160), index=True)  # sanitised, for display
    format: Mapped[str] = mapped_column(String(16))  # Pillow's name: JPEG, PNG, WEBP …
    mode: Mapped[str] = mapped_column(String(16))  # Pillow's mode as uploaded: RGB, CMYK, I;16 …
    width: Mapped[int] = mapped_column(Integer)  # after EXIF orientation
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    thumb_sha256: Mapped[str] = mapped_column(Sha256(), info=BLOB_REF)  # WebP thumbnail
    mask_sha256: Mapped[str | None] = mapped_column(Sha256(), info=BLOB_REF)  # grayscale PNG
    # Where the mask came from: "uploaded" (by hand) or "landmarks" (generated); None: no mask.
    mask_source: Mapped[str | None] = mapped_column(String(16))
    # The target image paired with the sample (kept as uploaded; services/references.py).
    reference_sha256: Mapped[str | None] = mapped_column(Sha256(), info=BLOB_REF)
    note: Mapped[str] = mapped_column(Text, default="")
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tags: Mapped[list["Tag"]] = relationship(
        secondary=sample_tags, lazy="raise", order_by="Tag.name"
    )
    memberships: Mapped[list["SampleSetMember"]] = relationship(
        back_populates="sample", lazy="raise"
    )


class Tag(Base):
    """A label QA puts on samples ("closed-eyes", "glasses"); names are unique, lower-case."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


class FaceAnalysis(Base):
    """The faces one detector revision found in one image content (samples, web-test photos)."""

    __tablename__ = "face_analyses"
    __table_args__ = (UniqueConstraint("image_sha256", "detector"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Not a BLOB_REF: an analysis must not keep an expired web-test photo alive.
    image_sha256: Mapped[str] = mapped_column(Sha256())
    detector: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(16))  # done, failed, unavailable
    faces: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # faces.FaceAnalysis.to_json()
    error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReferenceMetric(Base):
    """PSNR and SSIM of one render's output against one reference image; computed once, ever.

    Keyed by content, so a re-uploaded reference or a render shared by two versions is never
    confused with another. Not BLOB_REFs: a metric must not keep an image alive.
    """

    __tablename__ = "reference_metrics"
    __table_args__ = (UniqueConstraint("output_sha256", "reference_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    output_sha256: Mapped[str] = mapped_column(Sha256())
    reference_sha256: Mapped[str] = mapped_column(Sha256())
    psnr: Mapped[float | None] = mapped_column(Float)  # dB; None when it failed (see error)
    ssim: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)  # the size they were measured at
    height: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MaskJob(Base):
    """Eye masks to generate for a set's samples, run by a worker, with progress."""

    __tablename__ = "mask_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(
        ForeignKey("sample_sets.id", ondelete="CASCADE"), index=True
    )
    overwrite: Mapped[bool] = mapped_column(Boolean, default=False)
    sample_ids: Mapped[list[int]] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)  # samples handled so far
    done: Mapped[int] = mapped_column(Integer, default=0)  # masks generated
    kept: Mapped[int] = mapped_column(Integer, default=0)  # hand-made masks left as they were
    failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class SampleSet(Base):
    """An ordered, named collection of samples; archived, never deleted."""

    __tablename__ = "sample_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    archived: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    members: Mapped[list["SampleSetMember"]] = relationship(
        back_populates="sample_set",
        lazy="raise",
        order_by="SampleSetMember.position",
        cascade="all, delete-orphan",
    )


class SampleSetMember(Base):
    """A sample's place in a set; positions run 0…n-1 without gaps."""

    __tablename__ = "sample_set_members"
    __table_args__ = (Index("ix_sample_set_members_set_position", "set_id", "position"),)

    set_id: Mapped[int] = mapped_column(
        ForeignKey("sample_sets.id", ondelete="CASCADE"), primary_key=True
    )
    sample_id: Mapped[int] = mapped_column(
        ForeignKey("samples.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sample_set: Mapped[SampleSet] = relationship(back_populates="members", lazy="raise")
    sample: Mapped[Sample] = relationship(back_populates="memberships", lazy="raise")


class Render(Base):
    """One version's output on one input under one pipeline setting; computed once, ever."""

    __tablename__ = "renders"
    __table_args__ = (
        Index("ix_renders_state_id", "state", "id"),
        # The queue counts each user's recent claims (services/queue.py).
        Index("ix_renders_claimed_at", "claimed_at"),
        # Reference metrics find the renders of samples that have a reference.
        Index("ix_renders_input_sha256", "input_sha256"),
        # The workers page counts each worker's recently finished renders.
        Index("ix_renders_finished_at", "finished_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    render_key: Mapped[str] = mapped_column(Sha256(), unique=True)
    checkpoint_sha256: Mapped[str] = mapped_column(Sha256())
    # The version that first asked for it: how to rebuild the network (architecture, config).
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="RESTRICT"))
    input_sha256: Mapped[str] = mapped_column(Sha256(), info=BLOB_REF)
    mask_sha256: Mapped[str | None] = mapped_column(Sha256(), info=BLOB_REF)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[RenderState] = mapped_column(
        Enum(RenderState, native_enum=False, length=16, values_callable=enum_values),
        default=RenderState.QUEUED,
    )
    output_sha256: Mapped[str | None] = mapped_column(Sha256(), info=BLOB_REF)
    thumb_sha256: Mapped[str | None] = mapped_column(Sha256(), info=BLOB_REF)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str] = mapped_column(Text, default="")
    # A remark on a done render, shown on its cell: "no face found" (the output is the input).
    note: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(40))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Whose job the queue claimed it for, and which kind: each user's recent usage.
    claimed_for_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    claimed_for_kind: Mapped[JobKind | None] = mapped_column(
        Enum(JobKind, native_enum=False, length=16, values_callable=enum_values)
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    version: Mapped[Version] = relationship(lazy="raise")


class Job(Base):
    """A persisted batch of renders with progress; survives restarts."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_created_by_created", "created_by_id", "created_at"),  # rate limits
        Index("ix_jobs_kind_created", "kind", "created_at"),  # web-test expiry
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A web test's address (random, not guessable: web tests are private to their owner).
    public_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    kind: Mapped[JobKind] = mapped_column(
        Enum(JobKind, native_enum=False, length=16, values_callable=enum_values)
    )
    title: Mapped[str] = mapped_column(String(200), default="")
    # Unused by the queue since fair scheduling (services/queue.py orders by user and kind).
    priority: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobItem(Base):
    """A render a job waits for."""

    __tablename__ = "job_items"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    render_id: Mapped[int] = mapped_column(
        ForeignKey("renders.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Comparison(Base):
    """A saved, shareable page: ordered versions × a frozen list of samples."""

    __tablename__ = "comparisons"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(16), unique=True)  # the short permalink
    title: Mapped[str] = mapped_column(String(200))
    filter_id: Mapped[int] = mapped_column(
        ForeignKey("filters.id", ondelete="RESTRICT"), index=True
    )
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    filter: Mapped[Filter] = relationship(lazy="raise")
    created_by: Mapped[User | None] = relationship(lazy="raise")


class ComparisonVersion(Base):
    """A column of a comparison."""

    __tablename__ = "comparison_versions"

    comparison_id: Mapped[int] = mapped_column(
        ForeignKey("comparisons.id", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[int] = mapped_column(
        ForeignKey("versions.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)

    version: Mapped[Version] = relationship(lazy="raise")


class ComparisonSample(Base):
    """A row of a comparison."""

    __tablename__ = "comparison_samples"
    __table_args__ = (Index("ix_comparison_samples_position", "comparison_id", "position"),)

    comparison_id: Mapped[int] = mapped_column(
        ForeignKey("comparisons.id", ondelete="CASCADE"), primary_key=True
    )
    sample_id: Mapped[int] = mapped_column(
        ForeignKey("samples.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)

    sample: Mapped[Sample] = relationship(lazy="raise")


class ComparisonCell(Base):
    """Which render fills (version, sample) of a comparison, frozen when it was made."""

    __tablename__ = "comparison_cells"

    comparison_id: Mapped[int] = mapped_column(
        ForeignKey("comparisons.id", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), primary_key=True)
    render_id: Mapped[int] = mapped_column(ForeignKey("renders.id"), index=True)

    render: Mapped[Render] = relationship(lazy="raise")


class Comment(Base):
    """Feedback on a comparison, one of its rows (sample) or one cell (version × sample)."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_comparison_created", "comparison_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"))
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id", ondelete="RESTRICT"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id", ondelete="RESTRICT"))
    body: Mapped[str] = mapped_column(Text)  # Markdown, rendered sanitised
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    author: Mapped[User | None] = relationship(lazy="raise")


class Pick(Base):
    """A reviewer's choice of a best version on one row of a comparison."""

    __tablename__ = "picks"

    comparison_id: Mapped[int] = mapped_column(
        ForeignKey("comparisons.id", ondelete="CASCADE"), primary_key=True
    )
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArenaPair(Base):
    """A blind pair served to one voter; its outcome, once voted, is the vote."""

    __tablename__ = "arena_pairs"
    __table_args__ = (
        Index("ix_arena_pairs_filter_voted", "filter_id", "voted_at"),
        Index("ix_arena_pairs_voter_sample", "voter_id", "sample_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)  # the pair_id clients see
    filter_id: Mapped[int] = mapped_column(ForeignKey("filters.id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"))
    left_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    right_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    left_render_id: Mapped[int] = mapped_column(ForeignKey("renders.id"))
    right_render_id: Mapped[int] = mapped_column(ForeignKey("renders.id"))
    served_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[VoteOutcome | None] = mapped_column(
        Enum(VoteOutcome, native_enum=False, length=16, values_callable=enum_values)
    )
    voted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Analysis(Base):
    """Attention maps (Grad-CAM) or feature maps of versions × samples, run as one job."""

    __tablename__ = "analyses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(16), unique=True)  # its page: /analyses/{slug}
    title: Mapped[str] = mapped_column(String(200))
    filter_id: Mapped[int] = mapped_column(
        ForeignKey("filters.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[AnalysisKind] = mapped_column(
        Enum(AnalysisKind, native_enum=False, length=16, values_callable=enum_values)
    )
    # {"kind": "eyes" | "face" | "image" | "box", "box": [x, y, w, h] in the photo's pixels}
    region: Mapped[dict[str, Any]] = mapped_column(JSON)
    layer: Mapped[str | None] = mapped_column(String(200))  # None: each version's default
    # Which face of a photo the maps explain (0: the largest; the analysis lists them so).
    face: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The filter's pipeline settings when it was made (what a render of it would use).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Worker order: the viewer's one-sample "Why" (10) before batch analyses (0).
    priority: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The comparison it was started from (its page lists it), if any.
    comparison_id: Mapped[int | None] = mapped_column(
        ForeignKey("comparisons.id", ondelete="SET NULL"), index=True
    )

    filter: Mapped[Filter] = relationship(lazy="raise")
    created_by: Mapped[User | None] = relationship(lazy="raise")
    comparison: Mapped[Comparison | None] = relationship(lazy="raise")


class AnalysisItem(Base):
    """One version on one sample of an analysis: its map, region share, or why it failed.

    Cached by content like renders: `cache_key` names everything that decides the result, and an
    item whose key already has a done result is done when it is made (the result is copied).
    """

    __tablename__ = "analysis_items"
    __table_args__ = (
        UniqueConstraint("analysis_id", "version_id", "sample_id"),
        Index("ix_analysis_items_state_id", "state", "id"),
        Index("ix_analysis_items_analysis_position", "analysis_id", "position"),
        Index("ix_analysis_items_cache_key_state", "cache_key", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(
        ForeignKey("versions.id", ondelete="RESTRICT"), index=True
    )
    sample_id: Mapped[int] = mapped_column(
        ForeignKey("samples.id", ondelete="RESTRICT"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)  # the sample's row
    cache_key: Mapped[str] = mapped_column(Sha256())
    state: Mapped[AnalysisState] = mapped_column(
        Enum(AnalysisState, native_enum=False, length=16, values_callable=enum_values),
        default=AnalysisState.QUEUED,
    )
    error: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[str | None] = mapped_column(String(16))  # gradcam, saliency (or features)
    layer: Mapped[str | None] = mapped_column(String(200))  # the layer used
    region_share: Mapped[float | None] = mapped_column(Float)
    map_sha256: Mapped[str | None] = mapped_column(Sha256(), info=BLOB_REF)  # overlay PNG
    raw_sha256: Mapped[str | None] = mapped_column(Sha256(), info=BLOB_REF)  # 16-bit heat PNG
    grid_sha256: Mapped[str | None] = mapped_column(Sha256(), info=BLOB_REF)  # feature grid PNG
    note: Mapped[str | None] = mapped_column(Text)
    # Why a failed item failed, as a code pages can act on: "no_face" (the photo has no face a
    # face filter could crop, or the region needs one) is shown as a note, not as an error.
    reason: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(40))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    version: Mapped[Version] = relationship(lazy="raise")


class PrecisionCheck(Base):
    """A measurement of a version in reduced precision (bf16, fp16) against fp32 on its filter's
    demo set: the largest and the mean difference of the output pixels (0–255), or why it failed.

    A version renders in reduced precision only with a done check of that precision
    (services/precision.py); the worker measures queued checks in the background."""

    __tablename__ = "precision_checks"
    __table_args__ = (
        Index("ix_precision_checks_state_id", "state", "id"),
        Index("ix_precision_checks_version_precision", "version_id", "precision"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"))
    precision: Mapped[str] = mapped_column(String(8))  # "bf16" or "fp16"
    state: Mapped[PrecisionCheckState] = mapped_column(
        Enum(PrecisionCheckState, native_enum=False, length=16, values_callable=enum_values),
        default=PrecisionCheckState.QUEUED,
    )
    max_diff: Mapped[int | None] = mapped_column(Integer)  # 0–255, over every output pixel
    mean_diff: Mapped[float | None] = mapped_column(Float)  # 0–255, over every output value
    samples: Mapped[int] = mapped_column(Integer, default=0)  # demo samples measured
    inputs: Mapped[int] = mapped_column(Integer, default=0)  # network inputs (faces: crops)
    set_name: Mapped[str] = mapped_column(String(300), default="")  # what the demo set was
    device: Mapped[str] = mapped_column(String(64), default="")  # the executor's, e.g. cuda:0
    error: Mapped[str] = mapped_column(Text, default="")
    worker_id: Mapped[str | None] = mapped_column(String(40))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    measured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkerRow(Base):
    """A render worker's heartbeat: one row per life of a worker (`RenderWorker.worker_id`).

    The worker writes `last_seen` every GANSTUDIO_WORKER_HEARTBEAT_SECONDS; a row not written
    for GANSTUDIO_WORKER_TIMEOUT_SECONDS is a dead worker, and any live worker queues its running
    renders again (services/workers.py). What it is rendering is read from `renders.worker_id`.
    """

    __tablename__ = "workers"
    __table_args__ = (Index("ix_workers_last_seen", "last_seen"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # host/device/pid-xxxx
    host: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(16))
    pid: Mapped[int] = mapped_column(Integer)
    state: Mapped[WorkerState] = mapped_column(
        Enum(WorkerState, native_enum=False, length=16, values_callable=enum_values),
        default=WorkerState.RUNNING,
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    renders_done: Mapped[int] = mapped_column(Integer, default=0)  # recorded by this life


class SignInCounter(Base):
    """One counter of the sign-in throttle (services/throttle.py), shared by every web process:
    failed attempts per name and address, per address, or per name, and when the last one was."""

    __tablename__ = "sign_in_counters"
    __table_args__ = (Index("ix_sign_in_counters_last_at", "last_at"),)

    key: Mapped[str] = mapped_column(String(400), primary_key=True)  # "pair:…", "address:…", …
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[float] = mapped_column(Float)  # seconds since the epoch
