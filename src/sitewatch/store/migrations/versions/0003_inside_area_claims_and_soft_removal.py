"""area inside the site, alert claims, soft removal of sites

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("area_inside_m2", sa.Float(), nullable=True))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("removed_at")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("area_inside_m2")
