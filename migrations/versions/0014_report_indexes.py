"""Indexes for reports: incidents by declaration time; linked tickets' tags per incident (partial:
linked tickets only, so ingest pays nothing); broadcast messages by the time a provider took them;
an incident's timeline events by kind (its reopens)

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-04 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = "0013"
branch_labels = None
depends_on = None

LINKED = "incident_id IS NOT NULL"
BROADCAST_SENT = "purpose = 'broadcast' AND sent_at IS NOT NULL"


def upgrade():
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_declared_at', ['declared_at'], unique=False)
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_linked_tags', ['incident_id', 'tags'], unique=False,
                              sqlite_where=sa.text(LINKED), postgresql_where=sa.text(LINKED))
    with op.batch_alter_table('timeline_events', schema=None) as batch_op:
        batch_op.create_index('ix_timeline_events_incident_kind', ['incident_id', 'kind'], unique=False)
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_broadcast_sent', ['incident_id', 'sent_at'], unique=False,
                              sqlite_where=sa.text(BROADCAST_SENT), postgresql_where=sa.text(BROADCAST_SENT))


def downgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_broadcast_sent')
    with op.batch_alter_table('timeline_events', schema=None) as batch_op:
        batch_op.drop_index('ix_timeline_events_incident_kind')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_linked_tags')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_declared_at')
