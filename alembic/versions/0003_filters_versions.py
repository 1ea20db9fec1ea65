"""filters and versions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 05:30:31.783589
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "pipeline",
            sa.Enum("full", "face", name="pipeline", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("input_size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_filters_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_filters")),
        sa.UniqueConstraint("slug", name=op.f("uq_filters_slug")),
    )
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filter_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("branch", sa.String(length=64), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "candidate",
                "approved",
                "production",
                "archived",
                name="versionstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("checkpoint_sha256", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_filename", sa.String(length=255), nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_format", sa.String(length=16), nullable=False),
        sa.Column("architecture", sa.String(length=64), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("input_channels", sa.Integer(), nullable=False),
        sa.Column("param_count", sa.BigInteger(), nullable=False),
        sa.Column("gflops_512", sa.Float(), nullable=True),
        sa.Column("latency_ms_512", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_versions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["filter_id"],
            ["filters.id"],
            name=op.f("fk_versions_filter_id_filters"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["versions.id"],
            name=op.f("fk_versions_parent_id_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_versions")),
        sa.UniqueConstraint(
            "filter_id", "checkpoint_sha256", name=op.f("uq_versions_filter_id_checkpoint_sha256")
        ),
        sa.UniqueConstraint("filter_id", "label", name=op.f("uq_versions_filter_id_label")),
    )
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.create_index("ix_versions_filter_branch", ["filter_id", "branch"], unique=False)
        batch_op.create_index(
            "ix_versions_filter_created", ["filter_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_versions_filter_status", ["filter_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_versions_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(
            "uq_versions_one_production",
            ["filter_id"],
            unique=True,
            sqlite_where=sa.text("status = 'production'"),
            postgresql_where=sa.text("status = 'production'"),
        )

    op.create_table(
        "version_status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column(
            "from_status",
            sa.Enum(
                "candidate",
                "approved",
                "production",
                "archived",
                name="versionstatus",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "candidate",
                "approved",
                "production",
                "archived",
                name="versionstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_version_status_changes_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_version_status_changes_version_id_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_status_changes")),
    )
    with op.batch_alter_table("version_status_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_version_status_changes_version_id"), ["version_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("version_status_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_version_status_changes_version_id"))

    op.drop_table("version_status_changes")
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_versions_one_production",
            sqlite_where=sa.text("status = 'production'"),
            postgresql_where=sa.text("status = 'production'"),
        )
        batch_op.drop_index(batch_op.f("ix_versions_parent_id"))
        batch_op.drop_index("ix_versions_filter_status")
        batch_op.drop_index("ix_versions_filter_created")
        batch_op.drop_index("ix_versions_filter_branch")

    op.drop_table("versions")
    op.drop_table("filters")
