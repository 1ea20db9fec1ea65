"""renders jobs comparisons

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 05:35:47.695218
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("comparison", "webtest", name="jobkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_jobs_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_table(
        "comparisons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("filter_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_comparisons_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["filter_id"],
            ["filters.id"],
            name=op.f("fk_comparisons_filter_id_filters"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_comparisons_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comparisons")),
        sa.UniqueConstraint("slug", name=op.f("uq_comparisons_slug")),
    )
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_comparisons_filter_id"), ["filter_id"], unique=False)

    op.create_table(
        "comparison_samples",
        sa.Column("comparison_id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_comparison_samples_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["samples.id"],
            name=op.f("fk_comparison_samples_sample_id_samples"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("comparison_id", "sample_id", name=op.f("pk_comparison_samples")),
    )
    with op.batch_alter_table("comparison_samples", schema=None) as batch_op:
        batch_op.create_index(
            "ix_comparison_samples_position", ["comparison_id", "position"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_comparison_samples_sample_id"), ["sample_id"], unique=False
        )

    op.create_table(
        "comparison_versions",
        sa.Column("comparison_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_comparison_versions_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_comparison_versions_version_id_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("comparison_id", "version_id", name=op.f("pk_comparison_versions")),
    )
    with op.batch_alter_table("comparison_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_comparison_versions_version_id"), ["version_id"], unique=False
        )

    op.create_table(
        "renders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("render_key", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_sha256", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("input_sha256", sa.String(length=64), nullable=False),
        sa.Column("mask_sha256", sa.String(length=64), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                name="renderstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("output_sha256", sa.String(length=64), nullable=True),
        sa.Column("thumb_sha256", sa.String(length=64), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(length=40), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_renders_version_id_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renders")),
        sa.UniqueConstraint("render_key", name=op.f("uq_renders_render_key")),
    )
    with op.batch_alter_table("renders", schema=None) as batch_op:
        batch_op.create_index("ix_renders_state_id", ["state", "id"], unique=False)

    op.create_table(
        "comparison_cells",
        sa.Column("comparison_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("render_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_comparison_cells_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["render_id"], ["renders.id"], name=op.f("fk_comparison_cells_render_id_renders")
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"], ["samples.id"], name=op.f("fk_comparison_cells_sample_id_samples")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_comparison_cells_version_id_versions")
        ),
        sa.PrimaryKeyConstraint(
            "comparison_id", "version_id", "sample_id", name=op.f("pk_comparison_cells")
        ),
    )
    with op.batch_alter_table("comparison_cells", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_comparison_cells_render_id"), ["render_id"], unique=False
        )

    op.create_table(
        "job_items",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("render_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_items_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["render_id"],
            ["renders.id"],
            name=op.f("fk_job_items_render_id_renders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "render_id", name=op.f("pk_job_items")),
    )
    with op.batch_alter_table("job_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_items_render_id"), ["render_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_items_render_id"))

    op.drop_table("job_items")
    with op.batch_alter_table("comparison_cells", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comparison_cells_render_id"))

    op.drop_table("comparison_cells")
    with op.batch_alter_table("renders", schema=None) as batch_op:
        batch_op.drop_index("ix_renders_state_id")

    op.drop_table("renders")
    with op.batch_alter_table("comparison_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comparison_versions_version_id"))

    op.drop_table("comparison_versions")
    with op.batch_alter_table("comparison_samples", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comparison_samples_sample_id"))
        batch_op.drop_index("ix_comparison_samples_position")

    op.drop_table("comparison_samples")
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comparisons_filter_id"))

    op.drop_table("comparisons")
    op.drop_table("jobs")
