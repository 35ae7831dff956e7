"""each published incident's effect on its components over time (for the 90-day bars)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 21:42:33.486649

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('status_component_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('component_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['component_id'], ['status_components.id'], name=op.f('fk_status_component_history_component_id_status_components'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_status_component_history_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_component_history'))
    )
    with op.batch_alter_table('status_component_history', schema=None) as batch_op:
        batch_op.create_index('ix_status_component_history_incident', ['incident_id', 'component_id', 'since'], unique=False)



def downgrade():
    with op.batch_alter_table('status_component_history', schema=None) as batch_op:
        batch_op.drop_index('ix_status_component_history_incident')

    op.drop_table('status_component_history')
