"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 09:06:16.593007
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.Enum('district', 'township', 'village', name='areakind', native_enum=False), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['areas.id'], name=op.f('fk_areas_parent_id_areas')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_areas')),
    sa.UniqueConstraint('parent_id', 'name', name=op.f('uq_areas_parent_id_name'))
    )
    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_areas_parent_id'), ['parent_id'], unique=False)

    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('role', sa.Enum('volunteer', 'staff', 'admin', name='role', native_enum=False), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('phone', name=op.f('uq_contacts_phone'))
    )
    op.create_table('short_ids',
    sa.Column('value', sa.String(length=12), nullable=False),
    sa.Column('kind', sa.Enum('household', 'person', name='idkind', native_enum=False), nullable=False),
    sa.PrimaryKeyConstraint('value', name=op.f('pk_short_ids'))
    )
    op.create_table('contact_areas',
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_contact_areas_area_id_areas')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_areas_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contact_id', 'area_id', name=op.f('pk_contact_areas'))
    )
    with op.batch_alter_table('contact_areas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_areas_area_id'), ['area_id'], unique=False)

    op.create_table('households',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('short_id', sa.String(length=12), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('head_name', sa.String(length=80), nullable=False),
    sa.Column('registered_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_visit_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['registered_by_id'], ['contacts.id'], name=op.f('fk_households_registered_by_id_contacts')),
    sa.ForeignKeyConstraint(['short_id'], ['short_ids.value'], name=op.f('fk_households_short_id_short_ids')),
    sa.ForeignKeyConstraint(['village_id'], ['areas.id'], name=op.f('fk_households_village_id_areas')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_households')),
    sa.UniqueConstraint('short_id', name=op.f('uq_households_short_id'))
    )
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_households_village_id'), ['village_id'], unique=False)

    op.create_table('inbound_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('provider_id', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=40), nullable=False),
    sa.Column('receiver', sa.String(length=40), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('accepted', 'rejected', 'ignored', 'failed', name='messagestatus', native_enum=False), nullable=True),
    sa.Column('error', sa.String(length=32), nullable=True),
    sa.Column('form', sa.String(length=16), nullable=True),
    sa.Column('language', sa.String(length=5), nullable=True),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('record_type', sa.String(length=16), nullable=True),
    sa.Column('record_id', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_inbound_messages_contact_id_contacts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages')),
    sa.UniqueConstraint('channel', 'provider_id', name=op.f('uq_inbound_messages_channel_provider_id'))
    )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_messages_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_messages_sender'), ['sender'], unique=False)

    op.create_table('outgoing_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('to', sa.String(length=20), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('reply', 'reminder', 'alert', 'summary', name='outgoingkind', native_enum=False), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('queued', 'retrying', 'sent', 'delivered', 'failed', 'stale', 'muted', 'duplicate', 'opted_out', name='outgoingstatus', native_enum=False), nullable=False),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('error', sa.String(length=200), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_outgoing_messages_contact_id_contacts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_messages')),
    sa.UniqueConstraint('provider_id', name=op.f('uq_outgoing_messages_provider_id'))
    )
    with op.batch_alter_table('outgoing_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outgoing_messages_status', ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_outgoing_messages_to'), ['to'], unique=False)

    op.create_table('outgoing_status_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('queued', 'retrying', 'sent', 'delivered', 'failed', 'stale', 'muted', 'duplicate', 'opted_out', name='outgoingstatus', native_enum=False), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['outgoing_messages.id'], name=op.f('fk_outgoing_status_changes_message_id_outgoing_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_status_changes'))
    )
    with op.batch_alter_table('outgoing_status_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outgoing_status_changes_message_id'), ['message_id'], unique=False)

    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('short_id', sa.String(length=12), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('birth_date_estimated', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('active', 'moved_out', 'deceased', name='personstatus', native_enum=False), nullable=False),
    sa.Column('reminders_off', sa.Boolean(), nullable=False),
    sa.Column('registered_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_people_household_id_households')),
    sa.ForeignKeyConstraint(['registered_by_id'], ['contacts.id'], name=op.f('fk_people_registered_by_id_contacts')),
    sa.ForeignKeyConstraint(['short_id'], ['short_ids.value'], name=op.f('fk_people_short_id_short_ids')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people')),
    sa.UniqueConstraint('short_id', name=op.f('uq_people_short_id'))
    )
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_people_household_id'), ['household_id'], unique=False)

    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form', sa.String(length=16), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('accepted', 'flagged', 'verified', 'wrong', name='reportstatus', native_enum=False), nullable=False),
    sa.Column('reported_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('flag_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_reports_household_id_households')),
    sa.ForeignKeyConstraint(['message_id'], ['inbound_messages.id'], name=op.f('fk_reports_message_id_inbound_messages')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_reports_person_id_people')),
    sa.ForeignKeyConstraint(['sender_id'], ['contacts.id'], name=op.f('fk_reports_sender_id_contacts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
    sa.UniqueConstraint('message_id', name=op.f('uq_reports_message_id'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reports_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reports_sender_id'), ['sender_id'], unique=False)

    op.create_table('due_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule', sa.String(length=32), nullable=False),
    sa.Column('item', sa.String(length=32), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('volunteer_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('window_start', sa.Date(), nullable=False),
    sa.Column('window_end', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('open', 'done', 'muted', 'ended', 'overdue', name='duestatus', native_enum=False), nullable=False),
    sa.Column('cleared_by_report_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cleared_by_report_id'], ['reports.id'], name=op.f('fk_due_items_cleared_by_report_id_reports')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_due_items_household_id_households')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_due_items_person_id_people')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['contacts.id'], name=op.f('fk_due_items_volunteer_id_contacts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_due_items'))
    )
    with op.batch_alter_table('due_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_due_items_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_due_items_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_due_items_status_due_on', ['status', 'due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_due_items_volunteer_id'), ['volunteer_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('due_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_due_items_volunteer_id'))
        batch_op.drop_index('ix_due_items_status_due_on')
        batch_op.drop_index(batch_op.f('ix_due_items_person_id'))
        batch_op.drop_index(batch_op.f('ix_due_items_household_id'))

    op.drop_table('due_items')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_sender_id'))
        batch_op.drop_index(batch_op.f('ix_reports_person_id'))
        batch_op.drop_index(batch_op.f('ix_reports_household_id'))

    op.drop_table('reports')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_people_household_id'))

    op.drop_table('people')
    with op.batch_alter_table('outgoing_status_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outgoing_status_changes_message_id'))

    op.drop_table('outgoing_status_changes')
    with op.batch_alter_table('outgoing_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outgoing_messages_to'))
        batch_op.drop_index('ix_outgoing_messages_status')

    op.drop_table('outgoing_messages')
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_messages_sender'))
        batch_op.drop_index(batch_op.f('ix_inbound_messages_contact_id'))

    op.drop_table('inbound_messages')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_households_village_id'))

    op.drop_table('households')
    with op.batch_alter_table('contact_areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_areas_area_id'))

    op.drop_table('contact_areas')
    op.drop_table('short_ids')
    op.drop_table('contacts')
    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_areas_parent_id'))

    op.drop_table('areas')
