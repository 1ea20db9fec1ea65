"""filters choose a precision (fp32, or bf16/fp16 as an opt-in); versions are measured in
reduced precision against fp32 on the demo set before they render in it

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 02:01:47.163257
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "precision_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("precision", sa.String(length=8), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                name="precisioncheckstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("max_diff", sa.Integer(), nullable=True),
        sa.Column("mean_diff", sa.Float(), nullable=True),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("inputs", sa.Integer(), nullable=False),
        sa.Column("set_name", sa.String(length=300), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("worker_id", sa.String(length=40), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("measured_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_precision_checks_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_precision_checks_version_id_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_precision_checks")),
    )
    with op.batch_alter_table("precision_checks", schema=None) as batch_op:
        batch_op.create_index("ix_precision_checks_state_id", ["state", "id"], unique=False)
        batch_op.create_index(
            "ix_precision_checks_version_precision", ["version_id", "precision"], unique=False
        )

    # "fp32" for every existing filter: their renders keep their keys and pixels.
    with op.batch_alter_table("filters", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("precision", sa.String(length=8), server_default="fp32", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("filters", schema=None) as batch_op:
        batch_op.drop_column("precision")

    with op.batch_alter_table("precision_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_precision_checks_version_precision")
        batch_op.drop_index("ix_precision_checks_state_id")

    op.drop_table("precision_checks")
