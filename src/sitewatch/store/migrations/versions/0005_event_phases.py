"""phases of a change: which earlier event at the same place an event follows

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phase", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("follows_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_events_follows_id_events", "events", ["follows_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("fk_events_follows_id_events", type_="foreignkey")
        batch_op.drop_column("follows_id")
        batch_op.drop_column("phase")
