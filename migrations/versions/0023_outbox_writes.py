"""Cheaper outbox writes: a broadcast's outbox rows no longer check their send and message by foreign
key (two per-row lookups, 0.7 s of a 100,000-recipient send on PostgreSQL; prepare_send writes them from
the send and messages it has just read or made, and nothing deletes sends or messages), and the provider
id index holds only the rows a provider has answered for.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 12:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint('fk_deliveries_send_id_broadcast_sends', type_='foreignkey')
        batch_op.drop_constraint('fk_deliveries_message_id_broadcast_messages', type_='foreignkey')
        batch_op.drop_index('ix_deliveries_provider_id')
        batch_op.create_index('ix_deliveries_provider_id', ['provider_id'], unique=False,
                              sqlite_where=sa.text('provider_id IS NOT NULL'),
                              postgresql_where=sa.text('provider_id IS NOT NULL'))


def downgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_provider_id')
        batch_op.create_index('ix_deliveries_provider_id', ['provider_id'], unique=False)
        batch_op.create_foreign_key('fk_deliveries_message_id_broadcast_messages', 'broadcast_messages',
                                    ['message_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key('fk_deliveries_send_id_broadcast_sends', 'broadcast_sends',
                                    ['send_id'], ['id'], ondelete='CASCADE')
