"""Tickets forget who linked them (`linked_by_id`): the link action they point to names its actor, nothing
read the copy, and writing it cost a foreign-key lookup per ticket (0.37 s of a 100,000-ticket link on
PostgreSQL).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 12:45:00.000000

SQLite copies the table to drop a column: the tag index's triggers (0022) go with the old table and are
made again here.
"""
import importlib.util
from pathlib import Path

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def _tag_triggers() -> list[str]:
    """0022's CREATE TRIGGER statements (the FTS table itself survives the copy: it names the table)."""
    spec = importlib.util.spec_from_file_location("keyset_0022", Path(__file__).with_name("0022_keyset.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [s for s in module.SQLITE_TAG_INDEX if s.startswith("CREATE TRIGGER")]


def upgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint('fk_tickets_linked_by_id_users', type_='foreignkey')
        batch_op.drop_column('linked_by_id')
    if op.get_bind().dialect.name == 'sqlite':
        for statement in _tag_triggers():
            op.execute(statement)


def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('linked_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_tickets_linked_by_id_users', 'users', ['linked_by_id'], ['id'])
    if op.get_bind().dialect.name == 'sqlite':
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS tickets_tags_fts_{name}")
        for statement in _tag_triggers():
            op.execute(statement)
    op.execute("UPDATE tickets SET linked_by_id = (SELECT actor_id FROM ticket_link_actions a "
               "WHERE a.id = tickets.link_action_id) WHERE link_action_id IS NOT NULL")
