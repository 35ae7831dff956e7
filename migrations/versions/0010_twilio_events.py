"""Twilio requests already handled (MessageSid, CallSid, receipt status), so a replay changes nothing;
status sign-ups indexed by channel and time, for the SMS per-day limits

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 17:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('twilio_events',
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_twilio_events'))
    )
    with op.batch_alter_table('twilio_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_twilio_events_created_at'), ['created_at'], unique=False)
    with op.batch_alter_table('status_subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_status_subscriptions_channel_at', ['channel', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('status_subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_status_subscriptions_channel_at')

    with op.batch_alter_table('twilio_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_twilio_events_created_at'))

    op.drop_table('twilio_events')
