"""Broadcast messages remember the channel they last fell back from (reports count it; a retry on
the new channel used to overwrite the mark kept in `error`)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 23:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fell_back_from', sa.String(length=10), nullable=True))
    # Messages moved before this revision carry the mark in their error: `<channel>: <why>; trying <next>`.
    deliveries = sa.table('deliveries', sa.column('error', sa.String), sa.column('fell_back_from', sa.String),
                          sa.column('purpose', sa.String))
    for channel in ('slack', 'sms', 'email', 'ticket'):
        op.execute(deliveries.update()
                   .where(deliveries.c.purpose == 'broadcast', deliveries.c.error.like(f'{channel}: %; trying %'))
                   .values(fell_back_from=channel))


def downgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('fell_back_from')
