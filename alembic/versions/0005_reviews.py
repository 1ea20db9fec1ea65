"""reviews

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 05:41:31.109011
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comparison_id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_comments_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_comments_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["samples.id"],
            name=op.f("fk_comments_sample_id_samples"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_comments_version_id_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_comments_comparison_created", ["comparison_id", "created_at"], unique=False
        )

    op.create_table(
        "picks",
        sa.Column("comparison_id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_picks_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_picks_reviewer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"], ["samples.id"], name=op.f("fk_picks_sample_id_samples")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_picks_version_id_versions")
        ),
        sa.PrimaryKeyConstraint(
            "comparison_id", "sample_id", "reviewer_id", "version_id", name=op.f("pk_picks")
        ),
    )
    op.create_table(
        "arena_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("filter_id", sa.Integer(), nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("left_version_id", sa.Integer(), nullable=False),
        sa.Column("right_version_id", sa.Integer(), nullable=False),
        sa.Column("left_render_id", sa.Integer(), nullable=False),
        sa.Column("right_render_id", sa.Integer(), nullable=False),
        sa.Column("served_at", sa.DateTime(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "left", "right", "tie", "both_bad", name="voteoutcome", native_enum=False, length=16
            ),
            nullable=True,
        ),
        sa.Column("voted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["filter_id"],
            ["filters.id"],
            name=op.f("fk_arena_pairs_filter_id_filters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["left_render_id"], ["renders.id"], name=op.f("fk_arena_pairs_left_render_id_renders")
        ),
        sa.ForeignKeyConstraint(
            ["left_version_id"],
            ["versions.id"],
            name=op.f("fk_arena_pairs_left_version_id_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["right_render_id"], ["renders.id"], name=op.f("fk_arena_pairs_right_render_id_renders")
        ),
        sa.ForeignKeyConstraint(
            ["right_version_id"],
            ["versions.id"],
            name=op.f("fk_arena_pairs_right_version_id_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"], ["samples.id"], name=op.f("fk_arena_pairs_sample_id_samples")
        ),
        sa.ForeignKeyConstraint(
            ["voter_id"],
            ["users.id"],
            name=op.f("fk_arena_pairs_voter_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arena_pairs")),
        sa.UniqueConstraint("token", name=op.f("uq_arena_pairs_token")),
    )
    with op.batch_alter_table("arena_pairs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_arena_pairs_filter_voted", ["filter_id", "voted_at"], unique=False
        )
        batch_op.create_index(
            "ix_arena_pairs_voter_sample", ["voter_id", "sample_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("arena_pairs", schema=None) as batch_op:
        batch_op.drop_index("ix_arena_pairs_voter_sample")
        batch_op.drop_index("ix_arena_pairs_filter_voted")

    op.drop_table("arena_pairs")
    op.drop_table("picks")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index("ix_comments_comparison_created")

    op.drop_table("comments")
