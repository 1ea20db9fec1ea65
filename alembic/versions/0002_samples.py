"""samples: samples, tags, sample sets and their ordered members

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 05:14:05.137837
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_tags_name")),
    )
    op.create_table(
        "sample_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_sample_sets_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_sets")),
        sa.UniqueConstraint("name", name=op.f("uq_sample_sets_name")),
    )
    with op.batch_alter_table("sample_sets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_sets_archived"), ["archived"], unique=False)

    op.create_table(
        "samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=160), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("thumb_sha256", sa.String(length=64), nullable=False),
        sa.Column("mask_sha256", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_samples_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_samples")),
        sa.UniqueConstraint("sha256", name=op.f("uq_samples_sha256")),
    )
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.create_index("ix_samples_archived_id", ["archived", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_samples_filename"), ["filename"], unique=False)

    op.create_table(
        "sample_set_members",
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["samples.id"],
            name=op.f("fk_sample_set_members_sample_id_samples"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["sample_sets.id"],
            name=op.f("fk_sample_set_members_set_id_sample_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("set_id", "sample_id", name=op.f("pk_sample_set_members")),
    )
    with op.batch_alter_table("sample_set_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sample_set_members_sample_id"), ["sample_id"], unique=False
        )
        batch_op.create_index(
            "ix_sample_set_members_set_position", ["set_id", "position"], unique=False
        )

    op.create_table(
        "sample_tags",
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["samples.id"],
            name=op.f("fk_sample_tags_sample_id_samples"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_sample_tags_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sample_id", "tag_id", name=op.f("pk_sample_tags")),
    )
    with op.batch_alter_table("sample_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_tags_tag_id"), ["tag_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sample_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_tags_tag_id"))

    op.drop_table("sample_tags")
    with op.batch_alter_table("sample_set_members", schema=None) as batch_op:
        batch_op.drop_index("ix_sample_set_members_set_position")
        batch_op.drop_index(batch_op.f("ix_sample_set_members_sample_id"))

    op.drop_table("sample_set_members")
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_samples_filename"))
        batch_op.drop_index("ix_samples_archived_id")

    op.drop_table("samples")
    with op.batch_alter_table("sample_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_sets_archived"))

    op.drop_table("sample_sets")
    op.drop_table("tags")
