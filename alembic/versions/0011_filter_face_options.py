"""face filters keep their face options: which faces, the crop margin, eye alignment

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 22:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # {} means the defaults (every face, the whole head, eyes level): existing filters keep the
    # crops they rendered with.
    with op.batch_alter_table("filters", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("face_options", sa.JSON(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("filters", schema=None) as batch_op:
        batch_op.drop_column("face_options")
