"""Any BCP 47 language: locale columns wide enough for any tag (RFC 5646 asks for 35 characters);
a status update records whether its subscribers were notified

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 00:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

LOCALE_COLUMNS = ("customers", "status_subscriptions", "broadcast_messages", "message_templates")


def upgrade():
    for table in LOCALE_COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('locale', existing_type=sa.String(length=10), type_=sa.String(length=35),
                                  existing_nullable=False)
    with op.batch_alter_table('incident_updates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_subscribers', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('incident_updates', schema=None) as batch_op:
        batch_op.drop_column('notify_subscribers')
    for table in LOCALE_COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('locale', existing_type=sa.String(length=35), type_=sa.String(length=10),
                                  existing_nullable=False)
