"""Private incidents: incidents.private, and incident_members (who may see a private one), filled
in for the incidents already kept: their declarers, crisis-role holders and paged responders

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 00:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# Each source once per (incident, user), and only people not members yet: the first way in is kept.
BACKFILL = [
    ("declared", "SELECT id AS i, declared_by_id AS u, declared_at AS t FROM incidents WHERE declared_by_id IS NOT NULL"),
    ("role", "SELECT incident_id AS i, user_id AS u, MIN(assigned_at) AS t FROM role_assignments "
             "GROUP BY incident_id, user_id"),
    ("paged", "SELECT incident_id AS i, user_id AS u, MIN(created_at) AS t FROM deliveries "
              "WHERE purpose = 'page' AND incident_id IS NOT NULL AND user_id IS NOT NULL GROUP BY incident_id, user_id"),
]

INSERT = ("INSERT INTO incident_members (incident_id, user_id, how, added_at) SELECT s.i, s.u, '{how}', s.t "
          "FROM ({source}) AS s "
          "WHERE NOT EXISTS (SELECT 1 FROM incident_members m WHERE m.incident_id = s.i AND m.user_id = s.u)")


def upgrade():
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('private', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table('incident_members',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('how', sa.String(length=10), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('incident_id', 'user_id')
    )
    with op.batch_alter_table('incident_members', schema=None) as batch_op:
        batch_op.create_index('ix_incident_members_user', ['user_id', 'incident_id'], unique=False)
    for how, source in BACKFILL:
        op.execute(sa.text(INSERT.format(how=how, source=source)))


def downgrade():
    with op.batch_alter_table('incident_members', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_members_user')
    op.drop_table('incident_members')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('private')
