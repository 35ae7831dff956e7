"""per-incident Slack channel

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 11:08:53.268407

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slack_channel_id', sa.String(length=100), nullable=True))




def downgrade():

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('slack_channel_id')


