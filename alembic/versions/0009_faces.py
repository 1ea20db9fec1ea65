"""faces: analyses per image and detector, eye-mask jobs, where each sample's mask came from

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 21:55:04.669298
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "face_analyses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("detector", sa.String(length=120), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("faces", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_analyses")),
        sa.UniqueConstraint(
            "image_sha256", "detector", name=op.f("uq_face_analyses_image_sha256_detector")
        ),
    )
    op.create_table(
        "mask_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("overwrite", sa.Boolean(), nullable=False),
        sa.Column("sample_ids", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("kept", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_mask_jobs_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["sample_sets.id"],
            name=op.f("fk_mask_jobs_set_id_sample_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mask_jobs")),
    )
    with op.batch_alter_table("mask_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mask_jobs_finished_at"), ["finished_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_mask_jobs_set_id"), ["set_id"], unique=False)

    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mask_source", sa.String(length=16), nullable=True))
    # Every mask before this revision was uploaded by hand.
    op.execute("UPDATE samples SET mask_source = 'uploaded' WHERE mask_sha256 IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_column("mask_source")

    with op.batch_alter_table("mask_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mask_jobs_set_id"))
        batch_op.drop_index(batch_op.f("ix_mask_jobs_finished_at"))

    op.drop_table("mask_jobs")
    op.drop_table("face_analyses")
