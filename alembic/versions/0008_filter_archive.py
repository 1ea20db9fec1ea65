"""filters can be archived: hidden from lists and pickers, never deleted

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("filters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("filters", schema=None) as batch_op:
        batch_op.drop_column("archived_at")
