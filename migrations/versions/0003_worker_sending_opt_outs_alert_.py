"""worker: sending, opt-outs, alert notification

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:26:34.725937
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('opt_outs',
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('opted_out_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('phone', name=op.f('pk_opt_outs'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('outgoing_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('dedupe_key', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index(batch_op.f('ix_outgoing_messages_to'))
        batch_op.create_index(batch_op.f('ix_outgoing_messages_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index('ix_outgoing_messages_to_created_at', ['to', 'created_at'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_outgoing_messages_dedupe_key'), ['dedupe_key'])
        batch_op.create_foreign_key(batch_op.f('fk_outgoing_messages_alert_id_alerts'), 'alerts', ['alert_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('outgoing_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outgoing_messages_alert_id_alerts'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_outgoing_messages_dedupe_key'), type_='unique')
        batch_op.drop_index('ix_outgoing_messages_to_created_at')
        batch_op.drop_index(batch_op.f('ix_outgoing_messages_alert_id'))
        batch_op.create_index(batch_op.f('ix_outgoing_messages_to'), ['to'], unique=False)
        batch_op.drop_column('sent_at')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('dedupe_key')
        batch_op.drop_column('alert_id')

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('notified_at')

    op.drop_table('opt_outs')
