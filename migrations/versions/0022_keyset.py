"""Keyset paging of tickets by (created_at, id), and an index for the tag filter

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 01:20:00.000000

PostgreSQL: a GIN index on string_to_array(btrim(tags), ' ') (queries.tag_index asks `@> ARRAY[...]`).
SQLite: an external-content FTS5 table over tickets.tags, one token a tag, kept by three triggers.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

# Each tag is one token: the characters a tag may hold besides letters and digits (policy.TAG_RE).
SQLITE_TAG_INDEX = [
    "CREATE VIRTUAL TABLE ticket_tags_fts USING fts5(tags, content='tickets', content_rowid='id', "
    "detail=none, tokenize=\"unicode61 tokenchars ':._/+-'\")",
    "CREATE TRIGGER tickets_tags_fts_insert AFTER INSERT ON tickets BEGIN "
    "INSERT INTO ticket_tags_fts(rowid, tags) VALUES (new.id, new.tags); END",
    "CREATE TRIGGER tickets_tags_fts_delete AFTER DELETE ON tickets BEGIN "
    "INSERT INTO ticket_tags_fts(ticket_tags_fts, rowid, tags) VALUES ('delete', old.id, old.tags); END",
    "CREATE TRIGGER tickets_tags_fts_update AFTER UPDATE OF tags ON tickets BEGIN "
    "INSERT INTO ticket_tags_fts(ticket_tags_fts, rowid, tags) VALUES ('delete', old.id, old.tags); "
    "INSERT INTO ticket_tags_fts(rowid, tags) VALUES (new.id, new.tags); END",
    "INSERT INTO ticket_tags_fts(ticket_tags_fts) VALUES ('rebuild')",
]


def upgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_created')
        batch_op.create_index('ix_tickets_created', ['created_at', 'id'], unique=False)
        batch_op.drop_index('ix_tickets_incident_created')
        batch_op.create_index('ix_tickets_incident_created', ['incident_id', 'created_at', 'id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE INDEX ix_tickets_tags_gin ON tickets USING gin ((string_to_array(btrim(tags), ' ')))")
    elif op.get_bind().dialect.name == 'sqlite':
        for statement in SQLITE_TAG_INDEX:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP INDEX ix_tickets_tags_gin")
    elif op.get_bind().dialect.name == 'sqlite':
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER tickets_tags_fts_{name}")
        op.execute("DROP TABLE ticket_tags_fts")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_incident_created')
        batch_op.create_index('ix_tickets_incident_created', ['incident_id', 'created_at'], unique=False)
        batch_op.drop_index('ix_tickets_created')
        batch_op.create_index('ix_tickets_created', ['created_at'], unique=False)
