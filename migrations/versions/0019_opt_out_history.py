"""Customers' opt-out history: each opt-out taken or lifted, how and by whom

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 00:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('customer_opt_out_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('opted_out', sa.Boolean(), nullable=False),
    sa.Column('how', sa.String(length=20), nullable=False),
    sa.Column('by', sa.String(length=254), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('customer_opt_out_changes', schema=None) as batch_op:
        batch_op.create_index('ix_customer_opt_out_changes_customer', ['customer_id', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('customer_opt_out_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_opt_out_changes_customer')
    op.drop_table('customer_opt_out_changes')
