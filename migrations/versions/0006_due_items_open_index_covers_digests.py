"""due items: the open-care index covers what a digest reads of each item

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 11:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

INDEX = 'ix_due_items_open_due_on_volunteer_id'
COLUMNS = ['due_on', 'volunteer_id', 'id']
OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    # PostgreSQL only: an index-only scan then gives the tick each ranked item's schedule, item and
    # person without a read of the table. SQLite has no INCLUDE; its index stays as it is.
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_index(INDEX, table_name='due_items', postgresql_where=OPEN)
    op.create_index(INDEX, 'due_items', COLUMNS, unique=False, postgresql_where=OPEN,
                    postgresql_include=['schedule', 'item', 'person_id', 'household_id'])


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_index(INDEX, table_name='due_items', postgresql_where=OPEN)
    op.create_index(INDEX, 'due_items', COLUMNS, unique=False, postgresql_where=OPEN)
