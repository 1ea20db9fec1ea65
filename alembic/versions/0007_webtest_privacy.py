"""webtest privacy and fair use: opaque web-test ids, claim records, indexes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 17:39:44.567271
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_id", sa.String(length=32), nullable=True))
        batch_op.create_index(
            "ix_jobs_created_by_created", ["created_by_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_jobs_kind_created", ["kind", "created_at"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_jobs_public_id"), ["public_id"])

    # Web tests made before this revision get an opaque id too (their old links stop working:
    # that is the point, sequential ids were guessable).
    jobs = sa.table("jobs", sa.column("id", sa.Integer), sa.column("kind", sa.String))
    connection = op.get_bind()
    webtest_ids = connection.execute(sa.select(jobs.c.id).where(jobs.c.kind == "webtest")).scalars()
    for job_id in list(webtest_ids):
        connection.execute(
            sa.text("UPDATE jobs SET public_id = :public_id WHERE id = :id"),
            {"public_id": secrets.token_urlsafe(16), "id": job_id},
        )

    with op.batch_alter_table("renders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_for_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "claimed_for_kind",
                sa.Enum("comparison", "webtest", name="jobkind", native_enum=False, length=16),
                nullable=True,
            )
        )
        batch_op.create_index("ix_renders_claimed_at", ["claimed_at"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_renders_claimed_for_id_users"),
            "users",
            ["claimed_for_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("renders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_renders_claimed_for_id_users"), type_="foreignkey")
        batch_op.drop_index("ix_renders_claimed_at")
        batch_op.drop_column("claimed_for_kind")
        batch_op.drop_column("claimed_for_id")

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_jobs_public_id"), type_="unique")
        batch_op.drop_index("ix_jobs_kind_created")
        batch_op.drop_index("ix_jobs_created_by_created")
        batch_op.drop_column("public_id")
