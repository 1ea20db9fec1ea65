"""analyses: attention and feature maps of versions on samples, as jobs

Revision ID: 0014
Revises: 0011
Create Date: 2026-11-26 23:08:16.286891
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # jobs.kind gains "analysis": a non-native enum of the same length, so no change there.
    op.create_table(
        "analyses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("filter_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("gradcam", "features", name="analysiskind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("region", sa.JSON(), nullable=False),
        sa.Column("layer", sa.String(length=200), nullable=True),
        sa.Column("face", sa.Integer(), server_default="0", nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("comparison_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_analyses_comparison_id_comparisons"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_analyses_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["filter_id"],
            ["filters.id"],
            name=op.f("fk_analyses_filter_id_filters"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_analyses_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analyses")),
        sa.UniqueConstraint("slug", name=op.f("uq_analyses_slug")),
    )
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analyses_filter_id"), ["filter_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_analyses_comparison_id"), ["comparison_id"], unique=False
        )

    op.create_table(
        "analysis_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("analysis_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("cache_key", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                "cancelled",
                name="analysisstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("layer", sa.String(length=200), nullable=True),
        sa.Column("region_share", sa.Float(), nullable=True),
        sa.Column("map_sha256", sa.String(length=64), nullable=True),
        sa.Column("raw_sha256", sa.String(length=64), nullable=True),
        sa.Column("grid_sha256", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(length=40), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analyses.id"],
            name=op.f("fk_analysis_items_analysis_id_analyses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["samples.id"],
            name=op.f("fk_analysis_items_sample_id_samples"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_analysis_items_version_id_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_items")),
        sa.UniqueConstraint(
            "analysis_id",
            "version_id",
            "sample_id",
            name=op.f("uq_analysis_items_analysis_id_version_id_sample_id"),
        ),
    )
    with op.batch_alter_table("analysis_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_analysis_items_analysis_position", ["analysis_id", "position"], unique=False
        )
        batch_op.create_index(
            "ix_analysis_items_cache_key_state", ["cache_key", "state"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_analysis_items_sample_id"), ["sample_id"], unique=False
        )
        batch_op.create_index("ix_analysis_items_state_id", ["state", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_analysis_items_version_id"), ["version_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("analysis_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_items_version_id"))
        batch_op.drop_index("ix_analysis_items_state_id")
        batch_op.drop_index(batch_op.f("ix_analysis_items_sample_id"))
        batch_op.drop_index("ix_analysis_items_cache_key_state")
        batch_op.drop_index("ix_analysis_items_analysis_position")

    op.drop_table("analysis_items")
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analyses_comparison_id"))
        batch_op.drop_index(batch_op.f("ix_analyses_filter_id"))

    op.drop_table("analyses")
