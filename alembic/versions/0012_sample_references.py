"""samples get a reference (target) image; PSNR/SSIM of renders against references

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference_sha256", sa.String(length=64), nullable=True))
    with op.batch_alter_table("renders", schema=None) as batch_op:
        batch_op.create_index("ix_renders_input_sha256", ["input_sha256"], unique=False)
    op.create_table(
        "reference_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("output_sha256", sa.String(length=64), nullable=False),
        sa.Column("reference_sha256", sa.String(length=64), nullable=False),
        sa.Column("psnr", sa.Float(), nullable=True),
        sa.Column("ssim", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_metrics")),
        sa.UniqueConstraint(
            "output_sha256",
            "reference_sha256",
            name=op.f("uq_reference_metrics_output_sha256_reference_sha256"),
        ),
    )


def downgrade() -> None:
    op.drop_table("reference_metrics")
    with op.batch_alter_table("renders", schema=None) as batch_op:
        batch_op.drop_index("ix_renders_input_sha256")
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_column("reference_sha256")
