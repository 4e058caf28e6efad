"""due items: open care by day and volunteer

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 09:33:55.297452
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('due_items', schema=None) as batch_op:
        batch_op.create_index('ix_due_items_open_due_on_volunteer_id', ['due_on', 'volunteer_id', 'id'], unique=False, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))



def downgrade() -> None:
    with op.batch_alter_table('due_items', schema=None) as batch_op:
        batch_op.drop_index('ix_due_items_open_due_on_volunteer_id', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

