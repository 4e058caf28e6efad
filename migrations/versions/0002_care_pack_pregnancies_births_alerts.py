"""care pack: pregnancies, births, alerts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 09:20:49.538332
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pregnancies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('lmp', sa.Date(), nullable=False),
    sa.Column('edd', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('open', 'delivered', 'lost', 'ended', name='pregnancystatus', native_enum=False), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('ended_report_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ended_report_id'], ['reports.id'], name=op.f('fk_pregnancies_ended_report_id_reports')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_pregnancies_person_id_people')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_pregnancies_report_id_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pregnancies'))
    )
    with op.batch_alter_table('pregnancies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pregnancies_person_id'), ['person_id'], unique=False)
        batch_op.create_index('uq_pregnancies_open_person', ['person_id'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('danger', 'loss', 'death', 'overdue', 'verify', name='alertkind', native_enum=False), nullable=False),
    sa.Column('status', sa.Enum('open', 'acknowledged', 'resolved', name='alertstatus', native_enum=False), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('due_item_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('codes', sa.String(length=16), nullable=True),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['due_item_id'], ['due_items.id'], name=op.f('fk_alerts_due_item_id_due_items')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_alerts_household_id_households')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_alerts_person_id_people')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_alerts_report_id_reports')),
    sa.ForeignKeyConstraint(['village_id'], ['areas.id'], name=op.f('fk_alerts_village_id_areas')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_alerts_status_created_at', ['status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_village_id'), ['village_id'], unique=False)

    op.create_table('births',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mother_id', sa.Integer(), nullable=False),
    sa.Column('baby_id', sa.Integer(), nullable=False),
    sa.Column('pregnancy_id', sa.Integer(), nullable=True),
    sa.Column('born_on', sa.Date(), nullable=False),
    sa.Column('place', sa.String(length=1), nullable=False),
    sa.Column('weight_kg', sa.Float(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['baby_id'], ['people.id'], name=op.f('fk_births_baby_id_people')),
    sa.ForeignKeyConstraint(['mother_id'], ['people.id'], name=op.f('fk_births_mother_id_people')),
    sa.ForeignKeyConstraint(['pregnancy_id'], ['pregnancies.id'], name=op.f('fk_births_pregnancy_id_pregnancies')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_births_report_id_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_births')),
    sa.UniqueConstraint('baby_id', name=op.f('uq_births_baby_id'))
    )
    with op.batch_alter_table('births', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_births_mother_id'), ['mother_id'], unique=False)

    op.create_table('alert_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'acknowledged', 'resolved', name='alertstatus', native_enum=False), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_events_alert_id_alerts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['by_id'], ['contacts.id'], name=op.f('fk_alert_events_by_id_contacts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_events'))
    )
    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_events_alert_id'), ['alert_id'], unique=False)

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('mother_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_people_mother_id'), ['mother_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_people_mother_id_people'), 'people', ['mother_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_people_mother_id_people'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_people_mother_id'))
        batch_op.drop_column('mother_id')
        batch_op.drop_column('status_on')

    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_events_alert_id'))

    op.drop_table('alert_events')
    with op.batch_alter_table('births', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_births_mother_id'))

    op.drop_table('births')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_village_id'))
        batch_op.drop_index('ix_alerts_status_created_at')
        batch_op.drop_index(batch_op.f('ix_alerts_person_id'))

    op.drop_table('alerts')
    with op.batch_alter_table('pregnancies', schema=None) as batch_op:
        batch_op.drop_index('uq_pregnancies_open_person', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.drop_index(batch_op.f('ix_pregnancies_person_id'))

    op.drop_table('pregnancies')
