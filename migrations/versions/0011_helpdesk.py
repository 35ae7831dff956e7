"""Helpdesk sync: each incident's parent ticket, each ticket's part in a helpdesk job, the export
cursor, and providers' request budgets that all workers share

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 21:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('helpdesk_problems',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_helpdesk_problems_incident_id_incidents'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('incident_id', name=op.f('pk_helpdesk_problems'))
    )
    op.create_table('helpdesk_syncs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_helpdesk_syncs_delivery_id_deliveries'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_helpdesk_syncs_incident_id_incidents'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_helpdesk_syncs_ticket_id_tickets'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_helpdesk_syncs'))
    )
    with op.batch_alter_table('helpdesk_syncs', schema=None) as batch_op:
        batch_op.create_index('ix_helpdesk_syncs_delivery', ['delivery_id'], unique=False)
        batch_op.create_index('ix_helpdesk_syncs_incident', ['incident_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_helpdesk_syncs_ticket_id'), ['ticket_id'], unique=False)
    op.create_table('helpdesk_cursors',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('cursor', sa.Text(), nullable=True),
    sa.Column('polled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tickets', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_helpdesk_cursors'))
    )
    op.create_table('provider_budgets',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('tokens', sa.Float(), nullable=False),
    sa.Column('refilled_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_provider_budgets'))
    )


def downgrade():
    op.drop_table('provider_budgets')
    op.drop_table('helpdesk_cursors')
    with op.batch_alter_table('helpdesk_syncs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_helpdesk_syncs_ticket_id'))
        batch_op.drop_index('ix_helpdesk_syncs_incident')
        batch_op.drop_index('ix_helpdesk_syncs_delivery')
    op.drop_table('helpdesk_syncs')
    op.drop_table('helpdesk_problems')
