"""Known issues: an incident's workaround (public), symptoms, cause and fix (staff), the tickets that
looked like one on arrival, and broadcasts that include the workaround

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-04 21:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('known_issues',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('workaround', sa.Text(), nullable=False),
    sa.Column('symptoms', sa.Text(), nullable=False),
    sa.Column('cause', sa.Text(), nullable=False),
    sa.Column('fix', sa.Text(), nullable=False),
    sa.Column('tags', sa.String(length=2000), nullable=False),
    sa.Column('services', sa.String(length=1000), nullable=False),
    sa.Column('match_phrases', sa.JSON(), nullable=False),
    sa.Column('flag_tickets', sa.Boolean(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_known_issues_incident_id_incidents'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_known_issues_updated_by_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('incident_id', name=op.f('pk_known_issues'))
    )
    op.create_table('known_issue_matches',
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('matched_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['known_issues.incident_id'],
                            name=op.f('fk_known_issue_matches_incident_id_known_issues'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_known_issue_matches_ticket_id_tickets'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_known_issue_matches'))
    )
    with op.batch_alter_table('known_issue_matches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_known_issue_matches_incident_id'), ['incident_id'], unique=False)
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('include_workaround', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.drop_column('include_workaround')
    with op.batch_alter_table('known_issue_matches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_known_issue_matches_incident_id'))
    op.drop_table('known_issue_matches')
    op.drop_table('known_issues')
